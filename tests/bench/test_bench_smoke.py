"""The benchmark keeps working: a quick SQLite run through ingest() and the real server."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_ingest_benchmark_runs_and_checks_every_event_arrived():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "ingest.py"), "--quick", "--engines", "sqlite"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    for path in ("ingest() ×500", "ingest() ×500 + commission, in turn", "HTTP ×500", "engine bulk insert"):
        assert path in run.stdout
