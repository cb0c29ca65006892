"""What both benchmarks share: a fresh database per engine, and a subprocess per engine run.

Settings read LIVELOOP_DATABASE_URL at import, so each engine is measured in its own process
with a clean Django. PostgreSQL runs in a database of its own (named for the benchmark), dropped and
recreated for every run and dropped afterwards; SQLite in a file in a temporary folder.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{}"


class EngineFailed(Exception):
    pass


def machine() -> dict:
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(), "platform": platform.platform()}


def run_engine(engine: str, script: Path, arguments: list[str], *, keep: bool, prefix: str) -> dict:
    """Run `script --engine-run ENGINE --out FILE *arguments` on a fresh database; its figures."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{prefix}-{engine}-"))
    # Each run its own PostgreSQL database (benchmark and process id), so two benchmarks — or two
    # runs of one — can run side by side without dropping each other's database.
    database = f"{prefix.replace('-', '_')}_{os.getpid()}"
    if engine == "sqlite":
        url = f"sqlite:///{workdir / 'liveloop.sqlite3'}"
    else:
        _recreate_pg_database(database)
        url = PG_URL.format(database)
    env = {**os.environ, "LIVELOOP_DATABASE_URL": url, "LIVELOOP_DATA_DIR": str(workdir),
           "DJANGO_SETTINGS_MODULE": "liveloop.settings",
           # Measure what production runs: no per-query debug bookkeeping.
           "LIVELOOP_DEBUG": "0", "LIVELOOP_ENV": "development"}
    out = workdir / "figures.json"
    command = [sys.executable, str(script), "--engine-run", engine, "--out", str(out), *arguments]
    try:
        finished = subprocess.run(command, env=env, cwd=ROOT)
        if finished.returncode != 0 or not out.exists():
            raise EngineFailed(f"the engine run exited with {finished.returncode}")
        return json.loads(out.read_text())
    finally:
        if keep:
            print(f"   kept {workdir}" + (f" and database {database}" if engine == "postgresql" else ""))
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if engine == "postgresql":
                _drop_pg_database(database)


def _recreate_pg_database(name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as error:
        raise EngineFailed(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({error})") from None


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_each(engines: list[str], report: dict, banner: str, runner) -> bool:
    """runner(engine) for each engine into report["engines"]; True when one of them failed."""
    failed = False
    for engine in engines:
        print(f"== {engine}: {banner}", flush=True)
        try:
            report["engines"][engine] = runner(engine)
        except EngineFailed as error:
            print(f"!! {engine}: {error}", file=sys.stderr, flush=True)
            report["engines"][engine] = {"error": str(error)}
            failed = True
    return failed


def write_report(name: str, report: dict) -> Path:
    """bench/results/<name>-<started>.json (not versioned)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{report['started']}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nfigures written to {path.relative_to(ROOT)}")
    return path
