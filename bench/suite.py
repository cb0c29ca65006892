"""Every benchmark in sequence, one JSON file of named figures, one table with same-run baselines.

    make bench                                  # the default suite (sizes in SUITES below)
    .venv/bin/python bench/suite.py --full      # reads at 1M and 5M on both engines, the full demo
    .venv/bin/python bench/suite.py --quick     # every benchmark at smoke sizes (a few minutes)
    .venv/bin/python bench/suite.py --only reads,burst

Each benchmark is run through its own `main()` (so each writes its own detailed file in
bench/results/ as well); the suite then reads those files and names the figures:
`<benchmark>.<engine>.<what>`, each with its value, the baseline measured in the same run,
their ratio, and the goal where the issue sets one. See docs/performance.md for what each
figure measures.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import RESULTS, machine  # noqa: E402

ORDER = ("ingest", "burst", "reads", "settle", "import", "pages")
MODULES = {"import": "import_rows"}
# argv per benchmark: the default run stays under 20 minutes on the 2-core test machine.
SUITES = {
    # The rebuild that builds a 1M-event log's derived tables takes ~6 minutes per engine here,
    # so the default reads run on SQLite only; --full adds PostgreSQL and 5M.
    "default": {
        "ingest": ["--events", "20000"],
        "burst": [],
        "reads": ["--sizes", "1000000", "--engines", "sqlite"],
        "settle": ["--orders", "1000000"],
        # The 1M rows: about 2 minutes on the idle test machine since the import fix of
        # issue #7 (14 minutes on a loaded machine before it, when the default ran 250,000).
        "import": ["--rows", "1000000"],
        "pages": ["--engines", "sqlite", "--scale", "0.25"],
    },
    "full": {
        "ingest": ["--events", "100000"],
        "burst": [],
        "reads": ["--sizes", "1000000,5000000"],
        "settle": ["--orders", "1000000"],
        "import": ["--rows", "1000000"],
        "pages": ["--engines", "sqlite,postgresql"],
    },
    "quick": {
        "ingest": ["--quick"],
        "burst": ["--quick"],
        "reads": ["--quick"],
        "settle": ["--orders", "20000"],
        "import": ["--rows", "20000"],
        "pages": ["--quick"],
    },
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="reads at 1M and 5M on both engines, ingest at 100k, the full demo's pages on both")
    size.add_argument("--quick", action="store_true", help="every benchmark at smoke sizes")
    parser.add_argument("--only", help=f"a comma-separated subset of {','.join(ORDER)}")
    args = parser.parse_args(argv)
    suite = "full" if args.full else "quick" if args.quick else "default"
    chosen = [name for name in ORDER if not args.only or name in args.only.split(",")]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = {"started": stamp, "suite": suite, "machine": machine(), "runs": {}, "figures": []}
    for name in chosen:
        argv_ = SUITES[suite][name]
        print(f"\n######## {name} {' '.join(argv_)}", flush=True)
        module = importlib.import_module(f"bench.{MODULES.get(name, name)}")
        began, started = time.time(), time.perf_counter()
        try:
            code = module.main(argv_)
        except SystemExit as exit_:  # a benchmark that fails says why and exits; the suite goes on
            code = exit_.code if isinstance(exit_.code, int) else 1
        seconds = time.perf_counter() - started
        path = _latest(MODULES.get(name, name).split("_")[0], began)
        detail = json.loads(path.read_text()) if path else None
        report["runs"][name] = {"argv": argv_, "exit": code, "seconds": round(seconds, 1),
                                "file": str(path.relative_to(ROOT)) if path else None}
        if detail is not None:
            report["figures"] += FIGURES[name](detail)
    report["seconds"] = round(sum(r["seconds"] for r in report["runs"].values()), 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"suite-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print("\n" + render(report))
    print(f"\nfigures written to {out.relative_to(ROOT)}")
    return 0 if all(r["exit"] == 0 for r in report["runs"].values()) else 1


def _latest(prefix: str, since: float) -> Path | None:
    files = [p for p in RESULTS.glob(f"{prefix}-*.json") if p.stat().st_mtime >= since - 1]
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


def figure(name: str, value, unit: str, baseline_name: str | None = None, baseline=None,
           goal: str | None = None, met: bool | None = None, higher_is_better: bool = True) -> dict:
    """One named figure. ratio = value / baseline (for times: how many times the baseline's time)."""
    ratio = round(value / baseline, 3) if baseline else None
    return {"name": name, "value": value, "unit": unit, "baseline": baseline_name, "baseline_value": baseline,
            "ratio": ratio, "goal": goal, "met": met, "higher_is_better": higher_is_better}


def _ingest(d: dict) -> list[dict]:
    out = []
    for engine, f in d["engines"].items():
        if "paths" not in f:
            continue
        raw = f["paths"]["raw"]["rate"]
        for key, path in f["paths"].items():
            if key == "raw":
                continue
            goal = "≥ 0.5 × engine" if key in ("ingest", "http") else None
            met = path["rate"] / raw >= 0.5 if goal else None
            out.append(figure(f"ingest.{engine}.{key}", path["rate"], "events/s",
                              "engine bulk insert, UNIQUE only", raw, goal, met))
            if path.get("p99_ms") is not None and key == "http":
                out.append(figure(f"ingest.{engine}.{key}.p99", path["p99_ms"], "ms"))
        # Into a live paying commission, over plain ingest: run one after the other, and in turn.
        for money, plain in (("ingest_money", "ingest"), ("ingest_money_turns", "ingest_turns")):
            if money in f["paths"]:
                rate, base = f["paths"][money]["rate"], f["paths"][plain]["rate"]
                out.append(figure(f"ingest.{engine}.{money}.x_plain", rate, "events/s",
                                  f["paths"][plain]["label"], base, "≥ 0.8 × plain", rate / base >= 0.8))
    return out


def _burst(d: dict) -> list[dict]:
    out = []
    for engine, f in d["engines"].items():
        if "error" in f:
            continue
        window = f["window_seconds"]
        out += [
            figure(f"burst.{engine}.seconds", f["seconds"], "s", "the arrival window", window,
                   f"≤ {window:g} s, none lost or refused",
                   f["ok"] and f["seconds"] <= window * 1.05, higher_is_better=False),
            figure(f"burst.{engine}.rate", f["rate"], "events/s", "offered rate", f["offered_rate"]),
            figure(f"burst.{engine}.lost", f["sent"] - f["logged"], "events", goal="0",
                   met=f["sent"] == f["logged"], higher_is_better=False),
            figure(f"burst.{engine}.refused", f["refused_requests"] + f["rejected_events"], "requests+events",
                   goal="0", met=not (f["refused_requests"] or f["rejected_events"]), higher_is_better=False),
            figure(f"burst.{engine}.post_p50", f["p50_ms"], "ms", higher_is_better=False),
            figure(f"burst.{engine}.post_p99", f["p99_ms"], "ms", higher_is_better=False),
            figure(f"burst.{engine}.post_max", f["max_ms"], "ms", higher_is_better=False),
            figure(f"burst.{engine}.room_poll_p50", f["poll"]["p50_ms"], "ms", higher_is_better=False),
            figure(f"burst.{engine}.room_poll_p99", f["poll"]["p99_ms"], "ms", goal="answering (no errors)",
                   met=f["poll"]["errors"] == 0, higher_is_better=False),
        ]
    return out


READ_NAMES = {"per-promoter table": "promoter_table", "live summary": "live_summary",
              "real-time data": "room", "GET room/data/": "room_data_request", "GET /api/v1": "api_summary"}


def _reads(d: dict) -> list[dict]:
    out = []
    for engine, sizes in d["engines"].items():
        for size, f in sizes.items():
            if "error" in f:
                continue
            tag = f"{int(size) // 1_000_000}M" if int(size) >= 1_000_000 else f"{int(size) // 1000}k"
            duck = f["duckdb"]["median_ms"]
            for row in f["reads"]:
                key = next(v for k, v in READ_NAMES.items() if row["label"].startswith(k))
                out.append(figure(f"reads.{engine}.{tag}.{key}", row["median_ms"], "ms median",
                                  "DuckDB GROUP BY promoter, median ms", duck, "p95 < 10 ms",
                                  row["p95_ms"] < 10, higher_is_better=False))
            r = f["rebuild"]
            out.append(figure(f"rebuild.{engine}.{tag}.rate", r["rate"], "events/s",
                              "engine reading the log in seq order, events/s", round(r["events"] / r["read_seconds"], 1),
                              "≥ 100,000 events/s", r["rate"] >= 100_000))
            out.append(figure(f"rebuild.{engine}.{tag}.peak_rss", r["peak_rss_mb"], "MB", higher_is_better=False))
    return out


def _settle(d: dict) -> list[dict]:
    out = []
    for engine, f in d["engines"].items():
        if "error" in f:
            continue
        out.append(figure(f"settle.{engine}.seconds", f["settle_seconds"], "s",
                          "engine reading the same orders, s", f["read_seconds"], higher_is_better=False))
        out.append(figure(f"settle.{engine}.peak_rss", f["peak_rss_mb"], "MB", higher_is_better=False))
    return out


def _import(d: dict) -> list[dict]:
    f = d["sqlite"]
    out = [figure("import.sqlite.seconds", f["seconds"], "s", "csv.reader over the same file, s",
                  f.get("read_seconds"), higher_is_better=False),
           figure("import.sqlite.rate", f["rate"], "rows/s"),
           figure("import.sqlite.peak_rss", f["peak_rss_mb"], "MB", goal="< 300 MB",
                  met=f["peak_rss_mb"] < 300, higher_is_better=False)]
    return out


def _pages(d: dict) -> list[dict]:
    bars = d.get("bars_ms", {})
    out = []
    for engine, f in d["engines"].items():
        for row in f.get("rows", []):
            bar = bars.get(row["label"], d.get("bar_ms") if row["page"] else None)
            out.append(figure(f"pages.{engine}.{row['label'].strip()}", row["p95_ms"], "ms p95",
                              goal=f"< {bar} ms" if bar else None,
                              met=row["p95_ms"] < bar if bar else None, higher_is_better=False))
    return out


FIGURES = {"ingest": _ingest, "burst": _burst, "reads": _reads, "settle": _settle, "import": _import,
           "pages": _pages}


def render(report: dict) -> str:
    header = ("figure", "value", "unit", "baseline (same run)", "ratio", "goal")
    rows = [header]
    for f in report["figures"]:
        goal = "" if f["goal"] is None else f"{f['goal']}: {'met' if f['met'] else 'NOT met'}"
        baseline = "" if f["baseline"] is None else f"{_num(f['baseline_value'])} ({f['baseline']})"
        rows.append((f["name"], _num(f["value"]), f["unit"], baseline,
                     "" if f["ratio"] is None else f"{f['ratio']:.2f}", goal))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(str(c).ljust(w) if i != 1 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append("ratio = value / baseline. Runs: " + ", ".join(
        f"{name} {r['seconds']:.0f} s{'' if r['exit'] == 0 else ' (exit ' + str(r['exit']) + ')'}"
        for name, r in report["runs"].items()) + f"; total {report['seconds'] / 60:.1f} min.")
    return "\n".join(out)


def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


if __name__ == "__main__":
    sys.exit(main())
