"""Replay the log and compare with, or replace, the derived state (docs/architecture.md
"Rebuild in parts").

A replay runs the same `rules.attribution` as ingest over the accepted events in sequence
order, starting from nothing, and hands each fact with what it counted to every registered
projection (events.projections); what they end with is what the derived tables must hold.

**In parts.** A viewer's state in a live (binding, reservation, entry, purchase), an order
with its refunds and a viewer's audience profile depend only on that person's own events and
on the live's transitions. So the log is replayed one group of persons at a time — a *part*:
the events whose person falls in it (`part_sql`, computed by the database, which sorts the
log by part in one query), with every live's transitions — and each part's per-viewer rows
are compared or written as soon as the part ends. Only totals outlive a part (figures per
promoter, minutes, audience breakdowns, the fraud clusters' keyed reservations) with the
identity links: memory is bounded by a part, not by the log. A refund or a WeChat commission naming a person of another part than the order's
buyer finds no order in its part: the replay then starts again in one part (`Parted`).

**Added up by the database.** What needs no order-dependent rule is not replayed: the room's
entries, exits and online samples per minute and the lives' online peak are one aggregate
query over the log (analytics.live_figures); `online` events never reach Python.

**Identity links** are replayed in one pass over the log (rules.identity), which checks the
person each event was recorded under; the parts then use the recorded person.

Three modes: KEEP (`replay`: one part, kept whole for `differences` or `replace` called
afterwards; what the tests and small logs use), CHECK (`check`) and REPLACE (`rebuild`): in
parts, each part compared or written as it ends.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from operator import attrgetter
from typing import Callable

from django.conf import settings
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils.dateparse import parse_datetime

from liveloop.events.ingest import ORDER_COLUMNS, VIEWER_COLUMNS
from liveloop.events.models import Event, LiveViewer, Order, ViewerLink
from liveloop.events.projections import CHECK, KEEP, NO_STATE, REPLACE, registered
from liveloop.lib.bulk import insert_all, json_value, lock_org, page_cache, table, time_adapter
from liveloop.lives.models import Live
from liveloop.promoters.models import Promoter
from liveloop.rules.attribution import (FIGURES, TRANSITIONS, Attribution, Fact, LiveState, OrderState, Rejected,
                                        ViewerState)
from liveloop.rules.identity import ID_ATTRS, Identities

# A state as the tuple of its fields (the order of VIEWER_COLUMNS and ORDER_COLUMNS). Not
# dataclasses.astuple: it deep-copies every field and was a third of a rebuild's time.
viewer_row = attrgetter(*(f.name for f in fields(ViewerState)))
order_row = attrgetter(*(f.name for f in fields(OrderState)))
DEFAULT_VIEWER = viewer_row(ViewerState())
LOG_COLUMNS = ("seq", "type", "live_id", "viewer", "promoter_id", "order", "amount", "count", "at", "attrs",
               "touchpoint", "person")
CHUNK = 5000
# Summed by the database, never replayed (analytics.live_figures reads them with one query).
SUMMED = ("online",)
# More parts than this buys nothing here: a part of a 5M-event log already fits in ~0.5 GB.
MAX_PARTS = 64
# A stop at the end of every part (money.check takes the final figures there).
END = 2 ** 62
# The facts that follow an order: their part must hold it.
FOLLOWING_ORDERS = ("order_refund", "commission_order")


def _zero() -> list[int]:
    return [0] * len(FIGURES)


@dataclass
class Replay:
    """A replay: its mode and number of parts, the totals merged over the parts done (the
    figures per live and promoter, the lives' state), the identity links, each projection's
    state, and the part being replayed (KEEP: the whole log's, kept)."""
    org: object
    mode: str
    parts: int
    identities: Identities
    lives: dict                 # live id -> LiveState, merged over the parts
    stats: defaultdict = field(default_factory=lambda: defaultdict(_zero))  # (live, promoter) -> FIGURES
    projections: list = field(default_factory=list)  # (projection, its state), in their order
    part: int = 0
    attribution: Attribution | None = None
    found: list = field(default_factory=list)  # CHECK: the differences of the parts done

    @cached_property
    def names(self) -> dict:
        """Live id → public id, for the differences' words."""
        return dict(Live.objects.for_org(self.org).values_list("pk", "public_id"))

    @cached_property
    def codes(self) -> dict:
        """Promoter id → code, for the differences' words."""
        return dict(Promoter.objects.for_org(self.org).values_list("pk", "code"))

    def in_part(self, queryset, column: str = "viewer"):
        """`queryset` (one table's) narrowed to the rows of the person ids of the part being
        replayed; all of them in a replay of one part."""
        if self.parts == 1:
            return queryset
        return queryset.alias(_part=RawSQL(f"{part_sql(connection.ops.quote_name(column))} %% %s",
                                           [self.parts])).filter(_part=self.part)


def part_sql(column: str) -> str:
    """The part number of a person id (before `% parts`), computed by the database from the
    codes of its last two characters and its middle one: the same for an event and for that
    person's rows in the derived tables, and spread evenly over random ids (openids, UUIDs),
    counters and ids with a fixed suffix. Each engine its own functions; a value is only
    ever compared within one engine."""
    if connection.vendor == "sqlite":
        return (f"coalesce(unicode(substr({column}, -1)) + 7 * coalesce(unicode(substr({column}, -2, 1)), 0)"
                f" + 31 * unicode(substr({column}, (length({column}) + 1) / 2, 1)), 0)")
    return (f"(ascii(right({column}, 1)) + 7 * ascii(left(right({column}, 2), 1))"
            f" + 31 * ascii(substr({column}, (length({column}) + 1) / 2, 1)))")


# --- the three ways in ----------------------------------------------------------------------------

class Parted(Exception):
    """A refund or a WeChat commission met in a part without its order: it names a person of
    another part than the order's buyer. The replay starts again in one part."""


def replay(org, progress: Callable[[int], None] | None = None,
           stops: dict[int, Callable[[Attribution, int, int], None]] | None = None) -> tuple[Replay, list[str]]:
    """Replay the whole log in one part and keep it for `differences` or `replace`.
    `stops`: {log position: callback(attribution, part, parts)}; each callback sees the rules'
    state (its figures added up: `Attribution.stats`) once every event up to that position is
    applied (settlement runs record the position they settled at); in parts, once per part
    (money.check adds them up; a replay started again in one part calls them again)."""
    return _run(org, KEEP, progress, stops, parts=1)


def check(org, progress=None, stops=None, parts: int | None = None) -> tuple[Replay, list[str]]:
    """Replay in parts, comparing each part as it ends: the replay's problems, then every
    difference between the stored tables and the replay, in words."""
    try:
        replayed, problems = _run(org, CHECK, progress, stops, parts)
    except Parted:
        replayed, problems = _run(org, CHECK, progress, stops, 1)
    return replayed, problems + replayed.found + _shared_differences(org, replayed)


# A 64 MB SQLite page cache while the tables are rewritten (lib.bulk.page_cache): with the
# default 2 MB the unique indexes' pages were read back again and again; a 1M-event rebuild
# took 28.2 s instead of 32.1, its peak memory 516 MB instead of 451 (docs/performance.md).
REPLACE_CACHE_KIB = 64 * 1024


def rebuild(org, progress=None, stops=None, parts: int | None = None) -> tuple[Replay, list[str]]:
    """Replay in parts and overwrite the derived tables with it, in one transaction (the log
    is untouched)."""
    with page_cache(REPLACE_CACHE_KIB), transaction.atomic():
        lock_org(org.pk)
        try:
            with transaction.atomic():  # a savepoint: the parts written before a restart go
                return _rewrite(org, progress, stops, parts)
        except Parted:
            return _rewrite(org, progress, stops, 1)


def _rewrite(org, progress, stops, parts) -> tuple[Replay, list[str]]:
    _clear_viewers(org)
    replayed, problems = _run(org, REPLACE, progress, stops, parts)
    _replace_shared(org, replayed)
    return replayed, problems


def differences(org, replay: Replay) -> list[str]:
    """What the stored state holds that a kept replay does not, and back, in words."""
    assert replay.mode == KEEP, "a replay in parts was compared as it went (check)"
    return _viewer_differences(org, replay, replay.attribution) + _shared_differences(org, replay)


def replace(org, replay: Replay) -> None:
    """Overwrite the derived tables with a kept replay (the log is untouched)."""
    assert replay.mode == KEEP, "a replay in parts was written as it went (rebuild)"
    with page_cache(REPLACE_CACHE_KIB), transaction.atomic():
        lock_org(org.pk)
        _clear_viewers(org)
        _write_viewers(org, replay.attribution)
        _replace_shared(org, replay)


# --- the replay -----------------------------------------------------------------------------------

def _run(org, mode: str, progress, stops, parts: int | None) -> tuple[Replay, list[str]]:
    total = Event.objects.for_org(org).count()
    parts = parts_for(total, parts)
    base = {live.pk: (live.programme.mode, live.programme.binding_days)
            for live in Live.objects.for_org(org).select_related("programme")}
    problems: list[str] = []
    in_org = _in_org(org, total)
    replayed = Replay(org, mode, parts, _identities(org, problems, in_org),
                      {pk: LiveState(mode=m, binding_days=days) for pk, (m, days) in base.items()})
    replayed.projections = [(projection, projection.start(replayed)) for projection in registered()]
    log = _log(org, parts, in_org)
    try:
        done = _parts(org, replayed, base, log, problems, stops or {}, progress)
    finally:
        log.close()  # its cursor closed now, before a restart's rollback (Parted)
    if progress:
        progress(total - done + done % CHUNK)  # the last chunk, and the events summed by the database
    return replayed, problems


def _parts(org, replayed: Replay, base: dict, log, problems: list[str], stops: dict, progress) -> int:
    """Replay each part of `log` in turn (see the module's docstring); the events replayed."""
    mode, parts = replayed.mode, replayed.parts
    done = 0
    for part, rows in log:
        attribution = Attribution(lives={pk: LiveState(mode=m, binding_days=days)
                                         for pk, (m, days) in base.items()})
        replayed.part, replayed.attribution = part, attribution
        feeding = [(projection, state, projection.part(replayed, state))
                   for projection, state in replayed.projections if state is not NO_STATE]
        listening = [(projection.fact, fed) for projection, _, fed in feeding if projection.per_fact]
        pending = sorted(stops)
        for seq, kind, live, viewer, promoter, order, amount, count, at, attrs, touchpoint, person in rows:
            while pending and seq > pending[0]:
                stops[pending.pop(0)](attribution, part, parts)
            fact = Fact(kind, live, person or viewer, promoter, order, amount, count, at, attrs, touchpoint)
            try:
                counted = attribution.apply(fact)
            except Rejected as error:
                if parts > 1 and kind in FOLLOWING_ORDERS and order not in attribution.orders:
                    raise Parted(f"event seq {seq}: order {order} is in another part") from error
                problems.append(f"event seq {seq} is in the log but a replay rejects it: {error}")
            else:
                for take, fed in listening:
                    take(fed, fact, counted)
            if part == 0 or kind not in TRANSITIONS:  # every part replays the transitions
                done += 1
                if progress and done % CHUNK == 0:
                    progress(CHUNK)
        for stop in pending:
            stops[stop](attribution, part, parts)
        _fold(replayed, attribution)
        if mode == CHECK:
            replayed.found += _viewer_differences(org, replayed, attribution)
        elif mode == REPLACE:
            _write_viewers(org, attribution)
        for projection, state, fed in feeding:
            replayed.found += projection.end_part(replayed, state, fed)
    return done


def parts_for(events: int, wanted: int | None = None) -> int:
    """How many parts a log of `events` is replayed in: `wanted`, else one per
    settings.LIVELOOP_REPLAY_PART_EVENTS events."""
    if wanted is None:
        wanted = -(-events // max(1, settings.LIVELOOP_REPLAY_PART_EVENTS))
    return min(MAX_PARTS, max(1, wanted))


def _fold(replayed: Replay, attribution: Attribution) -> None:
    """Add a part's totals to the replay's: figures add up; every part replays the lives'
    transitions, so their state and lapse are the same in each; their showed-up adds up."""
    for key, row in attribution.stats.items():
        total = replayed.stats[key]
        for index, amount in enumerate(row):
            total[index] += amount
    for live_id, live in attribution.lives.items():
        merged = replayed.lives[live_id]
        merged.state, merged.lapsed = live.state, live.lapsed
        merged.showed_up += live.showed_up


def _in_org(org, events: int) -> str:
    """The condition on the organisation for reading its log in seq order. On SQLite, when the
    organisation holds most of the log, `+org_id` keeps SQLite off the (org, id) unique index:
    through it the rows come in id order and were sorted back into seq order (4 s of a 1M-event
    rebuild), while the table itself is in seq order already."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table(Event)}")
            if 2 * events >= cursor.fetchone()[0]:
                return "+org_id = %s"
    return "org_id = %s"


def _identities(org, problems: list[str], in_org: str = "org_id = %s") -> Identities:
    """Replay the identity links over the log, checking the person each event counted as.
    Only the events that can link or can count as another id are read: those whose attrs may
    name an id attribute (rules.identity.linked_ids decides), those recorded under a person,
    and those of an id the links table holds. Any other event's viewer was never linked, so it
    counted as itself, as the log says; a link missing from the table is itself a difference."""
    quote, log = connection.ops.quote_name, table(Event)
    links = table(ViewerLink)
    if connection.vendor == "sqlite":
        attrs = quote("attrs")
        # The stored JSON text: every id attribute's name but phone_hash ends in "id".
        linking = f"({attrs} LIKE '%%id\"%%' OR {attrs} LIKE '%%phone_hash%%')"
        params = [org.pk, org.pk]
    else:
        attrs = f"{quote('attrs')}::text"
        linking = f"{quote('attrs')} ?| %s"
        params = [org.pk, list(ID_ATTRS), org.pk]
    sql = (f"SELECT seq, viewer, {attrs}, person FROM {log} WHERE {in_org} AND (person IS NOT NULL "
           f"OR {linking} OR viewer IN (SELECT viewer FROM {links} WHERE org_id = %s)) ORDER BY seq")
    identities = Identities()
    with _cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            for seq, viewer, text, recorded in rows:
                linking = text is not None and any(name in text for name in ID_ATTRS)
                person = identities.apply(viewer, json_value(text) if linking else None)
                if person != (recorded or viewer):
                    problems.append(f"event seq {seq}: the log says viewer {viewer} counted as "
                                    f"{recorded or viewer}, a replay of the links says {person}")
    return identities


def _cursor():
    """A server-side cursor on PostgreSQL, as the ORM's iterator uses, so the log is never held
    in memory whole (SQLite's cursor steps through the rows as they are fetched)."""
    chunked = not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    return connection.chunked_cursor() if chunked else connection.cursor()


def _log(org, parts: int = 1, in_org: str = "org_id = %s"):
    """The organisation's log as (part, its rows) for each part in turn, each part's rows in
    `seq` order with every live's transitions among them, as LOG_COLUMNS tuples; the events
    summed by the database left out. One query sorted by part then seq: the database sorts
    (spilling to disk as it needs), so no part is ever held whole, and the log is read once."""
    if parts == 1:
        rows = _rows(org, f"type NOT IN ({_marks(SUMMED)})", [*SUMMED], in_org=in_org)
        try:
            yield 0, rows
        finally:
            rows.close()
        return
    # The transitions lead the stream (part -1), read once, then merged into every part.
    stream = _rows(org, f"type NOT IN ({_marks(SUMMED)})", [*SUMMED], parts=parts, in_org=in_org)
    try:
        head = next(stream, None)
        transitions = []
        while head is not None and head[0] == -1:
            transitions.append(head[1:])
            head = next(stream, None)

        def rows_of(k):
            nonlocal head
            while head is not None and head[0] == k:
                yield head[1:]
                head = next(stream, None)

        for k in range(parts):
            yield k, _merged(rows_of(k), transitions)
    finally:
        stream.close()


def _marks(values) -> str:
    return ", ".join(["%s"] * len(values))


def _merged(rows, transitions: list):
    """`rows` and `transitions`, both in seq order, as one stream in seq order."""
    i, n = 0, len(transitions)
    for row in rows:
        while i < n and transitions[i][0] < row[0]:
            yield transitions[i]
            i += 1
        yield row
    yield from transitions[i:]


def _rows(org, where: str, params: list, parts: int | None = None, in_org: str = "org_id = %s"):
    """The log's rows matching `where` as LOG_COLUMNS tuples — led by their part when `parts`
    is given (-1 for the lives' transitions), sorted by it then `seq` — with the values the ORM would give (`at` an aware
    datetime, `attrs` decoded JSON). Read with a plain cursor and converted here: the ORM
    iterator's per-row converters (Django's regex datetime parser, json.loads) cost more than
    the database's read."""
    quote, log = connection.ops.quote_name, table(Event)
    columns = [quote(Event._meta.get_field(name).column) for name in LOG_COLUMNS]
    if connection.vendor == "sqlite":
        # The stored text, not Django's converter's datetime (a regex parse per row):
        # datetime.fromisoformat below reads the same text several times faster.
        at = LOG_COLUMNS.index("at")
        columns[at] = f"CAST({columns[at]} AS TEXT)"
    order, head = "seq", []
    if parts is not None:
        transitions = _marks(TRANSITIONS)
        columns.insert(0, f"CASE WHEN type IN ({transitions}) THEN -1 "
                          f"ELSE {part_sql('coalesce(person, viewer)')} %% %s END AS part")
        order, head = "part, seq", [*TRANSITIONS, parts]
    sql = f"SELECT {', '.join(columns)} FROM {log} WHERE {in_org} AND {where} ORDER BY {order}"
    tz = connection.timezone
    # SQLite's text is the naive time in the connection's zone: read with UTC's offset written
    # on, it parses straight to an aware datetime (a sixth of the time of parse then replace).
    offset = "+00:00" if connection.timezone_name == "UTC" else ""
    with _cursor() as cursor:
        cursor.execute(sql, [*head, org.pk, *params])
        while rows := cursor.fetchmany(CHUNK):
            for *head, at, attrs, touchpoint, person in rows:
                if not isinstance(at, datetime):
                    try:
                        at = datetime.fromisoformat(at + offset)
                    except ValueError:
                        at = parse_datetime(at)
                if at.tzinfo is None:
                    at = at.replace(tzinfo=tz)
                yield (*head, at, json_value(attrs), touchpoint, person)


# --- the write path's own tables ------------------------------------------------------------------

def _viewer_differences(org, replayed: Replay, attribution: Attribution) -> list[str]:
    """The viewers and orders of the part replayed: stored against replayed, in words."""
    names = replayed.names
    viewers = {(r[0], r[1]): tuple(r[2:]) for r in replayed.in_part(LiveViewer.objects.for_org(org))
               .values_list("live_id", "viewer", *VIEWER_COLUMNS)}
    orders = {r[0]: tuple(r[1:]) for r in replayed.in_part(Order.objects.for_org(org))
              .values_list("order", *ORDER_COLUMNS)}
    found = []
    replayed_viewers = {k: row for k, v in attribution.viewers.items() if (row := viewer_row(v)) != DEFAULT_VIEWER}
    stored_viewers = {k: v for k, v in viewers.items() if v != DEFAULT_VIEWER}
    for key in set(stored_viewers) | set(replayed_viewers):
        if stored_viewers.get(key) != replayed_viewers.get(key):
            found.append(f"live {names.get(key[0])} viewer {key[1]}: stored {stored_viewers.get(key)}, "
                         f"replay {replayed_viewers.get(key)}")
    replayed_orders = {k: order_row(o) for k, o in attribution.orders.items()}
    for key in set(orders) | set(replayed_orders):
        if orders.get(key) != replayed_orders.get(key):
            found.append(f"order {key}: stored {orders.get(key)}, replay {replayed_orders.get(key)}")
    return found


def _shared_differences(org, replayed: Replay) -> list[str]:
    """What outlives the parts: the lives' state, the identity links, each projection's tables."""
    found, names = [], replayed.names
    states = dict(Live.objects.for_org(org).values_list("pk", "state"))
    for live_id, live in replayed.lives.items():
        if states.get(live_id) != live.state:
            found.append(f"live {names.get(live_id)}: stored state {states.get(live_id)}, replay {live.state}")
    stored_links = dict(ViewerLink.objects.for_org(org).values_list("viewer", "person"))
    replayed_links = replayed.identities.final()
    for viewer in sorted(set(stored_links) | set(replayed_links)):
        if stored_links.get(viewer) != replayed_links.get(viewer):
            found.append(f"id {viewer}: stored person {stored_links.get(viewer)}, "
                         f"replay {replayed_links.get(viewer)}")
    for projection, state in replayed.projections:
        found += projection.differences(replayed, state)
    return found


def _clear_viewers(org) -> None:
    LiveViewer.objects.for_org(org).delete()
    Order.objects.for_org(org).delete()


def _write_viewers(org, attribution: Attribution) -> None:
    """The LiveViewer and Order rows of a part (those left in the default state excepted)."""
    org_id, adapt = org.pk, time_adapter()  # org.pk is a property: not looked up per row
    # In the order of their unique key: the index is then filled at its end rather than at
    # random places (a third of the write's time on SQLite, docs/performance.md).
    insert_all(LiveViewer, ("org_id", "live_id", "viewer", *VIEWER_COLUMNS),
               ((org_id, live_id, viewer, row[0], adapt(row[1]), *row[2:])
                for (live_id, viewer), state in sorted(attribution.viewers.items())
                if (row := viewer_row(state)) != DEFAULT_VIEWER))
    insert_all(Order, ("org_id", "order", *ORDER_COLUMNS),
               ((org_id, order_id, *order_row(o)) for order_id, o in sorted(attribution.orders.items())))


def _replace_shared(org, replayed: Replay) -> None:
    org_id = org.pk
    ViewerLink.objects.for_org(org).delete()
    insert_all(ViewerLink, ("org_id", "viewer", "person"),
               ((org_id, v, p) for v, p in replayed.identities.final().items()))
    for live_id, live in replayed.lives.items():
        Live.objects.for_org(org).filter(pk=live_id).update(state=live.state)
    for projection, state in replayed.projections:
        projection.replace(replayed, state)
