"""kill -9 in the middle of a stream of ingest requests loses nothing and doubles nothing.

The real server (`liveloop serve`: gunicorn, 2 workers, as `make demo` runs it) on a free port
and a file database (SQLite; also PostgreSQL when LIVELOOP_DATABASE_URL names one). A client
thread streams batches to POST /api/v1/events; the whole server (master and workers, one process
group) is killed with SIGKILL several times mid-stream and started again. Then:

- a batch the server answered 200 for is in the log, each event exactly once;
- a batch that got no answer (in flight at the kill) is in the log entirely or not at all;
- the client sends the unanswered batches again, as a client should: afterwards the log holds
  every event sent exactly once and nothing else;
- `liveloop rebuild --check` finds no difference between the derived tables and the log.
"""
import json
import os
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.security.processes import CLI, Server, engines, free_port

pytestmark = pytest.mark.slow

KILLS = 3
BATCH = 40


class Stream(threading.Thread):
    """Sends numbered batches one after another; records which were answered 200."""

    def __init__(self, base, key, live):
        super().__init__(daemon=True)
        self.base, self.live = base, live
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.batches, self.answered, self.unanswered = [], set(), set()
        self.stop = threading.Event()
        self.at = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()

    def batch(self, n):
        events = []
        for i in range(BATCH):
            viewer = f"V{n:05d}{i:03d}"
            events.append({"id": f"b{n}-{i}-r", "type": "reservation", "live": self.live, "viewer": viewer,
                           "at": self.at})
            if i % 4 == 0:
                events.append({"id": f"b{n}-{i}-o", "type": "order_paid", "live": self.live, "viewer": viewer,
                               "order": f"O{n}-{i}", "amount": 100 + i, "at": self.at})
        return events

    def send(self, n):
        try:
            answer = self.session.post(f"{self.base}/api/v1/events", json=self.batches[n], timeout=10)
        except requests.RequestException:
            return False
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert not body["rejected"], body["rejected"][:3]
        return True

    def run(self):
        while not self.stop.is_set():
            n = len(self.batches)
            self.batches.append(self.batch(n))
            if self.send(n):
                self.answered.add(n)
            else:
                self.unanswered.add(n)
                time.sleep(0.25)  # the server is down: try again shortly, with the next batch


def _stored_ids(url: str) -> list[str]:
    """Every event id in the log, read straight from the database (the only organisation in it)."""
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return [row[0] for row in db.execute("SELECT eid FROM events_event")]
    import psycopg

    with psycopg.connect(url) as db:
        return [row[0] for row in db.execute("SELECT eid FROM events_event")]


def test_kill_9_mid_stream_loses_and_doubles_nothing(tmp_path, postgres_database):
    survived = 0
    for engine, url in engines(tmp_path, postgres_database):
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("LIVELOOP_")},
               "LIVELOOP_DATA_DIR": str(tmp_path / engine), "LIVELOOP_DATABASE_URL": url,
               "DJANGO_SETTINGS_MODULE": "liveloop.settings"}
        created = subprocess.run([*CLI, "org", "create", "崩溃测试", "--json"], env=env, capture_output=True,
                                 text=True, check=True)
        org = json.loads(created.stdout)
        server = Server(env, free_port())
        server.start()
        try:
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {org['api_key']}"
            account = api.post(f"{server.base}/api/v1/accounts", json={"name": "官方号"}).json()["id"]
            live = api.post(f"{server.base}/api/v1/lives", json={
                "title": "压测直播", "account": account,
                "announced_at": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}).json()["id"]
            stream = Stream(server.base, org["api_key"], live)
            stream.start()
            for _ in range(KILLS):
                answered = len(stream.answered)
                while len(stream.answered) < answered + 3:  # let a few batches through first
                    time.sleep(0.02)
                time.sleep(0.05 * (survived % 3))  # vary where in a request the kill lands
                server.kill()
                survived += 1
                time.sleep(0.3)  # the client meets a dead server for a while
                server.start()
            answered = len(stream.answered)
            while len(stream.answered) < answered + 3:
                time.sleep(0.02)
            stream.stop.set()
            stream.join(timeout=15)

            stored = _stored_ids(url)
            assert len(stored) == len(set(stored)), "an event is in the log twice"
            stored = set(stored)
            for n in stream.answered:
                assert {e["id"] for e in stream.batches[n]} <= stored, f"batch {n} was answered 200 but is missing"
            for n in stream.unanswered:
                ids = {e["id"] for e in stream.batches[n]}
                assert ids <= stored or not (ids & stored), f"batch {n} is in the log only in part"
            sent = {e["id"] for batch in stream.batches for e in batch}
            assert stored <= sent, "the log holds events nobody sent"

            # The client sends what got no answer again; duplicates are recognised.
            for n in sorted(stream.unanswered):
                assert stream.send(n)
            stored = _stored_ids(url)
            assert len(stored) == len(set(stored)) and set(stored) == sent
        finally:
            server.kill()
        check = subprocess.run([*CLI, "rebuild", "--org", org["slug"], "--check"], env=env,
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        print(f"\n[security] crash ({engine}): {KILLS} kill -9 survived ({survived} in all), {len(sent)} events in "
              f"{len(stream.batches)} batches ({len(stream.unanswered)} unanswered, resent), rebuild --check clean")
