"""Do the dashboards' reads stay flat as the log grows? And how fast does `liveloop rebuild` replay it?

    .venv/bin/python bench/reads.py                                    # 1M events, SQLite and PostgreSQL
    .venv/bin/python bench/reads.py --sizes 1000000,5000000
    .venv/bin/python bench/reads.py --quick --engines sqlite            # 20,000 events, a smoke run

For each size and engine, on a fresh database (bench/harness.py), in its own process:

1. **The log.** One live with 1,000 promoters and N events of bench/data.py's LiveStream (the
   demo's mix: reservations in the days before, then entries, orders, refunds, leaves, samples;
   the live went on air three hours before the run, so the room's last hour is full). The first
   `--ingested` events (20,000 by default) go through `liveloop.events.ingest.ingest()` in
   batches of 500, exactly as the API stores them; the rest are written straight into the log
   (SQLite: executemany in transactions of 10,000; PostgreSQL: binary COPY), which leaves the
   derived tables behind the log.
2. **Rebuild.** `liveloop rebuild --org <slug>` in a subprocess: replay every event through the
   same rules as ingest and replace the derived tables. After it, the derived tables are what
   ingesting all N events would have left (that is what `rebuild --check` verifies; `--check`
   runs it too). Timed: its wall time, events/s, and its peak resident memory (the child's
   ru_maxrss). Baseline in the same run: the engine reading the same log rows, ordered by seq,
   with nothing done to them.
3. **Reads**, server time, median and p95 of `--requests` calls after 3 warm-up calls, in the
   benchmark's process: the query functions the pages call (`promoter_rows`, all 1,001 rows;
   `live_summary`; `analytics.realtime.room`) and two requests through Django's test client
   (the whole handler, middleware and template, no socket): the live room's data request
   `GET /lives/<id>/room/data/` signed in as the owner, and `GET /api/v1/lives/<id>/summary`.
4. **Baseline**: DuckDB (in-process) aggregating the same live's log rows by promoter —
   reservations, entries, orders, GMV, refunds per promoter — exported from the database into
   a DuckDB table before the clock starts; the median of the same number of runs.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import LOG_COLUMNS, LiveStream, log_rows, promoter_codes  # noqa: E402
from bench.harness import machine, run_each, run_engine, write_report  # noqa: E402

ENGINES = ("sqlite", "postgresql")
GOAL_MS = 10
REBUILD_GOAL = 100_000  # events/s
WARMUP = 3
CHUNK = 10_000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="log sizes, comma-separated (default 1000000)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--promoters", type=int, default=1000)
    parser.add_argument("--ingested", type=int, default=20_000,
                        help="events that go through ingest() before the rest is written straight to the log")
    parser.add_argument("--requests", type=int, default=30, help="timed calls per read (default 30)")
    parser.add_argument("--check", action="store_true", help="also run `liveloop rebuild --check` (as long again)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20,000 events, 100 promoters, 10 calls")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--engine-run", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.promoters, args.requests, args.ingested = "20000", 100, 10, 5_000
    if args.engine_run:
        return engine_run(args)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    report = {"started": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "sizes": sizes,
              "promoters": args.promoters, "ingested": args.ingested, "requests": args.requests,
              "goal_ms": GOAL_MS, "rebuild_goal": REBUILD_GOAL, "machine": machine(), "engines": {}}
    failed = False
    for size in sizes:
        arguments = ["--size", str(size), "--promoters", str(args.promoters), "--ingested", str(args.ingested),
                     "--requests", str(args.requests), "--seed", str(args.seed)] + (["--check"] if args.check else [])
        runs: dict = {"engines": {}}
        failed |= run_each(engines, runs, f"{size:,} events: build, rebuild, reads",
                           lambda engine: run_engine(engine, Path(__file__).resolve(), arguments,
                                                     keep=args.keep, prefix="liveloop-reads-bench"))
        for engine, figures in runs["engines"].items():
            report["engines"].setdefault(engine, {})[str(size)] = figures
    print()
    print(render(report))
    write_report("reads", report)
    return 1 if failed else 0


def render(report: dict) -> str:
    out = [f"{'engine':<11} {'events':>10}  {'read':<44} {'median ms':>9} {'p95 ms':>7} {'× DuckDB':>8}  goal"]
    for engine, sizes in report["engines"].items():
        for size, f in sizes.items():
            if "error" in f:
                out.append(f"{engine:<11} {int(size):>10,}  FAILED: {f['error']}")
                continue
            duck = f["duckdb"]["median_ms"]
            for row in f["reads"]:
                met = "met" if row["p95_ms"] < GOAL_MS else "NOT met"
                ratio = f"{row['median_ms'] / duck:>8.2f}" if duck else f"{'':>8}"
                out.append(f"{engine:<11} {int(size):>10,}  {row['label']:<44} {row['median_ms']:>9.2f} "
                           f"{row['p95_ms']:>7.2f} {ratio}  {met}")
            if duck:
                out.append(f"{engine:<11} {int(size):>10,}  {'baseline: DuckDB GROUP BY promoter':<44} "
                           f"{duck:>9.2f} {f['duckdb']['p95_ms']:>7.2f} {1:>8.2f}")
            else:
                out.append(f"{engine:<11} {int(size):>10,}  baseline missing: {f['duckdb']['error']}")
            r = f["rebuild"]
            out.append(f"{engine:<11} {int(size):>10,}  rebuild {r['seconds']:.1f} s = {r['rate']:,.0f} ev/s "
                       f"({'met' if r['rate'] >= REBUILD_GOAL else 'NOT met'}: ≥ {REBUILD_GOAL:,}), peak RSS "
                       f"{r['peak_rss_mb']:.0f} MB; reading the log alone {r['read_seconds']:.1f} s "
                       f"(rebuild {r['seconds'] / r['read_seconds']:.1f}× that)")
            b = f["build"]
            out.append(f"{engine:<11} {int(size):>10,}  built: {b['ingested']:,} through ingest() in "
                       f"{b['ingest_seconds']:.1f} s, {b['written']:,} written to the log in {b['write_seconds']:.1f} s")
    out.append("")
    out.append(f"Reads: server time in-process (query functions, or Django's test client where a request is "
               f"named); goal: p95 under {GOAL_MS} ms. × DuckDB: median over DuckDB's median.")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------

def engine_run(args) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from bench.ingest import _live, _tenant
    from liveloop.events.models import Event

    call_command("migrate", interactive=False, verbosity=0)
    figures: dict = {"engine": args.engine_run, "size": args.size}
    # The live went on air three hours ago and its stream ends now: the room's window is full.
    announced = (datetime.now(timezone.utc) - timedelta(hours=3, minutes=1)).replace(microsecond=0)
    codes = promoter_codes(args.promoters, args.seed)
    org, key = _tenant()
    live, promoter_ids = _live(org, "读取基准", codes)
    type(live).objects.filter(pk=live.pk).update(announced_at=announced)
    live.refresh_from_db()
    stream = LiveStream(live.public_id, codes, args.seed, announced_at=announced).stream(args.size, 500)
    figures["build"] = _build(org, live, promoter_ids, stream, args)
    stored = Event.objects.for_org(org).count()
    if stored != args.size:
        raise SystemExit(f"the log holds {stored} events, expected {args.size}")
    if connection.vendor == "postgresql":
        _analyze(connection)
    connections.close_all()

    figures["rebuild"] = _rebuild(org, args)
    if connection.vendor == "postgresql":
        _analyze(connection)
    figures["reads"] = _reads(org, live, key, args.requests)
    figures["duckdb"] = _duckdb(org, live, args.requests)
    Path(args.out).write_text(json.dumps(figures))
    return 0


def _analyze(connection) -> None:
    # This machine's PostgreSQL runs without autovacuum: a bulk-loaded table needs its statistics,
    # as autovacuum would have gathered them in production.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _build(org, live, promoter_ids: dict, stream, args) -> dict:
    from django.db import connection, transaction

    from liveloop.events.ingest import ingest

    ingested = written = 0
    ingest_seconds = write_seconds = 0.0
    pending: list[list[dict]] = []
    sqlite = connection.vendor == "sqlite"
    columns = ", ".join(f'"{c}"' for c in LOG_COLUMNS)

    def write(batches):
        nonlocal written, write_seconds
        rows = log_rows(batches, org.pk, live.pk, promoter_ids, sqlite=sqlite)
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            if sqlite:
                cursor.executemany(f"INSERT INTO events_event ({columns}) VALUES "
                                   f"({', '.join(['%s'] * len(LOG_COLUMNS))})", rows)
            else:
                from bench.ingest import PG_TYPES

                with cursor.cursor.copy(f"COPY events_event ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(PG_TYPES)
                    for row in rows:
                        copy.write_row(row)
        write_seconds += time.perf_counter() - started
        written += len(rows)

    for batch in stream:
        if ingested < args.ingested:
            started = time.perf_counter()
            result = ingest(org, batch, source="bench")
            ingest_seconds += time.perf_counter() - started
            if result.accepted != len(batch):
                raise SystemExit(f"ingest() refused part of a clean batch: {result.rejected[:3]}")
            ingested += result.accepted
            continue
        pending.append(batch)
        if sum(map(len, pending)) >= CHUNK:
            write(pending)
            pending = []
    if pending:
        write(pending)
    return {"ingested": ingested, "ingest_seconds": round(ingest_seconds, 2), "written": written,
            "write_seconds": round(write_seconds, 2),
            "method": "first events through ingest(), the rest written to the log, then `liveloop rebuild`"}


def _rebuild(org, args) -> dict:
    """`liveloop rebuild` as an operator runs it, in a child process: its own peak memory."""
    from django.db import connection

    from liveloop.events.models import Event

    command = [str(Path(sys.executable).parent / "liveloop"), "rebuild", "--org", org.slug]
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"liveloop rebuild exited with {finished.returncode}:\n{finished.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures = {"events": args.size, "seconds": round(seconds, 2), "rate": round(args.size / seconds, 1),
               "peak_rss_mb": round(peak, 1), "output": finished.stdout.strip()[-300:]}
    # Baseline: the engine handing over the same rows in the same order, nothing done to them.
    rows = (Event.objects.for_org(org).order_by("seq")
            .values_list("seq", "type", "live_id", "viewer", "promoter_id", "order", "amount",
                         "count", "at", "attrs", "touchpoint", "person"))
    started = time.perf_counter()
    count = sum(1 for _ in rows.iterator(chunk_size=5000))
    figures["read_seconds"] = round(time.perf_counter() - started, 2)
    assert count == args.size
    connection.close()
    if args.check:
        started = time.perf_counter()
        checked = subprocess.run(command + ["--check"], cwd=ROOT, capture_output=True, text=True)
        figures["check_seconds"] = round(time.perf_counter() - started, 2)
        figures["check_ok"] = checked.returncode == 0
        if checked.returncode != 0:
            figures["check_output"] = checked.stdout[-2000:]
    return figures


def _time(label: str, call, requests: int, how: str) -> dict:
    for _ in range(WARMUP):
        call()
    latencies = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    p95 = latencies[max(0, -(-95 * len(latencies) // 100) - 1)]
    return {"label": label, "how": how, "requests": requests,
            "median_ms": round(statistics.median(latencies) * 1000, 2), "p95_ms": round(p95 * 1000, 2),
            "max_ms": round(latencies[-1] * 1000, 2)}


def _reads(org, live, key: str, requests: int) -> list[dict]:
    from zoneinfo import ZoneInfo

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone as dj_timezone

    from liveloop.analytics.queries import live_summary, promoter_rows
    from liveloop.analytics.realtime import room
    from liveloop.orgs.models import Member
    from liveloop.orgs.services import add_member

    live = type(live).objects.select_related("org").get(pk=live.pk)
    rows = promoter_rows(live)
    if len(rows) < 2 or rows[0]["promoter"] is not None:
        raise SystemExit(f"promoter_rows gave {len(rows)} rows")
    owner = Client()
    owner.force_login(add_member(org, "reads-owner", Member.OWNER).user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def get(client, url, **headers):
        def call():
            response = client.get(url, **headers)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        return call

    zone = ZoneInfo(org.timezone)

    def in_zone(call):
        def wrapped():
            with dj_timezone.override(zone):
                return call()
        return wrapped

    return [
        _time(f"per-promoter table: promoter_rows() ({len(rows):,} rows)", lambda: promoter_rows(live), requests,
              "function"),
        _time("live summary: live_summary()", lambda: live_summary(live), requests, "function"),
        _time("real-time data: realtime.room()", in_zone(lambda: room(live)), requests, "function"),
        _time("GET room/data/ (test client, owner)",
              get(owner, reverse("web:room_data", args=[live.public_id]), HTTP_HX_REQUEST="true"),
              requests, "test client"),
        _time("GET /api/v1/lives/<id>/summary (test client)",
              get(api, f"/api/v1/lives/{live.public_id}/summary"), requests, "test client"),
    ]


def _duckdb(org, live, requests: int) -> dict:
    """DuckDB aggregating the live's log rows by promoter: the columnar engine's scan, the
    baseline the issue names. The rows are exported through a CSV file (no pandas/arrow here)
    before the clock starts."""
    try:
        import duckdb
    except ImportError:  # a dev dependency (requirements-dev.lock); say so rather than fail the run
        return {"error": "duckdb is not installed (pip install duckdb)", "median_ms": None, "p95_ms": None}

    from liveloop.events.models import Event

    folder = Path(tempfile.mkdtemp(dir=os.environ.get("LIVELOOP_DATA_DIR")))
    path = folder / "log.csv"
    started = time.perf_counter()
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["promoter_id", "type", "viewer", "amount"])
        rows = (Event.objects.for_org(org).filter(live=live)
                .values_list("promoter_id", "type", "viewer", "amount"))
        out.writerows(rows.iterator(chunk_size=10_000))
    db = duckdb.connect()
    db.execute(f"CREATE TABLE log AS SELECT * FROM read_csv('{path}', header=true, "
               "columns={'promoter_id': 'BIGINT', 'type': 'VARCHAR', 'viewer': 'VARCHAR', 'amount': 'BIGINT'})")
    export = time.perf_counter() - started
    count = db.execute("SELECT count(*) FROM log").fetchone()[0]
    query = """SELECT promoter_id,
                      count(*) FILTER (WHERE type = 'reservation') AS reservations,
                      count(*) FILTER (WHERE type = 'room_enter') AS entries,
                      count(*) FILTER (WHERE type = 'order_paid') AS orders,
                      coalesce(sum(amount) FILTER (WHERE type = 'order_paid'), 0) AS gmv,
                      coalesce(sum(amount) FILTER (WHERE type = 'order_refund'), 0) AS refunded
               FROM log GROUP BY promoter_id"""
    figures = _time("DuckDB GROUP BY promoter", lambda: db.execute(query).fetchall(), requests, "duckdb")
    figures.update({"rows": count, "groups": len(db.execute(query).fetchall()), "export_seconds": round(export, 2),
                    "duckdb": duckdb.__version__, "threads": db.execute("SELECT current_setting('threads')").fetchone()[0]})
    db.close()
    path.unlink()
    folder.rmdir()
    return figures


if __name__ == "__main__":
    sys.exit(main())
