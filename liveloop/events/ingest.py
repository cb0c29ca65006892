"""The one write path for facts: every source (HTTP, files, WeChat push, demo, the operator's
own state changes) ends in `ingest` or `apply_events`.

One call is one transaction, a pipeline: parse → deduplicate → resolve (lives, promoter
codes, persons) → the order-dependent rules (`rules.attribution`, `rules.identity`) decide
each fact and what it counts → append to the log, write the viewers', orders' and links'
state → each registered projection (events.projections: figures, audience, fraud flags,
commission accrual) takes the batch's accepted facts and writes its tables. Events are applied
in the order given, which is the order of the log's sequence, so a replay
(`liveloop.events.rebuild`) reaches the same state.
"""
from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone

from django.conf import settings
from django.db import connection, transaction

from liveloop.events import own_ids
from liveloop.events.models import Event, LiveViewer, Order, ViewerLink
from liveloop.events.projections import NO_STATE, registered
from liveloop.lib.bulk import (insert_rows, json_text, lock_org, select_in, sql_ids, table, time_adapter,
                               time_reader, update_rows)
from liveloop.lives.models import Live
from liveloop.overload import Overloaded
from liveloop.promoters.models import Enrolment, Programme, Promoter
from liveloop.rules.attribution import Attribution, Fact, LiveState, OrderState, Rejected, ViewerState
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


def apply_events(org, events: list[tuple[int, IncomingEvent]], source: str) -> IngestResult:
    result = IngestResult()
    with _writer_turn(), transaction.atomic():
        lock_org(org.pk)
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
    Elsewhere (PostgreSQL, an in-memory database) nothing to do: see lib.bulk.lock_org."""
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


def _drop_duplicates(org, events, result: IngestResult):
    ids = {event.id for _, event in events}
    seen = {eid for eid, in select_in(f"SELECT eid FROM {table(Event)} WHERE org_id = %s AND eid", org.pk, ids)}
    fresh = []
    for index, event in events:
        if event.id in seen:
            result.duplicates += 1
        else:
            fresh.append((index, event))
    return fresh


@dataclass
class Batch:
    """What a batch resolved, for the projections: its organisation, its fresh events, the lives
    they name (public id → live id), every viewer id it can touch, and the rules' state after it."""
    org: object
    events: list
    lives: dict  # public id -> Live row id
    live_ids: list
    viewer_ids: set
    attribution: Attribution
    identities: Identities
    known_viewers: dict  # (live, viewer) -> LiveViewer row id, for those stored before
    known_orders: dict   # order id -> Order row id, for those stored before
    _moved: set | None = None

    def own_ids_moved(self) -> set[int]:
        """The promoters whose own ids this batch's links moved (events.own_ids), asked once."""
        if self._moved is None:
            self._moved = own_ids.moved(self.org, self.identities)
        return self._moved


def _resolve(org, events) -> Batch:
    """Load the lives, programme members, persons, viewers and orders a batch names."""
    public_ids = {e.live for _, e in events if e.live is not None}
    lives, states = {}, {}
    # A live's programme and stats rows are made with it (actions.lives), as select_related
    # assumed before: the joins drop no live.
    for pk, public_id, state, mode, binding_days, peak_online, lapsed, showed_up in select_in(
            f"SELECT l.id, l.public_id, l.state, p.mode, p.binding_days, s.peak_online, "
            f"s.reservations_lapsed, s.showed_up FROM {table(Live)} l "
            f"JOIN {table(_related(Live, 'programme'))} p ON p.live_id = l.id "
            f"JOIN {table(_related(Live, 'stats'))} s ON s.live_id = l.id WHERE l.org_id = %s AND l.public_id",
            org.pk, public_ids):
        lives[public_id] = pk
        states[pk] = LiveState(mode=mode, binding_days=binding_days, state=state, peak_online=peak_online,
                               lapsed=lapsed, showed_up=showed_up)
    live_ids = list(states)

    # Every id the batch names: the events' viewers and the other ids in their attrs (worked
    # out once: the ids, whether the batch declares links, and the lookups all need them).
    linked = {o for _, e in events for o in linked_ids(e.viewer, e.attrs)}
    ids = {e.viewer for _, e in events} | linked
    identities = load_identities(org, ids, declares_links=bool(linked))
    # Every person an event of this batch can resolve to, links made within the batch included:
    # every id the batch names and the persons they already belong to. Also the ids of events
    # that name no live (an identify, a capture outside a live): a link they make can send a
    # later event of the batch to a person whose row in a live exists but was not loaded.
    viewer_ids = ids | set(identities.persons.values())
    known_viewers = {}
    viewers = {}
    read_time = time_reader()
    # No live, no viewer row to look for (and no values, no query: `IN ()` is never run).
    for pk, live_id, viewer, bound, bound_at, *state in select_in(
            f"SELECT id, live_id, viewer, {_names(VIEWER_COLUMNS)} FROM {table(LiveViewer)} "
            f"WHERE org_id = %s AND live_id IN ({sql_ids(live_ids)}) AND viewer", org.pk,
            viewer_ids if live_ids else ()):  # VIEWER_COLUMNS start bound, bound_at (ViewerState)
        known_viewers[(live_id, viewer)] = pk
        viewers[(live_id, viewer)] = ViewerState(bound, read_time(bound_at), *state)

    order_ids = {e.order for _, e in events if e.order is not None}
    known_orders = {}
    orders = {}
    for pk, order, *state in select_in(
            f"SELECT id, {_names(('order', *ORDER_COLUMNS))} FROM {table(Order)} "
            f"WHERE org_id = %s AND {_names(['order'])}", org.pk, order_ids):
        known_orders[order] = pk
        orders[order] = OrderState(*state)
    # Figures are added up by the projections in the database, not kept here (tally=False).
    attribution = Attribution(lives=states, viewers=viewers, orders=orders, tally=False)
    return Batch(org, events, lives, live_ids, viewer_ids, attribution, identities, known_viewers, known_orders)


def _members(org, events, live_ids) -> dict:
    """(live id, promoter code) -> promoter id of the active programme members a batch names."""
    codes = {e.promoter for _, e in events if e.promoter is not None}
    if not live_ids:
        return {}
    return {(live_id, code): promoter_id for live_id, code, promoter_id in select_in(
        f"SELECT p.live_id, m.code, e.promoter_id FROM {table(Enrolment)} e "
        f"JOIN {table(Programme)} p ON p.id = e.programme_id JOIN {table(Promoter)} m ON m.id = e.promoter_id "
        f"WHERE e.org_id = %s AND e.active AND p.live_id IN ({sql_ids(live_ids)}) AND m.code", org.pk, codes)}


def _apply(org, events, source: str, result: IngestResult) -> None:
    batch = _resolve(org, events)
    members = _members(org, events, batch.live_ids)
    lives, attribution, identities = batch.lives, batch.attribution, batch.identities
    projections = [(projection, projection.load(batch)) for projection in registered()]
    listening = [(projection.fact, state) for projection, state in projections
                 if projection.per_fact and state is not NO_STATE]
    adapt = time_adapter()
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
            promoter_id = members.get((live, event.promoter)) if live is not None else None
            if promoter_id is None:
                result.notes.append({"index": index, "id": event.id,
                                     "note": f"promoter {event.promoter!r} is not in this live's "
                                             "programme: kept, not used for attribution"})
        # One person, many ids (rules.identity): the event counts for the person its viewer id
        # belongs to, links it declares included; the links stand only if the event is accepted.
        person, links = identities.propose(event.viewer, event.attrs)
        fact = Fact(event.type, live, person, promoter_id, event.order,
                    event.amount, event.count, event.at, event.attrs, event.touchpoint)
        try:
            counted = attribution.apply(fact)
        except Rejected as error:
            result.rejected.append({"index": index, "id": event.id, "error": str(error)})
            continue
        for take, state in listening:
            take(state, fact, counted)
        if links:
            identities.commit(links)
        rows.append((org.pk, event.id, event.type, fact.live, event.viewer, event.promoter,
                     promoter_id, event.order, event.amount, event.count, adapt(event.at),
                     event.touchpoint, json_text(event.attrs), source,
                     person if person != event.viewer else None))
        accepted_ids.add(event.id)
    insert_rows(Event, EVENT_COLUMNS, rows)
    result.accepted = len(rows)
    write_state(org, attribution, batch.known_viewers, batch.known_orders)
    write_identities(org, identities)
    for projection, state in projections:
        projection.write(batch, state)


def load_identities(org, ids, declares_links: bool) -> Identities:
    """The links of `ids`, every id a batch names (viewers and the ids in their attrs)."""
    identities = Identities()
    if not declares_links:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table(ViewerLink)} WHERE org_id = %s LIMIT 1", [org.pk])
            if cursor.fetchone() is None:
                return identities  # nobody has declared a link yet: every id is its own person
    identities.persons.update(select_in(
        f"SELECT viewer, person FROM {table(ViewerLink)} WHERE org_id = %s AND viewer", org.pk, ids))
    return identities


def write_identities(org, identities: Identities) -> None:
    if not identities.changed:
        return
    final = identities.final()
    for merged, person in identities.merged.items():
        # Ids of the merged person this batch did not load move too.
        ViewerLink.objects.for_org(org).filter(person=merged).update(person=identities.person_of(person))
    known = dict(select_in(f"SELECT viewer, id FROM {table(ViewerLink)} WHERE org_id = %s AND viewer",
                           org.pk, identities.changed))
    insert_rows(ViewerLink, ("org_id", "viewer", "person"),
            [(org.pk, v, final[v]) for v in identities.changed if v not in known])
    update_rows(ViewerLink, {"id": "bigint", "person": "text"},
            [(known[v], final[v]) for v in identities.changed if v in known],
            sets="person = v.person", where="t.id = v.id")


def write_state(org, attribution: Attribution, known_viewers: dict, known_orders: dict) -> None:
    """Write what `attribution` changed: new and changed viewers and orders, the lives' state
    (the figures are the projections', analytics.live_figures)."""
    adapt = time_adapter()
    new_viewers, changed_viewers = [], []
    for key in attribution.changed_viewers:
        v = attribution.viewers[key]
        values = (v.bound, adapt(v.bound_at), v.reserved, v.reserved_for, v.entered, v.bought,
                  v.followed, v.captured, v.entered_for)
        if key in known_viewers:
            changed_viewers.append((known_viewers[key], *values))
        else:
            new_viewers.append((org.pk, *key, *values))
    insert_rows(LiveViewer, ("org_id", "live_id", "viewer", *VIEWER_COLUMNS), new_viewers)
    update_rows(LiveViewer, {"id": "bigint", **VIEWER_TYPES}, changed_viewers,
            sets=", ".join(f"{c} = v.{c}" for c in VIEWER_COLUMNS), where="t.id = v.id")

    new_orders, changed_orders = [], []
    for order_id in attribution.changed_orders:
        o = attribution.orders[order_id]
        if order_id in known_orders:
            changed_orders.append((known_orders[order_id], o.refunded, o.wechat, o.wechat_paid))
        else:
            new_orders.append((org.pk, order_id, o.live, o.viewer, o.promoter, o.paid, o.refunded,
                               o.wechat, o.wechat_paid))
    insert_rows(Order, ("org_id", "order", *ORDER_COLUMNS), new_orders)
    update_rows(Order, {"id": "bigint", "refunded": "bigint", "wechat": "text", "wechat_paid": "bigint"},
            changed_orders, sets="refunded = v.refunded, wechat = v.wechat, wechat_paid = v.wechat_paid",
            where="t.id = v.id")

    for live_id in attribution.reset_lives:
        LiveViewer.objects.for_org(org).filter(live_id=live_id, reserved=True).update(
            reserved=False, reserved_for=None)
    for live_id in attribution.changed_lives:
        Live.objects.for_org(org).filter(pk=live_id).update(state=attribution.lives[live_id].state)


EVENT_COLUMNS = ("org_id", "eid", "type", "live_id", "viewer", "promoter_code", "promoter_id",
                 "order", "amount", "count", "at", "touchpoint", "attrs", "source", "person")


def _related(model, name: str):
    """The model on the other side of `model`'s relation `name` (a reverse one-to-one included)."""
    return model._meta.get_field(name).related_model


def _names(columns) -> str:
    return ", ".join(map(connection.ops.quote_name, columns))


def _columns(model, state) -> tuple[str, ...]:
    """The columns of `model` holding the fields of the rules' dataclass `state`, in its order."""
    return tuple(model._meta.get_field(f.name).attname for f in fields(state))


_SQL_TYPES = {"ForeignKey": "bigint", "DateTimeField": "timestamptz", "BooleanField": "boolean"}
VIEWER_COLUMNS = _columns(LiveViewer, ViewerState)
VIEWER_TYPES = {LiveViewer._meta.get_field(f.name).attname: _SQL_TYPES[LiveViewer._meta.get_field(f.name)
                                                                        .get_internal_type()]
                for f in fields(ViewerState)}
ORDER_COLUMNS = _columns(Order, OrderState)
