"""How fast and how lean a file import is: a generated orders CSV through `liveloop import`'s
own function, on a fresh SQLite database in a subprocess.

    .venv/bin/python bench/import_rows.py                 # 1,000,000 rows
    .venv/bin/python bench/import_rows.py --rows 20000    # smoke run

The subprocess reports the import's seconds (the checking pass and the writing pass together),
rows/s, and its peak resident memory (ru_maxrss) before and after the import: the target is
that a 1,000,000-row file stays under 300 MB.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import EngineFailed, machine, run_engine, write_report  # noqa: E402

PROMOTERS = 100
LIMIT_MB = 300


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=_positive, default=1_000_000, help="rows in the file (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database and the file")
    parser.add_argument("--engine-run", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--announced", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine_run:
        return engine_run(args)

    folder = Path(tempfile.mkdtemp(prefix="liveloop-import-bench-"))
    try:
        announced = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)
        path = folder / "orders.csv"
        started = time.perf_counter()
        write_orders(path, args.rows, announced, args.seed)
        print(f"== wrote {args.rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - started:.1f} s; importing on SQLite …", flush=True)
        # Baseline in the same run: Python's csv module reading the same file, nothing else.
        started = time.perf_counter()
        with open(path, newline="", encoding="utf-8-sig") as handle:
            read_rows = sum(1 for _ in csv.reader(handle)) - 1
        read_seconds = time.perf_counter() - started
        try:
            figures = run_engine("sqlite", Path(__file__).resolve(),
                                 ["--file", str(path), "--announced", announced.isoformat(),
                                  "--rows", str(args.rows)],
                                 keep=args.keep, prefix="liveloop-import-bench")
        except EngineFailed as error:
            print(f"!! {error}", file=sys.stderr)
            return 1
    finally:
        if args.keep:
            print(f"   kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    figures.update(read_seconds=round(read_seconds, 2), read_rows=read_rows)
    report = {"started": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "rows": args.rows,
              "machine": machine(), "sqlite": figures}
    print(render(figures))
    write_report("import", report)
    return 0 if figures["peak_rss_mb"] < LIMIT_MB else 1


def write_orders(path: Path, rows: int, announced: datetime, seed: int) -> None:
    """An export as the shop gives it: Chinese headers, yuan with decimals, local times,
    a sharer on a third of the orders, buyers who come back."""
    rng = random.Random(seed)
    codes = promoter_codes()
    local = announced.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    viewers = max(1, rows * 3 // 10)
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["订单号", "支付时间", "实付金额(元)", "买家openid", "推广员编号", "商品名称"])
        for n in range(rows):
            at = local + timedelta(seconds=n * 10_800 // rows)
            promoter = codes[rng.randrange(PROMOTERS)] if rng.random() < 0.33 else ""
            writer.writerow([f"37046123{n:011d}", at.strftime("%Y-%m-%d %H:%M:%S"),
                             f"{rng.randrange(990, 129_900) / 100:.2f}", f"o-buyer-{rng.randrange(viewers):07d}",
                             promoter, "山茶花精华 30ml"])


def promoter_codes() -> list[str]:
    return [f"PB{n:04d}" for n in range(PROMOTERS)]


def render(figures: dict) -> str:
    return (f"\n{'rows':>10} {'seconds':>9} {'rows/s':>9} {'accepted':>10} {'peak RSS MB':>12} "
            f"{'before import':>14}\n"
            f"{figures['rows']:>10,} {figures['seconds']:>9} {figures['rate']:>9,.0f} "
            f"{figures['accepted']:>10,} {figures['peak_rss_mb']:>12} {figures['rss_before_mb']:>14}")


def engine_run(args) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from liveloop.importers.run import import_file
    from liveloop.lives.models import Account
    from liveloop.actions.lives import create_live
    from liveloop.orgs.services import create_org
    from liveloop.actions.promoters import NewPromoter, enrol

    call_command("migrate", interactive=False, verbosity=0)
    org, _ = create_org("导入基准品牌")
    account = Account.objects.create(org=org, name="基准官方号")
    live = create_live(org, account=account, title="导入基准", announced_at=datetime.fromisoformat(args.announced))
    enrol(live.programme, [NewPromoter(name=f"推广员{code}", code=code) for code in promoter_codes()])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = import_file(org, args.file, "orders", live=live.public_id, progress=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    if report.refused or report.accepted != args.rows:
        print(f"!! accepted {report.accepted} of {args.rows}; first problems: {report.problems[:3]}",
              file=sys.stderr)
        return 1
    figures = {"rows": report.rows, "accepted": report.accepted, "seconds": round(seconds, 1),
               "rate": round(report.rows / seconds, 1), "peak_rss_mb": round(peak / 1024, 1),
               "rss_before_mb": round(before / 1024, 1)}
    Path(args.out).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
