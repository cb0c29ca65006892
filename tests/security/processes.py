"""The real server and CLI as separate processes, for the crash, overload and concurrency tests.

Django-free on purpose: those test modules are also the scripts their subprocesses run
(`python -m tests.security.test_concurrency …`), importing this before django.setup()."""
import os
import signal
import socket
import subprocess
import sys
import time

import requests

CLI = [sys.executable, "-m", "liveloop.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env, port):
        self.env, self.port, self.process = env, port, None
        self.base = f"http://127.0.0.1:{port}"

    def start(self):
        # `liveloop serve`'s gunicorn command (2 workers × 4 threads) without its start-up
        # `check`, which would only slow each restart. A session of its own: the kill reaches
        # gunicorn's master and every worker at once, like a machine losing power.
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "liveloop.wsgi:application",
                                         "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4",
                                         "--timeout", "60"],
                                        env=self.env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/api/v1/openapi.json", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError("the server did not come up")

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def engines(tmp_path, postgres_database):
    """The databases a process test runs on: a file SQLite, and PostgreSQL when there is one."""
    found = [("sqlite", f"sqlite:///{tmp_path / 'crash.sqlite3'}")]
    if postgres_database:
        found.append(("postgresql", postgres_database))
    return found
