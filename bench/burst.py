"""A live starts: 100,000 room entries and 5,000 orders arrive within a minute, from 20 clients,
while the operator's live room polls its data every 500 ms.

    .venv/bin/python bench/burst.py                                   # SQLite and PostgreSQL
    .venv/bin/python bench/burst.py --quick --engines sqlite           # smoke run, a few seconds

The real server runs as `make demo` runs it (`liveloop serve`: gunicorn, 2 workers × 4 threads),
on a fresh database per engine (bench/harness.py). The batches (at most 500 events, as a producer
sends them) are released on a schedule that spreads them evenly over `--seconds`; each of the
clients takes the next released batch and posts it, so when the server falls behind, the batches
queue at the clients and the run takes longer: the figure is how long it took, not a dropped
event. Nothing is retried: an answer other than 200 (or a failed connection), or an event not
accepted, is counted. A client idle for more than a second opens a fresh connection, as a
client library's pool would: gunicorn closes idle keep-alive connections after 2 s.
Afterwards the log is counted: every event sent must be in it.

Meanwhile a poller signed in as the brand's owner asks for `/lives/<id>/room/data/` (the htmx
request of the live room page) every 500 ms over its own connection and records each answer's
time and status.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import OPENID, PRICES, TOUCHPOINTS, promoter_codes  # noqa: E402
from bench.harness import machine, run_each, run_engine, write_report  # noqa: E402

ENGINES = ("sqlite", "postgresql")
POLL_EVERY = 0.5
STALE = 1.0  # seconds idle after which a client does not reuse its connection


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enters", type=_positive, default=100_000, help="room_enter events (default 100,000)")
    parser.add_argument("--orders", type=_positive, default=5_000, help="order_paid events (default 5,000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="the window they arrive in (default 60)")
    parser.add_argument("--clients", type=_positive, default=20)
    parser.add_argument("--batch", type=_positive, default=500)
    parser.add_argument("--promoters", type=_positive, default=1000)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="5,000 entries and 250 orders in 5 s")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--engine-run", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.enters, args.orders, args.seconds = min(args.enters, 5_000), min(args.orders, 250), 5.0
        args.promoters = min(args.promoters, 100)
    if args.engine_run:
        return engine_run(args)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    report = {"started": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "enters": args.enters,
              "orders": args.orders, "window_seconds": args.seconds, "clients": args.clients,
              "batch": args.batch, "promoters": args.promoters, "machine": machine(), "engines": {}}
    arguments = ["--enters", str(args.enters), "--orders", str(args.orders), "--seconds", str(args.seconds),
                 "--clients", str(args.clients), "--batch", str(args.batch),
                 "--promoters", str(args.promoters), "--seed", str(args.seed)]
    failed = run_each(engines, report, f"{args.enters:,} entries + {args.orders:,} orders in {args.seconds:g} s",
                      lambda engine: run_engine(engine, Path(__file__).resolve(), arguments,
                                                keep=args.keep, prefix="liveloop-burst-bench"))
    print()
    print(render(report))
    write_report("burst", report)
    return 1 if failed or any(not f.get("ok") for f in report["engines"].values()) else 0


def render(report: dict) -> str:
    lines = []
    for engine, f in report["engines"].items():
        if "error" in f:
            lines.append(f"{engine}: FAILED: {f['error']}")
            continue
        lines.append(
            f"{engine}: sent {f['sent']:,}, accepted {f['accepted']:,}, in the log {f['logged']:,}, "
            f"refused {f['refused_requests']} request(s); {f['seconds']:.1f} s for a "
            f"{f['window_seconds']:g} s window ({f['rate']:,.0f} ev/s, {f['rate'] / f['offered_rate']:.2f}× "
            f"the offered {f['offered_rate']:,.0f} ev/s)")
        lines.append(f"    POST latency p50 {f['p50_ms']:.0f} ms, p99 {f['p99_ms']:.0f} ms, max {f['max_ms']:.0f} ms; "
                     f"batches started up to {f['max_lag_s']:.1f} s after release")
        p = f["poll"]
        lines.append(f"    room data poll: {p['requests']} requests, p50 {p['p50_ms']:.0f} ms, "
                     f"p99 {p['p99_ms']:.0f} ms, max {p['max_ms']:.0f} ms, errors {p['errors']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------

def engine_run(args) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client

    from bench.ingest import _Autoanalyze, _live, _tenant
    from liveloop.events.models import Event
    from liveloop.actions.lives import start_live
    from liveloop.orgs.models import Member
    from liveloop.orgs.services import add_member

    call_command("migrate", interactive=False, verbosity=0)
    autovacuum = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('autovacuum')")
            autovacuum = cursor.fetchone()[0]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    codes = promoter_codes(args.promoters, args.seed)
    org, key = _tenant()
    live, _ids = _live(org, "开播洪峰基准", codes)
    # Announced a while ago and on air since two minutes before the burst, as a live starting is.
    type(live).objects.filter(pk=live.pk).update(announced_at=now - timedelta(minutes=10))
    live.refresh_from_db()
    start_live(live, now - timedelta(minutes=2))
    owner = Client()
    owner.force_login(add_member(org, "burst-owner", Member.OWNER).user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={owner.cookies[settings.SESSION_COOKIE_NAME].value}"
    batches = _burst(live.public_id, codes, args, now)
    bodies = [json.dumps(batch).encode() for batch in batches]
    before = Event.objects.for_org(org).filter(live=live).count()  # start_live's own event
    connections.close_all()  # SQLite has one writer: the server must not wait on us.

    with _Autoanalyze(autovacuum == "off"):
        figures = _run(bodies, key, cookie, live.public_id, args)
    logged = Event.objects.for_org(org).filter(live=live).count() - before
    sent = sum(map(len, batches))
    offered = sent / args.seconds
    figures.update({"engine": args.engine_run, "autovacuum": autovacuum, "sent": sent, "logged": logged,
                    "window_seconds": args.seconds, "offered_rate": round(offered, 1),
                    "rate": round(sent / figures["seconds"], 1)})
    figures["ok"] = (logged == sent == figures["accepted"] and not figures["refused_requests"]
                     and not figures["rejected_events"])
    Path(args.out).write_text(json.dumps(figures))
    return 0


def _burst(live: str, codes: list[str], args, now: datetime) -> list[list[dict]]:
    """Room entries (40% through a promoter's link, as the demo's stream has) with the orders
    spread among them; each order is paid by a viewer who entered earlier in the same batch, so
    batches stay valid in whatever order the clients deliver them. The events are stamped over
    the minute before `now` (the server rejects times in the future)."""
    rng = random.Random(f"burst-{args.seed}")
    total = args.enters + args.orders
    per_batch = -(-total // -(-total // args.batch))  # batches as even as `--batch` allows
    order_every = total / args.orders
    batches, batch, entered, previous = [], [], [], []
    next_order = order_every
    enters = orders = 0
    while enters + orders < total:
        index = enters + orders
        at = (now - timedelta(seconds=60) + timedelta(seconds=60 * index / total)).isoformat(timespec="milliseconds")
        if orders < args.orders and (index + 1 >= next_order or enters == args.enters) \
                and (entered or enters == args.enters):
            # Only when the entries are all placed may an order's viewer come from an earlier batch.
            viewer = rng.choice(entered or previous)
            event = {"type": "order_paid", "viewer": viewer, "order": str(rng.randrange(10**18, 2**63)),
                     "amount": rng.choice(PRICES) * rng.randint(1, 3)}
            if rng.random() < 0.3:
                event["promoter"] = rng.choice(codes)
            orders += 1
            next_order += order_every
        else:
            viewer = "o" + "".join(rng.choice(OPENID) for _ in range(27))
            entered.append(viewer)
            event = {"type": "room_enter", "viewer": viewer, "touchpoint": "live"}
            if rng.random() < 0.4:
                event.update(promoter=rng.choice(codes), touchpoint=rng.choice(TOUCHPOINTS))
            enters += 1
        event.update(id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), live=live, at=at)
        batch.append(event)
        if len(batch) == per_batch:
            batches.append(batch)
            batch, entered, previous = [], [], entered or previous
    if batch:
        batches.append(batch)
    return batches


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else 0.0


def _run(bodies: list[bytes], key: str, cookie: str, live: str, args) -> dict:
    from bench.ingest import Server, post

    server = Server(Path(os.environ["LIVELOOP_DATA_DIR"]) / "server.log")
    lock = threading.Lock()
    latencies, lags, answers, refused = [], [], [], []
    polls: list[float] = []
    poll_errors: list[str] = []
    done = threading.Event()
    pending = iter(range(len(bodies)))
    spacing = args.seconds / len(bodies)
    try:
        server.wait_ready(key)
        started = time.perf_counter()

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
            last_answer = time.perf_counter()
            try:
                while True:
                    with lock:
                        index = next(pending, None)
                    if index is None:
                        return
                    release = started + index * spacing
                    wait = release - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    before = time.perf_counter()
                    if before - last_answer > STALE:
                        # gunicorn closes a keep-alive connection idle for 2 s; a paced client
                        # waits longer than that between batches, so it opens a new one, as
                        # an HTTP client library's pool would.
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
                    try:
                        status, body = post(conn, key, bodies[index])
                    except (OSError, http.client.HTTPException) as error:
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
                        status, body = 0, repr(error).encode()
                    last_answer = time.perf_counter()
                    elapsed = last_answer - before
                    with lock:
                        lags.append(before - release)
                        latencies.append(elapsed)
                        if status == 200:
                            answers.append(json.loads(body))
                        else:
                            refused.append(f"batch {index}: {status} {body[:200]!r}")
            finally:
                conn.close()

        def poller() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            headers = {"Cookie": cookie, "HX-Request": "true"}
            try:
                while not done.is_set():
                    before = time.perf_counter()
                    try:
                        conn.request("GET", f"/lives/{live}/room/data/", headers=headers)
                        response = conn.getresponse()
                        response.read()
                        if response.status != 200:
                            poll_errors.append(f"HTTP {response.status}")
                    except (OSError, http.client.HTTPException) as error:
                        poll_errors.append(repr(error))
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                    polls.append(time.perf_counter() - before)
                    done.wait(max(0.0, POLL_EVERY - (time.perf_counter() - before)))
            finally:
                conn.close()

        watcher = threading.Thread(target=poller)
        watcher.start()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        done.set()
        watcher.join()
    finally:
        done.set()
        server.stop()
    ordered = sorted(latencies)
    poll_ordered = sorted(polls)
    rejected = [r for a in answers for r in a.get("rejected", [])]
    return {
        "requests": len(latencies), "seconds": round(seconds, 2),
        "accepted": sum(a["accepted"] for a in answers),
        "duplicates": sum(a["duplicates"] for a in answers),
        "rejected_events": len(rejected), "first_rejections": rejected[:3],
        "refused_requests": len(refused), "first_refusals": refused[:3],
        "p50_ms": round(_percentile(ordered, 0.5), 1), "p99_ms": round(_percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else 0.0,
        "max_lag_s": round(max(lags, default=0.0), 2),
        "poll": {"requests": len(polls), "errors": len(poll_errors), "first_errors": poll_errors[:3],
                 "p50_ms": round(_percentile(poll_ordered, 0.5), 1),
                 "p99_ms": round(_percentile(poll_ordered, 0.99), 1),
                 "max_ms": round(poll_ordered[-1] * 1000, 1) if poll_ordered else 0.0},
    }


if __name__ == "__main__":
    sys.exit(main())
