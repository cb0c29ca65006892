"""Overload: another writer holds the database far longer than the bound. Ingest and sign-in
answer 503 with Retry-After within the bound (LIVELOOP_DB_LOCK_WAIT), write nothing, and the
same batch sent after the lock is released is applied.

The real server (gunicorn, 2 workers × 4 threads) on a file database: SQLite's write lock is
held by another process's BEGIN IMMEDIATE; on PostgreSQL (when LIVELOOP_DATABASE_URL names one)
another connection holds the organisation's ingest lock and an exclusive lock on the accounts.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tests.security.processes import CLI, Server, engines, free_port

pytestmark = pytest.mark.slow

BOUND = 2  # seconds: LIVELOOP_DB_LOCK_WAIT for the server under test
HOLD = BOUND + 20  # the other writer's hold: far longer, so a 503 cannot be a wait that ran out
MARGIN = 8  # a busy shared machine's slack on top of the bound
PASSWORD = "correct horse battery"


class Holder(threading.Thread):
    """Another writer: takes the database's write lock (SQLite) or the locks ingest and sign-in
    need (PostgreSQL), says so, holds them until released or HOLD runs out, writes nothing."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.held, self.release = url, threading.Event(), threading.Event()

    def run(self):
        if self.url.startswith("sqlite"):
            import sqlite3

            db = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            db = psycopg.connect(self.url)
            org = db.execute("SELECT id FROM orgs_organisation").fetchone()[0]
            db.execute("SELECT pg_advisory_xact_lock(%s)", [org])
            db.execute("LOCK TABLE auth_user IN ACCESS EXCLUSIVE MODE")
        self.held.set()
        self.release.wait(HOLD)
        db.rollback()
        db.close()


def sign_in(base, password=PASSWORD):
    session = requests.Session()
    form = session.get(f"{base}/login/", timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    return session.post(f"{base}/login/", data={"csrfmiddlewaretoken": token, "username": "ops",
                                                "password": password},
                        allow_redirects=False, timeout=30)


def event_count(url) -> int:
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return db.execute("SELECT count(*) FROM events_event WHERE source = 'api'").fetchone()[0]
    import psycopg

    with psycopg.connect(url) as db:
        return db.execute("SELECT count(*) FROM events_event WHERE source = 'api'").fetchone()[0]


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_long_lock_answers_503_within_the_bound_and_loses_nothing(tmp_path, postgres_database):
    for engine, url in engines(tmp_path, postgres_database):
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("LIVELOOP_")},
               "LIVELOOP_DATA_DIR": str(tmp_path / engine), "LIVELOOP_DATABASE_URL": url,
               "LIVELOOP_DB_LOCK_WAIT": str(BOUND), "DJANGO_SETTINGS_MODULE": "liveloop.settings"}
        org = json.loads(subprocess.run([*CLI, "org", "create", "繁忙测试", "--json"], env=env,
                                        capture_output=True, text=True, check=True).stdout)
        subprocess.run([sys.executable, "-c", (
            "import django; django.setup()\n"
            "from liveloop.orgs.models import Organisation, Member\n"
            "from liveloop.orgs.services import add_member\n"
            f"add_member(Organisation.objects.get(), 'ops', Member.OPERATOR, password={PASSWORD!r})")],
            env=env, check=True)
        server = Server(env, free_port())
        server.start()
        holder = Holder(url)
        try:
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {org['api_key']}"
            account = api.post(f"{server.base}/api/v1/accounts", json={"name": "官方号"}).json()["id"]
            live = api.post(f"{server.base}/api/v1/lives", json={
                "title": "繁忙直播", "account": account,
                "announced_at": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}).json()["id"]
            at = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
            batches = [[{"id": f"busy-{b}-{i}", "type": "reservation", "live": live, "viewer": f"V{b:02d}{i:04d}",
                         "at": at} for i in range(50)] for b in range(6)]
            before = event_count(url)

            holder.start()
            assert holder.held.wait(10)
            # Six producers at once: each answer within the bound, not one full wait after another.
            with ThreadPoolExecutor(len(batches)) as pool:
                answers = list(pool.map(lambda batch: timed(lambda: api.post(
                    f"{server.base}/api/v1/events", json=batch, timeout=60)), batches))
            signed_in, signing_time = timed(lambda: sign_in(server.base))
            assert holder.is_alive(), "the lock was released before the answers came: the test proves nothing"
            print("[overload]", engine, "answers after", sorted(round(e, 2) for _, e in answers), "s; sign-in", round(signing_time, 2), "s")
            for response, elapsed in answers:
                assert response.status_code == 503, (engine, response.status_code, response.text[:200])
                assert int(response.headers["Retry-After"]) > 0 and response.json()["detail"]
                assert elapsed < BOUND + MARGIN, (engine, elapsed)
            assert signed_in.status_code == 503 and int(signed_in.headers["Retry-After"]) > 0, (
                engine, signed_in.status_code)
            assert "系统繁忙" in signed_in.text and "Traceback" not in signed_in.text
            assert signing_time < 2 * (BOUND + MARGIN), (engine, signing_time)  # two requests: form + post
            assert event_count(url) == before  # nothing half-written

            holder.release.set()
            holder.join(10)
            for batch in batches:  # the producer sends the same batch again, as told
                again = api.post(f"{server.base}/api/v1/events", json=batch, timeout=60)
                assert again.status_code == 200, again.text[:200]
                assert again.json()["accepted"] == len(batch) and again.json()["duplicates"] == 0
            assert event_count(url) == before + sum(map(len, batches))
            assert sign_in(server.base).status_code == 302
        finally:
            holder.release.set()
            server.kill()


# In-process: the classifier and the answers, on the test database of either engine.

def test_what_counts_as_overload():
    import sqlite3

    from django.db.utils import OperationalError

    from liveloop.overload import Overloaded, is_overload

    def wrapped(cause):
        try:
            raise OperationalError(str(cause)) from cause
        except OperationalError as error:
            return error

    class PgError(Exception):
        def __init__(self, sqlstate):
            self.sqlstate = sqlstate

    assert is_overload(Overloaded("queue"))
    assert is_overload(wrapped(sqlite3.OperationalError("database is locked")))
    assert is_overload(wrapped(PgError("55P03"))) and is_overload(wrapped(PgError("57014")))
    assert not is_overload(wrapped(sqlite3.OperationalError("no such table: x")))
    assert not is_overload(wrapped(PgError("23505")))  # a unique violation is a bug, not load
    assert not is_overload(ValueError("x")) and not is_overload(None)


def test_overload_in_ingest_is_a_json_503_and_writes_nothing(brand, monkeypatch):
    from django.test import Client

    from liveloop.events import ingest as ingest_module
    from liveloop.events.models import Event
    from liveloop.overload import Overloaded

    live = brand.live()

    def busy(*args, **kwargs):
        raise Overloaded("the ingest queue did not reach this request within the bound")

    monkeypatch.setattr(ingest_module, "_writer_turn", busy)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {brand.key}", raise_request_exception=False)
    event = {"id": "e1", "type": "reservation", "live": live.public_id, "viewer": "o6_viewer_1",
             "at": datetime.now(timezone.utc).isoformat()}
    response = api.post("/api/v1/events", [event], content_type="application/json")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "nothing was written" in response.json()["detail"]
    assert not Event.objects.filter(eid="e1").exists()


def test_overload_outside_a_view_is_the_503_page_not_a_500(db, settings):
    # The session middleware saves after the view: an overload there reaches handler500.
    from django.db.utils import OperationalError
    from django.test import RequestFactory

    from liveloop.web.errors import server_error

    import sqlite3

    request = RequestFactory().get("/")
    try:
        raise OperationalError("database is locked") from sqlite3.OperationalError("database is locked")
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "系统繁忙" in response.content.decode()
    try:
        raise KeyError("internals")
    except KeyError:
        response = server_error(request)
    assert response.status_code == 500 and "internals" not in response.content.decode()
