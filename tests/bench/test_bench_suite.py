"""The benchmark suite's own logic: the burst's events, the suite's named figures, and quick runs."""
import subprocess
import sys
from argparse import Namespace
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import burst, suite  # noqa: E402
from bench.data import promoter_codes  # noqa: E402


def test_the_burst_sends_exactly_what_it_says_in_valid_batches():
    args = Namespace(seed=1, enters=10_000, orders=500, batch=500)
    now = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    batches = burst._burst("Lx", promoter_codes(50), args, now)
    events = [e for b in batches for e in b]
    assert sum(e["type"] == "room_enter" for e in events) == 10_000
    assert sum(e["type"] == "order_paid" for e in events) == 500
    assert max(map(len, batches)) <= 500
    assert len({e["id"] for e in events}) == len(events)
    for batch in batches:  # every order's buyer entered earlier in the same batch
        entered = set()
        for event in batch:
            if event["type"] == "room_enter":
                entered.add(event["viewer"])
            else:
                assert event["viewer"] in entered
                assert isinstance(event["order"], str) and isinstance(event["amount"], int)
    assert all(datetime.fromisoformat(e["at"]) < now for e in events)


def test_the_suite_names_each_figure_with_its_same_run_baseline_and_goal():
    reads = {"engines": {"sqlite": {"1000000": {
        "duckdb": {"median_ms": 50.0, "p95_ms": 55.0},
        "reads": [{"label": "live summary: live_summary()", "median_ms": 2.0, "p95_ms": 3.0},
                  {"label": "GET room/data/ (test client, owner)", "median_ms": 15.0, "p95_ms": 16.0}],
        "rebuild": {"events": 1_000_000, "seconds": 200.0, "rate": 5000.0, "read_seconds": 10.0,
                    "peak_rss_mb": 900.0}}}}}
    figures = {f["name"]: f for f in suite._reads(reads)}
    summary = figures["reads.sqlite.1M.live_summary"]
    assert (summary["value"], summary["baseline_value"], summary["ratio"], summary["met"]) == (2.0, 50.0, 0.04, True)
    assert figures["reads.sqlite.1M.room_data_request"]["met"] is False
    rebuild = figures["rebuild.sqlite.1M.rate"]
    assert rebuild["baseline_value"] == 100_000.0 and rebuild["ratio"] == 0.05 and rebuild["met"] is False
    report = {"figures": list(figures.values()), "runs": {"reads": {"seconds": 12.0, "exit": 0}}, "seconds": 12.0}
    table = suite.render(report)
    assert "reads.sqlite.1M.live_summary" in table and "NOT met" in table and "p95 < 10 ms: met" in table


def test_the_paying_ingest_is_named_against_plain_ingest_of_the_same_run_both_ways():
    def path(rate):
        return {"label": f"path at {rate}", "rate": rate}
    ingest = {"engines": {"sqlite": {"paths": {
        "ingest": path(10_000.0), "ingest_money": path(7_000.0),
        "ingest_turns": path(9_000.0), "ingest_money_turns": path(7_650.0), "raw": path(100_000.0)}}}}
    figures = {f["name"]: f for f in suite._ingest(ingest)}
    after = figures["ingest.sqlite.ingest_money.x_plain"]
    assert (after["baseline_value"], after["ratio"], after["goal"], after["met"]) == (10_000.0, 0.7, "≥ 0.8 × plain", False)
    turns = figures["ingest.sqlite.ingest_money_turns.x_plain"]
    assert (turns["baseline_value"], turns["ratio"], turns["met"]) == (9_000.0, 0.85, True)
    assert figures["ingest.sqlite.ingest"]["ratio"] == 0.1 and figures["ingest.sqlite.ingest"]["met"] is False


@pytest.mark.slow
@pytest.mark.parametrize("script", ["burst.py", "reads.py"])
def test_the_quick_burst_and_reads_run_and_check_their_figures(script):
    run = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--quick", "--engines", "sqlite"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "figures written to bench/results/" in run.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script, size", [("settle.py", ["--orders", "3000", "--engines", "sqlite"]),
                                          ("import_rows.py", ["--rows", "2000"])])
def test_the_settlement_and_import_benchmarks_run_at_a_small_size(script, size):
    """Their sizes have no --quick: a small run keeps them working as the tables grow columns (a
    NOT NULL column bench/settle.py did not write broke `make bench` once)."""
    run = subprocess.run([sys.executable, str(ROOT / "bench" / script), *size],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "figures written to bench/results/" in run.stdout
