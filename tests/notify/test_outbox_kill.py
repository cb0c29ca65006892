"""The outbox survives `kill -9` mid-send: `liveloop notices` runs as a real process against a
file database (SQLite; a fresh PostgreSQL database when LIVELOOP_DATABASE_URL points at one),
delivering to a local webhook receiver. The receiver holds one request open; the worker is
killed while it waits, then started again. Every notice arrives, and each idempotency key
(`X-Liveloop-Delivery`) takes effect once: the one send the dead worker could not record comes
again after its lease, and the receiver drops it as the contract asks (docs/decisions.md,
"Notices").

This module is also the script the test runs in subprocesses (`python -m tests.notify.test_outbox_kill
setup|report`), so that the database is set up and read by the project's own code.
"""
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "kill-test-signing-secret"
NOTICES = 12
HOLD = 5  # the receiver holds its 5th request open until the worker is dead
# Seconds. A worker starts a send only while the lease has room for 4 timeouts, so in the first
# 2 s of a claim here; the timeout leaves the test 3 s to kill the worker on the held request.
LEASE = 14
TIMEOUT = 3


class Receiver:
    """A brand's webhook endpoint: checks the signature, applies each delivery key once."""

    def __init__(self):
        self.received = []  # every request's delivery key, in order (at least once)
        self.applied = []  # the keys whose effect was applied (exactly once)
        self.bad = []
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("X-Liveloop-Delivery", "")
                timestamp = self.headers.get("X-Liveloop-Timestamp", "")
                expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Liveloop-Signature", "")) \
                        or json.loads(body)["id"] != int(key):
                    outer.bad.append(key)
                    return self._reply(401)
                with outer.lock:
                    outer.received.append(key)
                    number = len(outer.received)
                    # The receiver's own dedupe: applying the effect is keyed by the delivery id.
                    if key not in outer.applied:
                        outer.applied.append(key)
                if number == HOLD:
                    outer.held.set()
                    outer.release.wait(30)
                else:
                    time.sleep(0.05)
                self._reply(200)

            def _reply(self, status):
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the worker died while we held its request
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/liveloop"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def database_url(tmp_path):
    """A database of the test's own that subprocesses can share."""
    configured = os.environ.get("LIVELOOP_DATABASE_URL", "")
    if not configured.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
        return
    import psycopg

    parts = urlsplit(configured)
    name = f"{parts.path.lstrip('/') or 'liveloop'}_outbox_kill_{os.getpid()}"
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(database_url, tmp_path):
    return {**os.environ, "LIVELOOP_DATABASE_URL": database_url, "LIVELOOP_DATA_DIR": str(tmp_path),
            "LIVELOOP_NOTICE_LEASE_SECONDS": str(LEASE), "LIVELOOP_NOTICE_TIMEOUT_SECONDS": str(TIMEOUT),
            "PYTHONPATH": str(ROOT)}


def script(env, *args) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.notify.test_outbox_kill", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_worker(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "liveloop.cli", "notices", "--interval", "0.2", "--limit", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_a_worker_killed_mid_send_loses_nothing_and_each_key_takes_effect_once(database_url, tmp_path):
    receiver = Receiver()
    env = environment(database_url, tmp_path)
    first = second = None
    try:
        notices = script(env, "setup", receiver.url, str(NOTICES))["notices"]
        assert len(notices) == NOTICES

        first = start_worker(env)
        assert receiver.held.wait(60), "the worker never reached the held request"
        os.kill(first.pid, signal.SIGKILL)  # mid-send: the receiver has the request, the worker no answer
        assert first.wait(10) == -signal.SIGKILL
        receiver.release.set()
        in_flight = receiver.received[HOLD - 1]

        second = start_worker(env)
        deadline = time.monotonic() + LEASE + 60
        while True:
            report = script(env, "report")
            if report["states"] == {"sent": NOTICES} or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        for worker in (first, second):
            if worker and worker.poll() is None:
                worker.terminate()
                worker.wait(10)
        receiver.close()

    assert report["states"] == {"sent": NOTICES}, (report, second.stderr.read().decode()[-2000:])
    assert receiver.bad == []
    keys = {str(pk) for pk in notices}
    # Nothing lost; each key's effect applied once.
    assert sorted(receiver.applied, key=int) == sorted(keys, key=int)
    # At least once on the wire: only the send the dead worker could not record came again.
    repeats = {key: n for key, n in Counter(receiver.received).items() if n > 1}
    assert repeats == {in_flight: 2}
    # Nothing counted as a failure: the held notice, and the one claimed with it but never
    # tried, went out again once the dead worker's lease ran out.
    assert report["attempts"] == [0] * NOTICES


# The script side: runs in the subprocesses, with the environment above.

def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveloop.settings")
    import django

    django.setup()


def _setup(sink_url: str, count: int) -> dict:
    from datetime import datetime, timedelta, timezone

    from django.core.management import call_command

    from liveloop.lives.models import Account
    from liveloop.actions.lives import create_live, end_live, start_live
    from liveloop.notify.models import Notice
    from liveloop.notify.services import add_webhook
    from liveloop.orgs.services import create_org
    from liveloop.actions.promoters import NewPromoter, enrol

    call_command("migrate", interactive=False, verbosity=0)
    org, _ = create_org("出站测试")
    account = Account.objects.create(org=org, name="出站测试 官方号")
    began = datetime.now(timezone.utc) - timedelta(hours=2)
    live = create_live(org, account=account, title="双十二预热直播", announced_at=began)
    enrol(live.programme, [NewPromoter(name=f"推广员{n}", code=f"K{n:02d}") for n in range(count)])
    start_live(live, at=began)
    end_live(live, at=began + timedelta(hours=1))  # one promoter summary each
    add_webhook(org, name="brand system", url=sink_url, secret=SECRET)
    return {"notices": sorted(Notice.objects.for_org(org).values_list("pk", flat=True))}


def _report() -> dict:
    from django.db.models import Count

    from liveloop.notify.models import Notice

    states = dict(Notice.objects.order_by().values_list("state").annotate(n=Count("pk")))
    return {"states": states, "attempts": list(Notice.objects.order_by("pk").values_list("attempts", flat=True))}


if __name__ == "__main__":
    _django()
    command = sys.argv[1]
    result = _setup(sys.argv[2], int(sys.argv[3])) if command == "setup" else _report()
    print(json.dumps(result))
