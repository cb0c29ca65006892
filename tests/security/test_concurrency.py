"""Replays and concurrent clients against the real server (gunicorn as `liveloop serve` runs it,
2 workers × 4 threads) over a file database: SQLite, and a fresh PostgreSQL database when
LIVELOOP_DATABASE_URL names a server.

- The same batch sent by 8 clients at once is applied exactly once: one client's answer is the
  answer a single send gets, the others' say every event was a duplicate, the log holds each id
  once, and the derived figures equal those of one sequential send into another organisation.
- (PostgreSQL, where writers really run side by side) 8 clients sending disjoint batches of one
  stream into one live give the figures that the log gives in another organisation when it is
  ingested one event per call, in the order the server stored it.

Both end with `liveloop rebuild --check`. The figures compared are the live summary and
per-promoter rows of the API, and straight from the database every derived table of the live
(per-promoter stats, per-minute rows, viewers, orders, audience tables) and the commission
estimates, keyed by promoter code, viewer and minute rather than by ids.

This module is also the script the tests run in subprocesses (`python -m
tests.security.test_concurrency setup|figures|log`), so the database is set up and read by the
project's own code.
"""
import json
import os
import random
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from tests.security.processes import Server, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 8
PROMOTERS = 20
ROUNDS = 3


def _engine(engine, tmp_path, request) -> str:
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'concurrency.sqlite3'}"
    if not os.environ.get("LIVELOOP_DATABASE_URL", "").startswith("postgres"):
        pytest.skip("LIVELOOP_DATABASE_URL does not name a PostgreSQL server")
    return request.getfixturevalue("postgres_database")


def _environment(tmp_path, url):
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LIVELOOP_")},
            "LIVELOOP_DATABASE_URL": url, "LIVELOOP_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "liveloop.settings", "PYTHONPATH": str(ROOT)}


def _script(env, *args):
    done = subprocess.run([sys.executable, "-m", "tests.security.test_concurrency", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rebuild_check(env):
    check = subprocess.run([sys.executable, "-m", "liveloop.cli", "rebuild", "--check"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def _session(org):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {org['key']}"
    return session


def _api_figures(base, org) -> dict:
    session = _session(org)
    summary = session.get(f"{base}/api/v1/lives/{org['live']}/summary").json()
    rows = session.get(f"{base}/api/v1/lives/{org['live']}/promoters").json()
    return {"summary": {k: v for k, v in summary.items() if k != "live"},
            "promoters": sorted(rows, key=lambda row: row["promoter"] or "")}


def _figures(env, base, org) -> dict:
    return {**_api_figures(base, org), **_script(env, "figures", org["slug"])}


def _stream(live, prefix, viewers, start) -> list[dict]:
    """Reservations (some viewers reserve through two promoters), room entries, follows, orders
    with and without a promoter code (the latter credited by the viewer's binding), refunds."""
    events = []
    for v in range(viewers):
        viewer, at = f"{prefix}V{v:04d}", start + timedelta(seconds=7 * v)
        code, other = f"C{v % PROMOTERS:02d}", f"C{(v * 7 + 3) % PROMOTERS:02d}"

        def add(kind, suffix, minutes=0, **fields):
            events.append({"id": f"{prefix}{viewer}-{suffix}", "type": kind, "live": live, "viewer": viewer,
                           "at": (at + timedelta(minutes=minutes)).isoformat(), **fields})
        if v % 3:
            add("reservation", "res", promoter=code)
        if v % 6 == 1:
            add("reservation", "res2", minutes=1, promoter=other)
        if v % 2 == 0:
            add("room_enter", "in", minutes=2)
        if v % 5 == 0:
            add("follow", "fol", minutes=3)
        if v % 4 == 0:
            order = f"{prefix}O{v:04d}"
            add("order_paid", "paid", minutes=4, order=order, amount=1_000 + 37 * v,
                **({"promoter": other} if v % 8 == 0 else {}))
            if v % 12 == 0:
                add("order_refund", "ref", minutes=6, order=order, amount=(1_000 + 37 * v) // 4)
                add("order_refund", "ref2", minutes=7, order=order, amount=(1_000 + 37 * v) // 4)
    return events


def _start(engine, tmp_path, request):
    env = _environment(tmp_path, _engine(engine, tmp_path, request))
    orgs = _script(env, "setup", "2")
    server = Server(env, free_port())
    server.start()
    return env, orgs, server


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_same_batch_from_eight_clients_at_once_is_applied_once(engine, tmp_path, request):
    env, (target, reference), server = _start(engine, tmp_path, request)
    start = datetime.fromisoformat(target["started"]) + timedelta(minutes=1)
    try:
        sent = []
        for n in range(ROUNDS):
            batch = _stream(target["live"], f"r{n}-", 80, start)
            sent += [e["id"] for e in batch]
            sessions = [_session(target) for _ in range(CLIENTS)]
            for session in sessions:  # connected beforehand, so the posts leave together
                assert session.get(f"{server.base}/api/v1/lives/{target['live']}").status_code == 200
            barrier, answers = threading.Barrier(CLIENTS), [None] * CLIENTS

            def client(i):
                barrier.wait()
                answers[i] = sessions[i].post(f"{server.base}/api/v1/events", json=batch, timeout=60)
            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(90)
            assert all(a is not None and a.status_code == 200 for a in answers), answers
            answers = [a.json() for a in answers]

            one = _session(reference).post(f"{server.base}/api/v1/events", timeout=60,
                                           json=[{**e, "live": reference["live"]} for e in batch]).json()
            assert one == {"accepted": len(batch), "duplicates": 0, "rejected": [], "notes": []}
            # One client applied the batch; every other one found each of its events already there.
            assert sorted(answers, key=lambda a: a["accepted"]) == \
                [{"accepted": 0, "duplicates": len(batch), "rejected": [], "notes": []}] * (CLIENTS - 1) + [one]

        log = Counter(_script(env, "log", target["slug"]))
        assert log == Counter(sent) and set(log.values()) == {1}
        figures = _figures(env, server.base, target)
        assert figures == _figures(env, server.base, reference)
        assert figures["summary"]["orders"] and figures["estimates"] and figures["tables"]["LiveMinute"]
        if engine == "sqlite":  # the writers took turns through the lock file (events.ingest._writer_turn)
            assert (tmp_path / "concurrency.sqlite3-ingest.lock").exists()
    finally:
        server.kill()
    _rebuild_check(env)
    print(f"\n[security] replay ({engine}): {ROUNDS} batches of {len(batch)} events, each sent by {CLIENTS} "
          f"clients at once, applied once; figures equal one send; rebuild --check clean")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_concurrent_clients_into_one_live_equal_the_log_sent_in_order(engine, tmp_path, request):
    if engine == "sqlite":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE): transactions that really "
                    "overlap need PostgreSQL; the same-batch test covers SQLite's serialised writers")
    env, (target, reference), server = _start(engine, tmp_path, request)
    start = datetime.fromisoformat(target["started"]) + timedelta(minutes=1)
    # Attribution depends on order (first touch of two reservations; a refund before its order
    # is refused; a second refund may exceed what is left), and the clients' batches land in an
    # order nobody chose. So the claim is serialisability: whatever the interleaving, the figures
    # are those of the log applied one event at a time in the order the server stored it (its
    # seq, which is also what `rebuild` replays). Events are shuffled so that dependants often
    # travel in other batches than what they depend on.
    stream = _stream(target["live"], "s-", 150, start)
    random.Random(8).shuffle(stream)
    batches = [stream[i:i + 12] for i in range(0, len(stream), 12)]
    try:
        answers, lock = [], threading.Lock()
        pending = list(enumerate(batches))

        def client():
            session = _session(target)
            while True:
                with lock:
                    if not pending:
                        return
                    n, batch = pending.pop(0)
                answer = session.post(f"{server.base}/api/v1/events", json=batch, timeout=60)
                assert answer.status_code == 200, answer.text
                with lock:
                    answers.append((n, answer.json()))
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert len(answers) == len(batches)
        accepted = {batches[n][i]["id"] for n, a in answers for i in range(len(batches[n]))} - \
            {r["id"] for _, a in answers for r in a["rejected"]}
        assert sum(a["accepted"] for _, a in answers) == len(accepted)
        assert all(a["duplicates"] == 0 for _, a in answers)

        log = _script(env, "log", target["slug"])
        assert len(log) == len(set(log)) and set(log) == accepted
        by_id = {e["id"]: e for e in stream}
        in_order = tmp_path / "in-order.json"
        in_order.write_text(json.dumps([{**by_id[eid], "live": reference["live"]} for eid in log]))
        assert _script(env, "one-by-one", reference["slug"], str(in_order)) == \
            {"accepted": len(log), "calls": len(log)}
        assert _script(env, "log", reference["slug"]) == log
        concurrent, sequential = _figures(env, server.base, target), _figures(env, server.base, reference)
        assert concurrent == sequential
        assert concurrent["summary"]["orders"] and concurrent["estimates"]  # the stream moved money
    finally:
        server.kill()
    _rebuild_check(env)
    print(f"\n[security] concurrency ({engine}): {len(stream)} events in {len(batches)} batches from {CLIENTS} "
          f"clients, {len(log)} accepted ({len(stream) - len(log)} refused for their order); equal to the log "
          f"sent in order; rebuild --check clean")


# The script side: runs in the subprocesses, with the environment above.

def _django():
    import django

    django.setup()


def _setup(count) -> list[dict]:
    """`count` organisations, each with a live that started an hour ago, PROMOTERS promoters in
    two teams with leaders, and a default plan (so every accepted order moves estimates)."""
    from django.core.management import call_command

    from liveloop.lives.models import Account
    from liveloop.actions.lives import create_live, start_live
    from liveloop.money.plans import save_plan
    from liveloop.orgs.services import create_org
    from liveloop.promoters.models import Promoter, Team
    from liveloop.actions.promoters import NewPromoter, enrol

    call_command("migrate", interactive=False, verbosity=0)
    began = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)
    worlds = []
    for n in range(int(count)):
        org, key = create_org(f"并发测试{n}", slug=f"concurrency-{n}")
        account = Account.objects.create(org=org, name="官方号")
        save_plan(org, None, name="标准", make_default=True, override_levels=1,
                  fields={"rate_bps": 1000, "reservation_bounty_fen": 10, "new_buyer_bounty_fen": 200,
                          "override_bps": (200,)})
        live = create_live(org, account=account, title="并发直播", announced_at=began)
        enrol(live.programme, [NewPromoter(name=f"推广员{p}", code=f"C{p:02d}", team=f"门店{p % 2}")
                               for p in range(PROMOTERS)])
        for team in Team.objects.for_org(org):
            team.leader = Promoter.objects.for_org(org).filter(team=team).order_by("code").first()
            team.save()
        start_live(live, began)
        worlds.append({"slug": org.slug, "key": key, "live": live.public_id, "started": began.isoformat()})
    return worlds


def _figures_of(slug) -> dict:
    from django.db.models import Sum

    from liveloop.analytics import models as analytics
    from liveloop.events.models import LiveViewer, Order
    from liveloop.lives.models import Live
    from liveloop.money.models import Entry
    from liveloop.orgs.models import Organisation
    from liveloop.promoters.models import Promoter

    org = Organisation.objects.get(slug=slug)
    live = Live.objects.for_org(org).get()
    codes = dict(Promoter.objects.for_org(org).values_list("pk", "code"))

    def rows(model):
        keyed = []
        for row in model.objects.for_org(org).filter(live=live).values():
            for name in ("id", "org_id", "live_id"):
                row.pop(name, None)
            for name, value in row.items():
                field = model._meta.get_field(name.removesuffix("_id"))
                if field.is_relation and field.related_model is Promoter:
                    row[name] = codes.get(value)
            keyed.append(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False))
        return sorted(keyed)

    tables = {model.__name__: rows(model) for model in (
        analytics.PromoterStats, analytics.LiveStats, analytics.LiveMinute, analytics.AudienceStats,
        analytics.LiveAudience, analytics.AudienceViewer, analytics.ReservationSignal, LiveViewer, Order)}
    # What each promoter holds for the live. Not per kind: one batch nets a rise and a fall into
    # one accrual where two sends write an accrual and a reversal.
    estimates = {codes[p]: total for p, total in
                 Entry.objects.for_org(org).filter(live=live).values("promoter_id")
                 .annotate(total=Sum("amount")).values_list("promoter_id", "total")}
    return {"tables": tables, "estimates": estimates}


def _one_by_one(slug, path) -> dict:
    """Ingest each event of a file in its own call, in the file's order (what one client sending
    them one at a time gets, without HTTP's cost per request)."""
    from django.db import transaction

    from liveloop.events.ingest import ingest
    from liveloop.orgs.models import Organisation

    org = Organisation.objects.get(slug=slug)
    accepted = calls = 0
    # One outer transaction spares a disk flush per event; each call is still applied alone.
    with transaction.atomic():
        for event in json.loads(Path(path).read_text()):
            accepted += ingest(org, [event], source="api").accepted
            calls += 1
    return {"accepted": accepted, "calls": calls}


def _log(slug) -> list[str]:
    """The ids the clients sent, in log order (the live's own start is in the log too)."""
    from liveloop.events.models import Event
    from liveloop.orgs.models import Organisation

    org = Organisation.objects.get(slug=slug)
    return list(Event.objects.for_org(org).filter(source="api").order_by("seq").values_list("eid", flat=True))


if __name__ == "__main__":
    _django()
    command, *rest = sys.argv[1:]
    result = {"setup": _setup, "figures": _figures_of, "log": _log, "one-by-one": _one_by_one}[command](*rest)
    print(json.dumps(result, ensure_ascii=False, default=str))
