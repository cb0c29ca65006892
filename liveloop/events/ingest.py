"""The one write path for facts: every source (HTTP, files, WeChat push, demo, the operator's
own state changes) ends in `ingest` or `apply_events`.

One call is one transaction: deduplicate by id, resolve lives and promoter codes, let
`rules.attribution` decide credit, append to the log and add the deltas to the derived tables.
Events are applied in the order given, which is the order of the log's sequence, so a replay
(`liveloop.events.rebuild`) reaches the same state.
"""
from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson
from django.conf import settings
from django.db import connection, transaction

from liveloop.analytics import audience as audience_tables
from liveloop.analytics import fraud as fraud_tables
from liveloop.analytics.models import LiveMinute, LiveStats, PromoterStats
from liveloop.events.models import Event, LiveViewer, Order, ViewerLink
from liveloop.lives.models import Live
from liveloop.money import ledger
from liveloop.overload import Overloaded
from liveloop.promoters.models import Enrolment
from liveloop.rules.attribution import (FIGURES, TRAFFIC, Attribution, Fact, LiveState, OrderState, Rejected,
                                        ViewerState)
from liveloop.rules.events import EventError, IncomingEvent, parse_event
from liveloop.rules.identity import Identities, linked_ids


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "notes": self.notes}

    def add(self, other: "IngestResult", offset: int = 0) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += [{**r, "index": r["index"] + offset} for r in other.rejected]
        self.notes += [{**n, "index": n["index"] + offset} for n in other.notes]


def ingest(org, raw_events: list, source: str = "api", now: datetime | None = None) -> IngestResult:
    """Validate and apply a batch of decoded JSON events for one organisation."""
    now = now or datetime.now(timezone.utc)
    result = IngestResult()
    parsed: list[tuple[int, IncomingEvent]] = []
    for index, raw in enumerate(raw_events):
        try:
            parsed.append((index, parse_event(raw, now)))
        except EventError as error:
            event_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
            result.rejected.append({"index": index, "id": event_id, "error": str(error)})
    applied = apply_events(org, parsed, source)
    result.accepted = applied.accepted
    result.duplicates = applied.duplicates
    result.rejected = sorted(result.rejected + applied.rejected, key=lambda r: r["index"])
    result.notes = applied.notes
    return result


def _chunks(items, size=500):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def apply_events(org, events: list[tuple[int, IncomingEvent]], source: str) -> IngestResult:
    result = IngestResult()
    with _writer_turn(), transaction.atomic():
        _lock_org(org)
        fresh = _drop_duplicates(org, events, result)
        if fresh:
            _apply(org, fresh, source, result)
    return result


@contextmanager
def _writer_turn():
    """On a SQLite file, an ingest waits for the write lock in the kernel, not in SQLite's busy
    handler, which polls with sleeps of up to 100 ms: under several concurrent ingest requests a
    waiting one kept missing its turn (p99 of 2 s with 4 clients, docs/performance.md). An
    exclusive flock on a file beside the database, taken before BEGIN IMMEDIATE, wakes the next
    ingest the moment the previous one releases it (closing the file, or the process dying).

    Only around a transaction this call opens: inside an outer one the database may already be
    locked by us, and waiting for the file then would wait on an ingest that waits on us.
    Elsewhere (PostgreSQL, an in-memory database) nothing to do: see _lock_org."""
    if connection.vendor != "sqlite" or connection.in_atomic_block or connection.is_in_memory_db():
        yield
        return
    # Bounded (settings.LIVELOOP_DB_LOCK_WAIT, queue and write lock together): behind a writer
    # that holds the database for long, a queue of ingests would otherwise each wait their own
    # full timeout in turn, past gunicorn's worker timeout. Over the bound: Overloaded (503).
    deadline = time.monotonic() + settings.LIVELOOP_DB_LOCK_WAIT
    with open(f"{connection.settings_dict['NAME']}-ingest.lock", "ab") as turn:
        _flock_before(turn, deadline)
        with _busy_timeout(deadline - time.monotonic()):
            yield


def _flock_before(turn, deadline: float) -> None:
    """The exclusive lock on the queue file, or Overloaded at the deadline. flock cannot wait
    with a timeout, so poll it, first every millisecond, backing off to 10 ms: the next ingest
    still starts within milliseconds of the previous one's end."""
    pause = 0.001
    while True:
        try:
            fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Overloaded("the ingest queue did not reach this request within the bound") from None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.01)


@contextmanager
def _busy_timeout(seconds: float):
    """SQLite waits for the write lock (BEGIN IMMEDIATE) at most what is left of the bound."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {max(1, int(seconds * 1000))}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(settings.LIVELOOP_DB_LOCK_WAIT * 1000)}")


def _lock_org(org) -> None:
    # Serialise ingest per organisation so the log's sequence is the order of application.
    # SQLite already serialises writers (BEGIN IMMEDIATE, see settings).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [org.pk])


def _drop_duplicates(org, events, result: IngestResult):
    ids = {event.id for _, event in events}
    seen = set()
    for chunk in _chunks(ids):
        seen.update(Event.objects.for_org(org).filter(eid__in=chunk).values_list("eid", flat=True))
    fresh = []
    for index, event in events:
        if event.id in seen:
            result.duplicates += 1
        else:
            fresh.append((index, event))
    return fresh


def _apply(org, events, source: str, result: IngestResult) -> None:
    public_ids = {e.live for _, e in events if e.live is not None}
    lives = {}
    for chunk in _chunks(public_ids):
        for live in (Live.objects.for_org(org).filter(public_id__in=chunk)
                     .select_related("programme", "stats")):
            lives[live.public_id] = live
    states = {live.pk: LiveState(mode=live.programme.mode, binding_days=live.programme.binding_days,
                                 state=live.state, peak_online=live.stats.peak_online,
                                 lapsed=live.stats.reservations_lapsed, showed_up=live.stats.showed_up)
              for live in lives.values()}
    live_ids = list(states)

    codes = {e.promoter for _, e in events if e.promoter is not None}
    members = {}
    for chunk in _chunks(codes):
        members.update({(live_id, code): promoter_id for live_id, code, promoter_id in
                        Enrolment.objects.for_org(org)
                        .filter(programme__live_id__in=live_ids, promoter__code__in=chunk, active=True)
                        .values_list("programme__live_id", "promoter__code", "promoter_id")})

    identities = load_identities(org, events)
    # Every person an event of this batch can resolve to, links made within the batch included:
    # every id the batch names and the persons they already belong to. Also the ids of events
    # that name no live (an identify, a capture outside a live): a link they make can send a
    # later event of the batch to a person whose row in a live exists but was not loaded.
    viewer_ids = batch_ids(events) | set(identities.persons.values())
    known_viewers = {}
    viewers = {}
    for chunk in _chunks(viewer_ids):
        for pk, live_id, viewer, *state in (
                LiveViewer.objects.for_org(org).filter(live_id__in=live_ids, viewer__in=chunk)
                .values_list("pk", "live_id", "viewer", *VIEWER_COLUMNS)):
            known_viewers[(live_id, viewer)] = pk
            viewers[(live_id, viewer)] = ViewerState(*state)

    order_ids = {e.order for _, e in events if e.order is not None}
    known_orders = {}
    orders = {}
    for chunk in _chunks(order_ids):
        for pk, order, *state in (Order.objects.for_org(org).filter(order__in=chunk)
                                  .values_list("pk", "order", *ORDER_COLUMNS)):
            known_orders[order] = pk
            orders[order] = OrderState(*state)

    attribution = Attribution(lives=states, viewers=viewers, orders=orders)
    # The audience breakdowns, watch time and flywheel listen to attribution (rules.audience).
    audience = audience_tables.load(org, attribution, live_ids, viewer_ids)
    # Farmed and self-referred reservations are flagged on the promoter's row (rules.fraud).
    farm = fraud_tables.load(org, events, lives, viewer_ids)
    rows = []
    # Only an accepted id makes a later one a duplicate: a rejected event may be resent,
    # corrected, under the same id in the same batch.
    accepted_ids = set()
    for index, event in events:
        if event.id in accepted_ids:
            result.duplicates += 1
            continue
        live = lives.get(event.live) if event.live is not None else None
        if event.live is not None and live is None:
            result.rejected.append({"index": index, "id": event.id,
                                    "error": f"live: unknown live {event.live!r} in this organisation"})
            continue
        promoter_id = None
        if event.promoter is not None:
            promoter_id = members.get((live.pk, event.promoter)) if live else None
            if promoter_id is None:
                result.notes.append({"index": index, "id": event.id,
                                     "note": f"promoter {event.promoter!r} is not in this live's "
                                             "programme: kept, not used for attribution"})
        # One person, many ids (rules.identity): the event counts for the person its viewer id
        # belongs to, links it declares included; the links stand only if the event is accepted.
        person, links = identities.propose(event.viewer, event.attrs)
        fact = Fact(event.type, live.pk if live else None, person, promoter_id, event.order,
                    event.amount, event.count, event.at, event.attrs, event.touchpoint)
        try:
            farm.apply(audience, attribution, fact)
        except Rejected as error:
            result.rejected.append({"index": index, "id": event.id, "error": str(error)})
            continue
        identities.commit(links)
        rows.append((org.pk, event.id, event.type, fact.live, event.viewer, event.promoter,
                     promoter_id, event.order, event.amount, event.count, adapt_time(event.at),
                     event.touchpoint, _json(event.attrs), source,
                     person if person != event.viewer else None))
        accepted_ids.add(event.id)
    _insert(Event, EVENT_COLUMNS, rows)
    result.accepted = len(rows)
    write_state(org, attribution, known_viewers, known_orders)
    write_identities(org, identities)
    # Commission estimates move with the figures, in the same transaction (money/ledger.py).
    touched = ledger.touched_by_batch(org, attribution, known_orders)
    moved = fraud_tables.own_ids_moved(org, identities)
    ledger.accrue(org, ledger.touched_by_own_ids(org, touched, moved) if moved else touched)
    audience_tables.write(org, audience)
    fraud_tables.write(org, farm)
    fraud_tables.after_batch(org, farm, attribution, identities)


def batch_ids(events) -> set[str]:
    """Every id a batch names: the events' viewers and the other ids in their attrs."""
    return {e.viewer for _, e in events} | {o for _, e in events for o in linked_ids(e.viewer, e.attrs)}


def load_identities(org, events) -> Identities:
    """The links of every id a batch names (viewers and the ids in their attrs)."""
    ids = batch_ids(events)
    identities = Identities()
    if not any(linked_ids(e.viewer, e.attrs) for _, e in events) and not \
            ViewerLink.objects.for_org(org).exists():
        return identities  # nobody has declared a link yet: every id is its own person
    for chunk in _chunks(ids):
        identities.persons.update(ViewerLink.objects.for_org(org).filter(viewer__in=chunk)
                                  .values_list("viewer", "person"))
    return identities


def write_identities(org, identities: Identities) -> None:
    if not identities.changed:
        return
    final = identities.final()
    for merged, person in identities.merged.items():
        # Ids of the merged person this batch did not load move too.
        ViewerLink.objects.for_org(org).filter(person=merged).update(person=identities.person_of(person))
    known = {}
    for chunk in _chunks(identities.changed):
        known.update(ViewerLink.objects.for_org(org).filter(viewer__in=chunk).values_list("viewer", "pk"))
    _insert(ViewerLink, ("org_id", "viewer", "person"),
            [(org.pk, v, final[v]) for v in identities.changed if v not in known])
    _update(ViewerLink, {"id": "bigint", "person": "text"},
            [(known[v], final[v]) for v in identities.changed if v in known],
            sets="person = v.person", where="t.id = v.id")


def write_state(org, attribution: Attribution, known_viewers: dict, known_orders: dict) -> None:
    """Write what `attribution` changed: new and changed viewers and orders, figure deltas."""
    new_viewers, changed_viewers = [], []
    for key in attribution.changed_viewers:
        v = attribution.viewers[key]
        values = (v.bound, adapt_time(v.bound_at), v.reserved, v.reserved_for, v.entered, v.bought,
                  v.followed, v.captured, v.entered_for)
        if key in known_viewers:
            changed_viewers.append((known_viewers[key], *values))
        else:
            new_viewers.append((org.pk, *key, *values))
    _insert(LiveViewer, ("org_id", "live_id", "viewer", *VIEWER_COLUMNS), new_viewers)
    _update(LiveViewer, {"id": "bigint", **VIEWER_TYPES}, changed_viewers,
            sets=", ".join(f"{c} = v.{c}" for c in VIEWER_COLUMNS), where="t.id = v.id")

    new_orders, changed_orders = [], []
    for order_id in attribution.changed_orders:
        o = attribution.orders[order_id]
        if order_id in known_orders:
            changed_orders.append((known_orders[order_id], o.refunded))
        else:
            new_orders.append((org.pk, order_id, o.live, o.viewer, o.promoter, o.paid, o.refunded))
    _insert(Order, ("org_id", "order", *ORDER_COLUMNS), new_orders)
    _update(Order, {"id": "bigint", "refunded": "bigint"}, changed_orders,
            sets="refunded = v.refunded", where="t.id = v.id")

    deltas = [(live_id, promoter_id, *delta)
              for (live_id, promoter_id), delta in attribution.stats.items() if any(delta)]
    # Promoters' rows by plain equality, the unattributed rows (promoter NULL) apart: matching
    # both in one join (`= OR both NULL`) made PostgreSQL hash on the live alone and test every
    # pair of rows, 13 ms a batch with 1,000 promoters (docs/performance.md).
    figures, adds = dict.fromkeys(FIGURES, "bigint"), ", ".join(f"{f} = t.{f} + v.{f}" for f in FIGURES)
    _update(PromoterStats, {"live_id": "bigint", "promoter_id": "bigint", **figures},
            [d for d in deltas if d[1] is not None], sets=adds,
            where=f"t.org_id = {int(org.pk)} AND t.live_id = v.live_id AND t.promoter_id = v.promoter_id")
    _update(PromoterStats, {"live_id": "bigint", **figures},
            [(d[0], *d[2:]) for d in deltas if d[1] is None], sets=adds,
            where=f"t.org_id = {int(org.pk)} AND t.live_id = v.live_id AND t.promoter_id IS NULL")

    keys = {k for k, v in attribution.minutes.items() if any(v)}
    keys |= {k for k, v in attribution.traffic.items() if any(v)}
    _add_minutes(org, [(live_id, adapt_time(minute), *attribution.minutes.get((live_id, minute), ZERO_FIGURES),
                        *attribution.traffic.get((live_id, minute), ZERO_TRAFFIC))
                       for live_id, minute in keys])

    for live_id in attribution.reset_lives:
        PromoterStats.objects.for_org(org).filter(live_id=live_id).update(reservations=0)
        LiveViewer.objects.for_org(org).filter(live_id=live_id, reserved=True).update(
            reserved=False, reserved_for=None)
    for live_id in attribution.changed_lives:
        live = attribution.lives[live_id]
        LiveStats.objects.for_org(org).filter(live_id=live_id).update(
            peak_online=live.peak_online, reservations_lapsed=live.lapsed, showed_up=live.showed_up)
        Live.objects.for_org(org).filter(pk=live_id).update(state=live.state)


# Ingest writes plain values, never model instances (building them cost two thirds of ingest
# time), and on PostgreSQL in one statement per table (COPY, and UPDATE … FROM unnest of
# arrays): a statement per row is parsed and planned per row, and a statement with thousands of
# placeholders is re-split by the driver on every call (docs/performance.md).
EVENT_COLUMNS = ("org_id", "eid", "type", "live_id", "viewer", "promoter_code", "promoter_id",
                 "order", "amount", "count", "at", "touchpoint", "attrs", "source", "person")
VIEWER_COLUMNS = ("bound_id", "bound_at", "reserved", "reserved_for_id", "entered", "bought",
                  "followed", "captured", "entered_for_id")  # the order of ViewerState's fields
VIEWER_TYPES = {"bound_id": "bigint", "bound_at": "timestamptz", "reserved": "boolean",
                "reserved_for_id": "bigint", "entered": "boolean", "bought": "boolean",
                "followed": "boolean", "captured": "boolean", "entered_for_id": "bigint"}
ORDER_COLUMNS = ("live_id", "viewer", "promoter_id", "paid", "refunded")  # OrderState's fields
ZERO_FIGURES = (0,) * len(FIGURES)
ZERO_TRAFFIC = (0,) * len(TRAFFIC)


def adapt_time(value):
    return connection.ops.adapt_datetimefield_value(value)


def _json(value):
    return None if value is None else orjson.dumps(value).decode()


def _insert(model, columns, rows) -> None:
    if not rows:
        return
    quote = connection.ops.quote_name
    table, names = quote(model._meta.db_table), ", ".join(map(quote, columns))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
                               rows)


def _update(model, types: dict[str, str], rows, *, sets: str, where: str) -> None:
    """UPDATE model's table (alias t) from rows of values (alias v, columns named by `types`)."""
    if not rows:
        return
    columns = list(types)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"CAST(%s AS {types[c]}[])" for c in columns)
            cursor.execute(f"UPDATE {table} AS t SET {sets} FROM unnest({arrays}) "
                           f"AS v({', '.join(columns)}) WHERE {where}",
                           [list(column) for column in zip(*rows)])
        else:
            # SQLite prepares this once and runs it per row (UPDATE … FROM needs SQLite ≥ 3.33).
            cursor.executemany(f"WITH v ({', '.join(columns)}) AS (VALUES ({', '.join(['%s'] * len(columns))})) "
                               f"UPDATE {table} AS t SET {sets} FROM v WHERE {where}", rows)


def _add_minutes(org, rows) -> None:
    """Add per-minute deltas, creating the minute's row when it is the first event in it."""
    add_rows(org, LiveMinute, ("live_id", "minute"), ("bigint", "timestamptz"),
             (*FIGURES, "room_enters", "room_leaves"), rows, peaks=("online_peak",))


def add_rows(org, model, keys, key_types, adds, rows, peaks=()) -> None:
    """Add deltas to the rows of `model` named by `keys` (with org), creating a row the first
    time (ON CONFLICT): `adds` columns are summed, `peaks` keep their maximum. One statement on
    PostgreSQL (INSERT … SELECT FROM unnest), one prepared statement on SQLite."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = (*keys, *adds, *peaks)
    greatest = "GREATEST" if connection.vendor == "postgresql" else "max"  # SQLite's max(a, b)
    sets = [f"{f} = {table}.{f} + excluded.{f}" for f in adds]
    sets += [f"{f} = {greatest}({table}.{f}, excluded.{f})" for f in peaks]
    conflict = f"ON CONFLICT (org_id, {', '.join(keys)}) DO UPDATE SET {', '.join(sets)}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = (*key_types, *["bigint"] * (len(adds) + len(peaks)))
            arrays = ", ".join(f"CAST(%s AS {t}[])" for t in types)
            cursor.execute(f"INSERT INTO {table} (org_id, {', '.join(columns)}) "
                           f"SELECT {int(org.pk)}, * FROM unnest({arrays}) {conflict}",
                           [list(column) for column in zip(*rows)])
        else:
            cursor.executemany(f"INSERT INTO {table} (org_id, {', '.join(columns)}) "
                               f"VALUES ({int(org.pk)}, {', '.join(['%s'] * len(columns))}) {conflict}",
                               rows)
