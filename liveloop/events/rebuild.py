"""Replay the log and compare with, or replace, the derived state.

The replay runs the same `rules.attribution` and `rules.identity` as ingest over every accepted
event in sequence order, starting from nothing, and hands each fact with what it counted to
every registered projection (events.projections); what they end with is what the derived
tables must hold. The viewers', orders', links' and lives' state are the write path's own
and compared and replaced here; each projection compares and replaces its own tables.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from operator import attrgetter
from typing import Callable

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from liveloop.events.ingest import ORDER_COLUMNS, VIEWER_COLUMNS
from liveloop.events.models import Event, LiveViewer, Order, ViewerLink
from liveloop.events.projections import NO_STATE, registered
from liveloop.lib.bulk import insert_all, json_value, lock_org, page_cache, time_adapter
from liveloop.lives.models import Live
from liveloop.promoters.models import Promoter
from liveloop.rules.attribution import Attribution, Fact, LiveState, OrderState, Rejected, ViewerState
from liveloop.rules.identity import Identities

# A state as the tuple of its fields (the order of VIEWER_COLUMNS and ORDER_COLUMNS). Not
# dataclasses.astuple: it deep-copies every field and was a third of a rebuild's time.
viewer_row = attrgetter(*(f.name for f in fields(ViewerState)))
order_row = attrgetter(*(f.name for f in fields(OrderState)))
DEFAULT_VIEWER = viewer_row(ViewerState())
LOG_COLUMNS = ("seq", "type", "live_id", "viewer", "promoter_id", "order", "amount", "count", "at", "attrs",
               "touchpoint", "person")
CHUNK = 5000


@dataclass
class Replay:
    """A replay's end state: the rules' (attribution, identities) and each projection's."""
    org: object
    attribution: Attribution
    identities: Identities
    projections: list  # (projection, its replayed state), in the projections' order

    @cached_property
    def names(self) -> dict:
        """Live id → public id, for the differences' words."""
        return dict(Live.objects.for_org(self.org).values_list("pk", "public_id"))

    @cached_property
    def codes(self) -> dict:
        """Promoter id → code, for the differences' words."""
        return dict(Promoter.objects.for_org(self.org).values_list("pk", "code"))


def replay(org, progress: Callable[[int], None] | None = None,
           stops: dict[int, Callable[[Attribution], None]] | None = None) -> tuple[Replay, list[str]]:
    """`stops`: {log position: callback}; each callback sees the rules' state (its figures
    added up: `Attribution.stats`) once every event up to that position is applied
    (settlement runs record the position they settled at)."""
    lives = {live.pk: LiveState(mode=live.programme.mode, binding_days=live.programme.binding_days)
             for live in Live.objects.for_org(org).select_related("programme")}
    attribution = Attribution(lives=lives)
    identities = Identities()
    state = Replay(org, attribution, identities, [])
    state.projections = [(projection, projection.start(state)) for projection in registered()]
    listening = [(projection.fact, kept) for projection, kept in state.projections
                 if projection.per_fact and kept is not NO_STATE]
    problems = []
    done = 0
    pending = sorted(stops or {})
    for seq, kind, live, viewer, promoter, order, amount, count, at, attrs, touchpoint, recorded in _log(org):
        while pending and seq > pending[0]:
            stops[pending.pop(0)](attribution)
        person = identities.apply(viewer, attrs)
        if person != (recorded or viewer):
            problems.append(f"event seq {seq}: the log says viewer {viewer} counted as {recorded or viewer}, "
                            f"a replay of the links says {person}")
        fact = Fact(kind, live, person, promoter, order, amount, count, at, attrs, touchpoint)
        try:
            counted = attribution.apply(fact)
        except Rejected as error:
            problems.append(f"event seq {seq} is in the log but a replay rejects it: {error}")
        else:
            for take, kept in listening:
                take(kept, fact, counted)
        done += 1
        if progress and done % CHUNK == 0:
            progress(CHUNK)
    if progress:
        progress(done % CHUNK)
    for stop in pending:
        stops[stop](attribution)
    return state, problems


def _log(org):
    """The organisation's log in `seq` order as LOG_COLUMNS tuples, with the values the ORM
    would give (`at` an aware datetime, `attrs` decoded JSON). Read with a plain cursor and
    converted here: the ORM iterator's per-row converters (Django's regex datetime parser,
    json.loads) cost more than the database's read. A server-side cursor on PostgreSQL, as the
    ORM's iterator uses, so the log is never held in memory whole."""
    quote = connection.ops.quote_name
    columns = [quote(Event._meta.get_field(name).column) for name in LOG_COLUMNS]
    if connection.vendor == "sqlite":
        # The stored text, not Django's converter's datetime (a regex parse per row):
        # datetime.fromisoformat below reads the same text several times faster.
        at = LOG_COLUMNS.index("at")
        columns[at] = f"CAST({columns[at]} AS TEXT)"
    columns = ", ".join(columns)
    sql = f"SELECT {columns} FROM {quote(Event._meta.db_table)} WHERE org_id = %s ORDER BY seq"
    chunked = not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    tz = connection.timezone
    with (connection.chunked_cursor() if chunked else connection.cursor()) as cursor:
        cursor.execute(sql, [org.pk])
        while rows := cursor.fetchmany(CHUNK):
            for *head, at, attrs, touchpoint, person in rows:
                if not isinstance(at, datetime):  # SQLite: naive text in the connection's time zone
                    try:
                        at = datetime.fromisoformat(at)
                    except ValueError:
                        at = parse_datetime(at)
                if at.tzinfo is None:
                    at = at.replace(tzinfo=tz)
                yield (*head, at, json_value(attrs), touchpoint, person)


def differences(org, replay: Replay) -> list[str]:
    """What the stored state holds that the replay does not, and back, in words."""
    attribution, names = replay.attribution, replay.names
    viewers = {(r[0], r[1]): tuple(r[2:]) for r in
               LiveViewer.objects.for_org(org).values_list("live_id", "viewer", *VIEWER_COLUMNS)}
    orders = {r[0]: tuple(r[1:]) for r in Order.objects.for_org(org).values_list("order", *ORDER_COLUMNS)}
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
    states = dict(Live.objects.for_org(org).values_list("pk", "state"))
    for live_id, live in attribution.lives.items():
        if states.get(live_id) != live.state:
            found.append(f"live {names.get(live_id)}: stored state {states.get(live_id)}, replay {live.state}")
    stored_links = dict(ViewerLink.objects.for_org(org).values_list("viewer", "person"))
    replayed_links = replay.identities.final()
    for viewer in sorted(set(stored_links) | set(replayed_links)):
        if stored_links.get(viewer) != replayed_links.get(viewer):
            found.append(f"id {viewer}: stored person {stored_links.get(viewer)}, "
                         f"replay {replayed_links.get(viewer)}")
    for projection, state in replay.projections:
        found += projection.differences(replay, state)
    return found


def _viewer_rows(org, attribution: Attribution):
    """LiveViewer rows of the replayed viewers, those left in the default state excepted."""
    org_id, adapt = org.pk, time_adapter()
    for (live_id, viewer), state in attribution.viewers.items():
        row = viewer_row(state)
        if row != DEFAULT_VIEWER:
            yield (org_id, live_id, viewer, row[0], adapt(row[1]), *row[2:])


# A 64 MB SQLite page cache while the tables are rewritten (lib.bulk.page_cache): with the
# default 2 MB the unique indexes' pages were read back again and again; a 1M-event rebuild
# took 28.2 s instead of 32.1, its peak memory 516 MB instead of 451 (docs/performance.md).
REPLACE_CACHE_KIB = 64 * 1024


def replace(org, replay: Replay) -> None:
    """Overwrite the derived tables with a replay's totals (the log is untouched)."""
    with page_cache(REPLACE_CACHE_KIB), transaction.atomic():
        _replace(org, replay)


def _replace(org, replay: Replay) -> None:
    lock_org(org.pk)
    attribution = replay.attribution
    org_id = org.pk  # org.pk is a property: not looked up per row
    LiveViewer.objects.for_org(org).delete()
    Order.objects.for_org(org).delete()
    insert_all(LiveViewer, ("org_id", "live_id", "viewer", *VIEWER_COLUMNS), _viewer_rows(org, attribution))
    insert_all(Order, ("org_id", "order", *ORDER_COLUMNS),
               ((org_id, order_id, *order_row(o)) for order_id, o in attribution.orders.items()))
    ViewerLink.objects.for_org(org).delete()
    insert_all(ViewerLink, ("org_id", "viewer", "person"),
               ((org_id, v, p) for v, p in replay.identities.final().items()))
    for live_id, live in attribution.lives.items():
        Live.objects.for_org(org).filter(pk=live_id).update(state=live.state)
    for projection, state in replay.projections:
        projection.replace(replay, state)
