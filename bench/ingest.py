"""How fast events go in: through the HTTP API, through `ingest()`, and the engine's own bulk insert.

    .venv/bin/python bench/ingest.py                      # 100,000 events, SQLite and PostgreSQL
    .venv/bin/python bench/ingest.py --quick --engines sqlite

Each engine runs in its own subprocess with LIVELOOP_DATABASE_URL set, because settings read it
at import: every engine gets a clean Django and a fresh database. Absolute rates drift ±15%
between runs on a shared machine; the ratio to the engine's own bulk insert, measured on the
same rows in the same run, is the figure to compare. See bench/README.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import DEFAULT_ANNOUNCED, LOG_COLUMNS, LiveStream, log_rows, promoter_codes  # noqa: E402
from bench.harness import RESULTS, machine, run_each, run_engine, write_report  # noqa: E402

ENGINES = ("sqlite", "postgresql")
DEMO_PORT = 8000
BENCH_PLAN = "基准方案"  # the paying lives' plan: the demo's rules, one override level


# ---------------------------------------------------------------------------------------------
# The parent: prepares one database per engine, runs the engine's subprocess, prints the table.

def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=_positive, default=100_000, help="events per path (default 100,000)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="sqlite,postgresql")
    parser.add_argument("--clients", type=_positive, default=4, help="concurrent HTTP clients")
    parser.add_argument("--batch", type=_positive, default=500,
                        help="events per call and per request (the API takes at most 1,000)")
    parser.add_argument("--promoters", type=_positive, default=1000, help="promoters in each live's programme")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--no-analyze", action="store_true",
                        help="PostgreSQL without autovacuum: do not stand in for its ANALYZE")
    parser.add_argument("--profile", action="store_true",
                        help="afterwards, profile one more ingest() pass and save the report")
    parser.add_argument("--keep", action="store_true", help="keep the databases for inspection")
    parser.add_argument("--engine-run", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.promoters = min(args.events, 5_000), min(args.promoters, 100)
    if args.engine_run:
        return engine_run(args)

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = {"started": stamp, "events": args.events, "batch": args.batch, "clients": args.clients,
              "promoters": args.promoters, "seed": args.seed, "machine": machine(), "engines": {}}
    failed = run_each(engines, report, f"{args.events:,} events per path …",
                      lambda engine: _run_engine(engine, args, stamp))
    print()
    print(render(report))
    write_report("ingest", report)
    return 1 if failed else 0


def _run_engine(engine: str, args, stamp: str) -> dict:
    arguments = ["--events", str(args.events), "--clients", str(args.clients), "--batch", str(args.batch),
                 "--promoters", str(args.promoters), "--seed", str(args.seed)]
    if args.profile:
        arguments += ["--profile"]
    if args.no_analyze:
        arguments += ["--no-analyze"]
    figures = run_engine(engine, Path(__file__).resolve(), arguments, keep=args.keep,
                         prefix="liveloop-bench")
    if figures.get("profile"):
        RESULTS.mkdir(parents=True, exist_ok=True)
        profile = RESULTS / f"ingest-profile-{engine}-{stamp}.txt"
        profile.write_text(figures.pop("profile"))
        figures["profile_file"] = str(profile.relative_to(ROOT))
    return figures


def render(report: dict) -> str:
    header = ("engine", "path", "events", "seconds", "events/s", "× engine", "p50 ms", "p99 ms")
    lines = [header]
    for engine, figures in report["engines"].items():
        if "error" in figures:
            lines.append((engine, "FAILED: " + figures["error"], "", "", "", "", "", ""))
            continue
        base = figures["paths"]["raw"]["rate"]
        for path in figures["paths"].values():
            lines.append((engine, path["label"], f"{path['events']:,}", f"{path['seconds']:.2f}",
                          f"{path['rate']:,.0f}", f"{path['rate'] / base:.2f}",
                          _ms(path.get("p50_ms")), _ms(path.get("p99_ms"))))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    out = []
    for number, row in enumerate(lines):
        cells = [str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        out.append("  ".join(cells).rstrip())
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append("× engine: the rate over the engine's own bulk insert of the same rows (UNIQUE only).")
    for engine, figures in report["engines"].items():
        if figures.get("autovacuum") == "off":
            runs = figures.get("autoanalyze_runs", 0)
            out.append(f"note: {engine} runs with autovacuum off; the bench ran ANALYZE {runs} times "
                       "in its place (--no-analyze to see the figures without).")
    return "\n".join(out)


def _ms(value) -> str:
    return "" if value is None else f"{value:.0f}"


# ---------------------------------------------------------------------------------------------
# One engine, inside its own process: Django is set up against LIVELOOP_DATABASE_URL.

def engine_run(args) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    figures: dict = {"engine": args.engine_run, "vendor": None, "paths": {}}
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    figures["vendor"] = connection.vendor
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version'), current_setting('autovacuum')")
            # Without autovacuum the planner never learns how the log grew (see README).
            figures["server_version"], figures["autovacuum"] = cursor.fetchone()
    figures["migrate_seconds"] = round(time.perf_counter() - started, 2)

    codes = promoter_codes(args.promoters, args.seed)
    org, key = _tenant()
    live_fn, promoter_ids = _live(org, "函数写入基准", codes)
    live_http, _ = _live(org, "HTTP 写入基准", codes)
    fn_batches = LiveStream(live_fn.public_id, codes, args.seed).batches(args.events, args.batch)
    http_batches = LiveStream(live_http.public_id, codes, args.seed + 1).batches(args.events, args.batch)

    with _Autoanalyze(figures.get("autovacuum") == "off" and not args.no_analyze) as analyze:
        figures["paths"]["ingest"] = _bench_function(org, fn_batches)
        _check_log(org, live_fn, args.events)
        # The same stream into a live that pays commission: the ledger's estimates move in the
        # same transaction (liveloop/money/ledger.py), which is what this path costs on top.
        live_money = _money_live(org, codes)
        analyze.settled()  # its teams and plan, as autovacuum would have
        money_batches = LiveStream(live_money.public_id, codes, args.seed + 3).batches(args.events, args.batch)
        figures["paths"]["ingest_money"] = _bench_function(org, money_batches, " + commission")
        _check_log(org, live_money, args.events)
        # The same two paths once more, batch by batch in turn, into two fresh lives: both see
        # the same database at the same moment, so their ratio is moved neither by the log
        # having grown by the first path's events nor by the machine's drift between two runs.
        plain_turns, money_turns = _bench_turns(org, codes, args, analyze)
        figures["paths"]["ingest_turns"], figures["paths"]["ingest_money_turns"] = plain_turns, money_turns
        connections.close_all()  # SQLite has one writer: the server must not wait on us.

        figures["paths"]["http"] = _bench_http(key, http_batches, args)
        _check_log(org, live_http, args.events)
    figures["autoanalyze_runs"] = analyze.runs

    rows = log_rows(fn_batches, org.pk, live_fn.pk, promoter_ids, sqlite=connection.vendor == "sqlite")
    raw, shaped = _bench_raw(rows, connection)
    figures["paths"]["raw"] = raw
    figures["paths"]["raw_shaped"] = shaped
    connections.close_all()

    if args.profile:
        live_profiled, _ = _live(org, "剖析", codes)
        batches = LiveStream(live_profiled.public_id, codes, args.seed + 2).batches(args.events, args.batch)
        figures["profile"] = _profile(org, batches)
    Path(args.out).write_text(json.dumps(figures))
    return 0


class _Autoanalyze:
    """Stands in for autovacuum's ANALYZE where the server runs without it (as this test
    machine's PostgreSQL does): every second, refresh the planner's statistics of the tables
    ingest reads, as autovacuum does on a growing table in production. Without it the planner
    believes the log is tiny and filters a tenant's whole log instead of seeking its index.
    `settled()` analyses the whole database once, as autovacuum does within a minute of the
    setup's thousand promoters: left without statistics, PostgreSQL took the promoters table
    for one row and read it whole for every team (the paying path's teams: 7 ms, not 0.3)."""

    TABLES = ("events_event", "events_liveviewer", "events_order", "analytics_promoterstats",
              "analytics_audienceviewer", "analytics_liveminute", "money_entry", "money_estimate")

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.runs = 0
        self._stop = threading.Event()

    def __enter__(self):
        if self.enabled:
            self.settled()
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def settled(self) -> None:
        """After a setup: every table's statistics, once."""
        if self.enabled:
            import psycopg

            with psycopg.connect(os.environ["LIVELOOP_DATABASE_URL"], autocommit=True) as conn:
                conn.execute("ANALYZE")

    def _loop(self) -> None:
        import psycopg

        with psycopg.connect(os.environ["LIVELOOP_DATABASE_URL"], autocommit=True) as conn:
            while not self._stop.wait(1.0):
                for table in self.TABLES:
                    conn.execute(f"ANALYZE {table}")
                self.runs += 1

    def __exit__(self, *exc):
        if self.enabled:
            self._stop.set()
            self._thread.join()
        return False


def _tenant():
    from liveloop.orgs.services import create_org

    return create_org("基准测试品牌")


def _live(org, title: str, codes: list[str]):
    from liveloop.lives.models import Account
    from liveloop.actions.lives import create_live
    from liveloop.actions.promoters import NewPromoter, enrol

    account, _ = Account.objects.get_or_create(org=org, name="基准官方号")
    live = create_live(org, account=account, title=title, announced_at=DEFAULT_ANNOUNCED)
    promoters = enrol(live.programme, [NewPromoter(name=f"推广员{code}", code=code) for code in codes])
    return live, {p.code: p.pk for p in promoters}


def _money_live(org, codes, title: str = "佣金写入基准"):
    from liveloop.demo.money import DEMO_RULES
    from liveloop.money.models import Plan
    from liveloop.money.plans import choose_plan, save_plan
    from liveloop.promoters.models import Promoter, Team

    live, ids = _live(org, title, codes)
    plan = Plan.objects.for_org(org).filter(name=BENCH_PLAN).first()
    if plan is not None:  # the stores and the plan of the first paying live
        choose_plan(org, None, live, plan)
        return live
    # 20 stores with a leader each, as the demo brand has: overrides move with every sale.
    stores = Team.objects.bulk_create([Team(org=org, name=f"基准门店{n}") for n in range(20)])
    for index, pk in enumerate(sorted(ids.values())):
        Promoter.objects.filter(pk=pk).update(team=stores[index % 20])
    for index, store in enumerate(stores):
        Team.objects.filter(pk=store.pk).update(leader_id=sorted(ids.values())[index])
    plan = save_plan(org, None, name=BENCH_PLAN, fields=dict(DEMO_RULES), override_levels=1)
    choose_plan(org, None, live, plan)
    return live


def _path(label: str, events: int, seconds: float, latencies: list[float] | None = None) -> dict:
    path = {"label": label, "events": events, "seconds": round(seconds, 3),
            "rate": round(events / seconds, 1)}
    if latencies:
        ordered = sorted(latencies)
        path["p50_ms"] = round(ordered[len(ordered) // 2] * 1000, 1)
        path["p99_ms"] = round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1)
        path["max_ms"] = round(ordered[-1] * 1000, 1)
        # A rate that falls as the log grows shows here first (a lookup that scans, not seeks).
        tenth = max(1, len(latencies) // 10)
        path["first_tenth_ms"] = round(sum(latencies[:tenth]) / tenth * 1000, 1)
        path["last_tenth_ms"] = round(sum(latencies[-tenth:]) / tenth * 1000, 1)
    return path


def _bench_function(org, batches: list[list[dict]], label: str = "") -> dict:
    from liveloop.events.ingest import ingest

    latencies = []
    total = 0
    started, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        before = time.perf_counter()
        result = ingest(org, batch, source="bench")
        latencies.append(time.perf_counter() - before)
        if result.accepted != len(batch) or result.rejected or result.duplicates:
            raise SystemExit(f"ingest() did not accept a clean batch: accepted {result.accepted} "
                             f"of {len(batch)}, first rejections {result.rejected[:3]}")
        total += result.accepted
    path = _path(f"ingest() ×{len(batches[0])}{label}", total, time.perf_counter() - started, latencies)
    # This process's CPU seconds (SQLite's work included; PostgreSQL's server is another
    # process): on a busy machine the wall time drifts with the neighbours, this much less.
    path["cpu_seconds"] = round(time.process_time() - cpu, 3)
    return path


def _bench_turns(org, codes, args, analyze: _Autoanalyze) -> tuple[dict, dict]:
    """Plain and paying ingest, a batch of each in turn (two fresh lives, the streams of two
    more seeds)."""
    from liveloop.events.ingest import ingest

    live_plain, _ = _live(org, "交替写入基准", codes)
    live_money = _money_live(org, codes, "交替佣金写入基准")
    analyze.settled()
    turns = zip(LiveStream(live_plain.public_id, codes, args.seed + 4).batches(args.events, args.batch),
                LiveStream(live_money.public_id, codes, args.seed + 5).batches(args.events, args.batch))
    latencies: tuple[list, list] = ([], [])
    cpu = [0.0, 0.0]
    for pair in turns:
        for path, batch in enumerate(pair):
            before, before_cpu = time.perf_counter(), time.process_time()
            result = ingest(org, batch, source="bench")
            latencies[path].append(time.perf_counter() - before)
            cpu[path] += time.process_time() - before_cpu
            if result.accepted != len(batch):
                raise SystemExit(f"ingest() did not accept a clean batch: {result.rejected[:3]}")
    _check_log(org, live_plain, args.events)
    _check_log(org, live_money, args.events)
    paths = []
    for path, label in enumerate((f"ingest() ×{args.batch}, in turn", f"ingest() ×{args.batch} + commission, in turn")):
        figures = _path(label, args.events, sum(latencies[path]), latencies[path])
        figures["cpu_seconds"] = round(cpu[path], 3)
        paths.append(figures)
    return paths[0], paths[1]


def _check_log(org, live, expected: int) -> None:
    from liveloop.events.models import Event

    stored = Event.objects.for_org(org).filter(live=live).count()
    if stored != expected:
        raise SystemExit(f"the log holds {stored} events of live {live.public_id}, expected {expected}")


# --- HTTP ------------------------------------------------------------------------------------

def _free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != DEMO_PORT:
            return port


class Server:
    """`liveloop serve` as `make demo` runs it (gunicorn, 2 workers × 4 threads), in its own
    process group so that stopping it stops every worker."""

    def __init__(self, log: Path):
        self.port = _free_port()
        self.log = log
        command = [str(Path(sys.executable).parent / "liveloop"), "serve",
                   "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                        cwd=ROOT, start_new_session=True)

    def wait_ready(self, key: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}:\n{self._tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                status, _ = post(conn, key, b"[]")
                if status == 200:
                    return
                raise SystemExit(f"the server answered {status} to an empty batch:\n{self._tail()}")
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        raise SystemExit(f"the server did not answer within {timeout:.0f} s:\n{self._tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def post(conn: http.client.HTTPConnection, key: str, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", "/api/v1/events", body=body,
                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


def _bench_http(key: str, batches: list[list[dict]], args) -> dict:
    import orjson

    # Serialised up front: the clients share the server's CPUs, so they should do little.
    bodies = [orjson.dumps(batch) for batch in batches]
    server = Server(Path(os.environ["LIVELOOP_DATA_DIR"]) / "server.log")
    try:
        server.wait_ready(key)
        lock = threading.Lock()
        pending = iter(range(len(bodies)))
        latencies: list[float] = []
        answers: list[dict] = []
        errors: list[str] = []

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            try:
                while True:
                    with lock:
                        index = next(pending, None)
                    if index is None or errors:
                        return
                    before = time.perf_counter()
                    status, body = post(conn, key, bodies[index])
                    elapsed = time.perf_counter() - before
                    with lock:
                        if status != 200:
                            errors.append(f"batch {index}: HTTP {status}: {body[:300]!r}")
                            return
                        latencies.append(elapsed)
                        answers.append(orjson.loads(body))
            except Exception as error:  # noqa: BLE001  (reported below, not swallowed)
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    if errors:
        raise SystemExit("HTTP ingest failed: " + "; ".join(errors[:3]) + "\n" + server._tail())
    sent = sum(len(batch) for batch in batches)
    accepted = sum(a["accepted"] for a in answers)
    duplicates = sum(a["duplicates"] for a in answers)
    rejected = [r for a in answers for r in a["rejected"]]
    if accepted != sent or duplicates or rejected:
        raise SystemExit(f"HTTP: sent {sent}, accepted {accepted}, duplicates {duplicates}, "
                         f"rejected {len(rejected)} (first: {rejected[:3]})")
    return _path(f"HTTP ×{len(batches[0])}, {args.clients} clients", accepted, seconds, latencies)


# --- the engine's own bulk insert --------------------------------------------------------------

def _bench_raw(rows: list[tuple], connection) -> tuple[dict, dict]:
    """The same rows into a table of the log's columns with UNIQUE(org_id, eid), by the engine's
    fastest ordinary path; then into a table that also has the log's other indexes and foreign
    keys, which tells the cost of the table's shape from the cost of the Python around it."""
    if connection.vendor == "sqlite":
        insert = _raw_sqlite
        db = connection.settings_dict["NAME"]
    else:
        insert = _raw_postgresql
        db = connection.settings_dict
    connection.close()
    raw = _path("engine bulk insert (UNIQUE only)", len(rows), insert(db, rows, shaped=False))
    shaped = _path("engine bulk insert (log's indexes + FKs)", len(rows), insert(db, rows, shaped=True))
    return raw, shaped


SQLITE_TABLE = """CREATE TABLE {name} (
    seq integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    org_id bigint NOT NULL {org_fk}, eid varchar(128) NOT NULL, type varchar(20) NOT NULL,
    live_id bigint NULL {live_fk}, viewer varchar(128) NOT NULL, promoter_code varchar(32) NULL,
    promoter_id bigint NULL {promoter_fk}, "order" varchar(64) NULL, amount bigint NULL,
    count bigint NULL, at datetime NOT NULL, touchpoint varchar(16) NULL,
    attrs text NULL CHECK ((JSON_VALID(attrs) OR attrs IS NULL)), source varchar(16) NOT NULL,
    CONSTRAINT {name}_org_eid UNIQUE (org_id, eid))"""

PG_TABLE = """CREATE TABLE {name} (
    seq bigint NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
    org_id bigint NOT NULL {org_fk}, eid varchar(128) NOT NULL, type varchar(20) NOT NULL,
    live_id bigint NULL {live_fk}, viewer varchar(128) NOT NULL, promoter_code varchar(32) NULL,
    promoter_id bigint NULL {promoter_fk}, "order" varchar(64) NULL, amount bigint NULL,
    count bigint NULL, at timestamptz NOT NULL, touchpoint varchar(16) NULL, attrs jsonb NULL,
    source varchar(16) NOT NULL, CONSTRAINT {name}_org_eid UNIQUE (org_id, eid))"""
PG_TYPES = ["bigint", "varchar", "varchar", "bigint", "varchar", "varchar", "bigint", "varchar",
            "bigint", "bigint", "timestamptz", "varchar", "jsonb", "varchar"]


def _table_sql(template: str, shaped: bool) -> tuple[str, str, list[str]]:
    name = "bench_raw_shaped" if shaped else "bench_raw"
    fk = "REFERENCES {} (id) DEFERRABLE INITIALLY DEFERRED"
    keys = {"org_fk": fk.format("orgs_organisation"), "live_fk": fk.format("lives_live"),
            "promoter_fk": fk.format("promoters_promoter")} if shaped else \
        {"org_fk": "", "live_fk": "", "promoter_fk": ""}
    indexes = [f"CREATE INDEX {name}_{column} ON {name} ({column})"
               for column in ("live_id", "org_id", "promoter_id")] if shaped else []
    return name, template.format(name=name, **keys), indexes


def _raw_sqlite(path: str, rows: list[tuple], shaped: bool) -> float:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")  # as Django's connection has it
        name, create, indexes = _table_sql(SQLITE_TABLE, shaped)
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(create)
        for statement in indexes:
            conn.execute(statement)
        columns = ", ".join(f'"{c}"' for c in LOG_COLUMNS)
        sql = f"INSERT INTO {name} ({columns}) VALUES ({', '.join('?' * len(LOG_COLUMNS))})"
        started = time.perf_counter()
        for first in range(0, len(rows), 10_000):
            conn.execute("BEGIN")
            conn.executemany(sql, rows[first:first + 10_000])
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        _expect(conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0], len(rows), name)
        conn.execute(f"DROP TABLE {name}")
        return seconds
    finally:
        conn.close()


def _raw_postgresql(settings: dict, rows: list[tuple], shaped: bool) -> float:
    import psycopg

    conn = psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432,
                           user=settings["USER"], dbname=settings["NAME"],
                           password=settings["PASSWORD"] or None)
    try:
        name, create, indexes = _table_sql(PG_TABLE, shaped)
        with conn.transaction():
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(create)
            for statement in indexes:
                conn.execute(statement)
        columns = ", ".join(f'"{c}"' for c in LOG_COLUMNS)
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            with cursor.copy(f"COPY {name} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(PG_TYPES)
                for row in rows:
                    copy.write_row(row)
        seconds = time.perf_counter() - started
        with conn.transaction():
            _expect(conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0], len(rows), name)
            conn.execute(f"DROP TABLE {name}")
        return seconds
    finally:
        conn.close()


def _expect(stored: int, expected: int, table: str) -> None:
    if stored != expected:
        raise SystemExit(f"{table} holds {stored} rows, expected {expected}")


# --- profiling -------------------------------------------------------------------------------

def _profile(org, batches: list[list[dict]]) -> str:
    """pyinstrument samples, so the split it shows is close to an unprofiled run's; cProfile's
    per-call overhead inflates the ORM's many small calls, so it is only the fallback."""
    from liveloop.events.ingest import ingest

    def run() -> float:
        started = time.perf_counter()
        for batch in batches:
            ingest(org, batch, source="bench")
        return time.perf_counter() - started

    events = sum(map(len, batches))
    try:
        from pyinstrument import Profiler
    except ImportError:
        return _cprofile(run, events)
    profiler = Profiler(interval=0.001)
    profiler.start()
    seconds = run()
    profiler.stop()
    return (f"pyinstrument of ingest() on {events:,} events in {seconds:.2f} s\n\n"
            + profiler.output_text(unicode=True, show_all=True)
            + "\nSelf time by function:\n"
            + "\n".join(profiler.output_text(unicode=True, flat=True).splitlines()[:60]))


def _cprofile(run, events: int) -> str:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    seconds = run()
    profiler.disable()
    out = io.StringIO()
    out.write(f"cProfile of ingest() on {events:,} events in {seconds:.2f} s "
              "(profiler overhead included; install pyinstrument for a sampling profile)\n\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    return out.getvalue()


if __name__ == "__main__":
    sys.exit(main())
