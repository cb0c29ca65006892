"""Replay the log and compare with, or replace, the derived state.

The replay runs the same `rules.attribution` as ingest over every accepted event in sequence
order, starting from nothing; what it ends with is what the derived tables must hold.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from itertools import islice
from operator import attrgetter
from typing import Callable

import orjson
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from liveloop.analytics import audience as audience_tables
from liveloop.analytics import fraud as fraud_tables
from liveloop.analytics.models import LiveMinute, LiveStats, PromoterStats
from liveloop.events.ingest import ORDER_COLUMNS, VIEWER_COLUMNS, ZERO_FIGURES, _insert, _lock_org, _update
from liveloop.events.models import Event, LiveViewer, Order, ViewerLink
from liveloop.lives.models import Live
from liveloop.promoters.models import Promoter
from liveloop.rules.attribution import (FIGURES, TRAFFIC, Attribution, Fact, LiveState, OrderState, Rejected,
                                        ViewerState)
from liveloop.rules.audience import Audience
from liveloop.rules.fraud import FarmWatch
from liveloop.rules.identity import Identities

# A state as the tuple of its fields (the order of VIEWER_COLUMNS and ORDER_COLUMNS). Not
# dataclasses.astuple: it deep-copies every field and was a third of a rebuild's time.
viewer_row = attrgetter(*(f.name for f in fields(ViewerState)))
order_row = attrgetter(*(f.name for f in fields(OrderState)))
DEFAULT_VIEWER = viewer_row(ViewerState())
LOG_COLUMNS = ("seq", "type", "live_id", "viewer", "promoter_id", "order", "amount", "count", "at", "attrs",
               "touchpoint", "person")
CHUNK = 5000


def replay(org, progress: Callable[[int], None] | None = None,
           stops: dict[int, Callable[[Attribution], None]] | None = None) -> tuple[Attribution, list[str]]:
    """`stops`: {log position: callback}; each callback sees the state once every event up to
    that position is applied (settlement runs record the position they settled at)."""
    lives = {live.pk: LiveState(mode=live.programme.mode, binding_days=live.programme.binding_days)
             for live in Live.objects.for_org(org).select_related("programme")}
    attribution = Attribution(lives=lives)
    # Links between ids replay in log order too (rules.identity); differences() and replace() find them here.
    attribution.identities = identities = Identities()
    audience = Audience(attribution)  # attribution.listener: differences() and replace() find it there
    attribution.fraud = farm = FarmWatch()  # the flags on promoter rows (rules.fraud), found there too
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
        try:
            farm.apply(audience, attribution, Fact(kind, live, person, promoter, order, amount, count, at, attrs,
                                                   touchpoint))
        except Rejected as error:
            problems.append(f"event seq {seq} is in the log but a replay rejects it: {error}")
        done += 1
        if progress and done % CHUNK == 0:
            progress(CHUNK)
    if progress:
        progress(done % CHUNK)
    for stop in pending:
        stops[stop](attribution)
    return attribution, problems


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
                yield (*head, at, _json(attrs), touchpoint, person)


def _json(text):
    """JSONField.from_db_value's result, through orjson (several times json's speed); json
    itself for what orjson refuses (integers beyond 64 bits, NaN), the text for what neither
    reads, as the field does."""
    if text is None or not isinstance(text, (str, bytes)):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text


def _stored(org):
    stats = {(r[0], r[1]): list(r[2:]) for r in
             PromoterStats.objects.for_org(org).values_list("live_id", "promoter_id", *FIGURES)}
    viewers = {(r[0], r[1]): tuple(r[2:]) for r in
               LiveViewer.objects.for_org(org).values_list(
                   "live_id", "viewer", "bound_id", "bound_at", "reserved", "reserved_for_id",
                   "entered", "bought", "followed", "captured", "entered_for_id")}
    orders = {r[0]: tuple(r[1:]) for r in Order.objects.for_org(org).values_list(
        "order", "live_id", "viewer", "promoter_id", "paid", "refunded")}
    lives = {r[0]: tuple(r[1:]) for r in LiveStats.objects.for_org(org).values_list(
        "live_id", "live__state", "peak_online", "reservations_lapsed", "showed_up")}
    minutes = {(r[0], r[1]): list(r[2:]) for r in
               LiveMinute.objects.for_org(org).values_list("live_id", "minute", *FIGURES, *TRAFFIC)}
    return stats, viewers, orders, lives, minutes


def _minute_rows(attribution: Attribution) -> dict:
    """(live, minute) -> figures then traffic, for every minute in which anything moved."""
    keys = {k for k, v in attribution.minutes.items() if any(v)}
    keys |= {k for k, v in attribution.traffic.items() if any(v)}
    return {k: [*attribution.minutes.get(k, [0] * len(FIGURES)), *attribution.traffic.get(k, [0] * len(TRAFFIC))]
            for k in keys}


def differences(org, attribution: Attribution) -> list[str]:
    stats, viewers, orders, lives, minutes = _stored(org)
    names = dict(Live.objects.for_org(org).values_list("pk", "public_id"))
    codes = dict(Promoter.objects.for_org(org).values_list("pk", "code"))
    found = []
    for key in sorted(set(stats) | set(attribution.stats), key=lambda k: (k[0], k[1] or 0)):
        stored = stats.get(key)
        if stored is None:
            found.append(f"live {names.get(key[0])}: no stored row for promoter {codes.get(key[1], key[1])}")
            continue
        replayed = attribution.stats.get(key, [0] * len(FIGURES))
        for name, a, b in zip(FIGURES, stored, replayed):
            if a != b:
                who = "unattributed" if key[1] is None else f"promoter {codes.get(key[1], key[1])}"
                found.append(f"live {names.get(key[0])} {who} {name}: stored {a}, replay {b}")
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
    replayed_minutes = _minute_rows(attribution)
    stored_minutes = {k: v for k, v in minutes.items() if any(v)}
    for key in sorted(set(stored_minutes) | set(replayed_minutes)):
        if stored_minutes.get(key) != replayed_minutes.get(key):
            found.append(f"live {names.get(key[0])} minute {key[1]:%Y-%m-%d %H:%M}Z: stored "
                         f"{stored_minutes.get(key)}, replay {replayed_minutes.get(key)}")
    for live_id, live in attribution.lives.items():
        replayed = (live.state, live.peak_online, live.lapsed, live.showed_up)
        if lives.get(live_id) != replayed:
            found.append(f"live {names.get(live_id)}: stored (state, peak online, lapsed, showed up) "
                         f"{lives.get(live_id)}, replay {replayed}")
    if isinstance(attribution.listener, Audience):
        found += audience_tables.differences(org, attribution.listener, names)
    if isinstance(getattr(attribution, "fraud", None), FarmWatch):
        found += fraud_tables.differences(org, attribution, attribution.fraud, names, codes)
    identities = getattr(attribution, "identities", None)
    if identities is not None:
        stored_links = dict(ViewerLink.objects.for_org(org).values_list("viewer", "person"))
        replayed_links = identities.final()
        for viewer in sorted(set(stored_links) | set(replayed_links)):
            if stored_links.get(viewer) != replayed_links.get(viewer):
                found.append(f"id {viewer}: stored person {stored_links.get(viewer)}, "
                             f"replay {replayed_links.get(viewer)}")
    return found


def time_adapter():
    """A function doing what `connection.ops.adapt_datetimefield_value` (ingest's adapt_time)
    does to the aware datetimes of a replay, without its per-value checks and connection
    lookups, which the profile showed among replace()'s costs on SQLite: SQLite stores the
    text of the naive time in the connection's time zone, PostgreSQL takes the datetime."""
    if connection.vendor != "sqlite":
        return connection.ops.adapt_datetimefield_value
    tz = connection.timezone

    def adapt(value):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(tz).replace(tzinfo=None)
        return str(value)
    return adapt


def insert_all(model, columns, rows) -> None:
    """Insert `rows` (an iterable of tuples, consumed once) with ingest's writer (COPY on
    PostgreSQL, one prepared INSERT on SQLite), a chunk at a time: neither model instances nor
    a list of the whole table are ever built, so memory stays flat however large the table."""
    rows = iter(rows)
    while chunk := list(islice(rows, 10_000)):
        _insert(model, columns, chunk)


def _viewer_rows(org, attribution: Attribution):
    """LiveViewer rows of the replayed viewers, those left in the default state excepted."""
    org_id, adapt = org.pk, time_adapter()
    for (live_id, viewer), state in attribution.viewers.items():
        row = viewer_row(state)
        if row != DEFAULT_VIEWER:
            yield (org_id, live_id, viewer, row[0], adapt(row[1]), *row[2:])


REPLACE_CACHE_KIB = 64 * 1024


@contextmanager
def _page_cache(kib: int):
    """On SQLite, a page cache of `kib` for this connection while the block runs, then the one it
    had. Rewriting the derived tables inserts into unique indexes in random order; with SQLite's
    default 2 MB cache their pages are read back again and again. With 64 MB a 1M-event rebuild
    took 28.2 s instead of 32.1, its peak memory 516 MB instead of 451 (256 MB bought no more
    time for 100 MB more; docs/performance.md). Memory is taken only as pages are read."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {before}")


def replace(org, attribution: Attribution) -> None:
    """Overwrite the derived tables with a replay's totals (the log is untouched)."""
    with _page_cache(REPLACE_CACHE_KIB), transaction.atomic():
        _replace(org, attribution)


def _replace(org, attribution: Attribution) -> None:
    _lock_org(org)
    org_id, adapt = org.pk, time_adapter()  # org.pk is a property: not looked up per row
    LiveViewer.objects.for_org(org).delete()
    Order.objects.for_org(org).delete()
    insert_all(LiveViewer, ("org_id", "live_id", "viewer", *VIEWER_COLUMNS), _viewer_rows(org, attribution))
    insert_all(Order, ("org_id", "order", *ORDER_COLUMNS),
               ((org_id, order_id, *order_row(o)) for order_id, o in attribution.orders.items()))
    identities = getattr(attribution, "identities", None)
    if identities is not None:
        ViewerLink.objects.for_org(org).delete()
        insert_all(ViewerLink, ("org_id", "viewer", "person"),
                   ((org_id, v, p) for v, p in identities.final().items()))
    LiveMinute.objects.for_org(org).delete()
    insert_all(LiveMinute, ("org_id", "live_id", "minute", *FIGURES, *TRAFFIC),
               ((org_id, live_id, adapt(minute), *values)
                for (live_id, minute), values in _minute_rows(attribution).items()))
    # Every stored row (a row exists per enrolled promoter), in one statement on PostgreSQL.
    _update(PromoterStats, {"id": "bigint", **dict.fromkeys(FIGURES, "bigint")},
            [(pk, *attribution.stats.get((live_id, promoter_id), ZERO_FIGURES)) for pk, live_id, promoter_id in
             PromoterStats.objects.for_org(org).values_list("pk", "live_id", "promoter_id")],
            sets=", ".join(f"{f} = v.{f}" for f in FIGURES), where="t.id = v.id")
    if isinstance(attribution.listener, Audience):
        audience_tables.replace(org, attribution.listener)
    if isinstance(getattr(attribution, "fraud", None), FarmWatch):
        fraud_tables.replace(org, attribution, attribution.fraud)
    for live_id, live in attribution.lives.items():
        LiveStats.objects.for_org(org).filter(live_id=live_id).update(
            peak_online=live.peak_online, reservations_lapsed=live.lapsed, showed_up=live.showed_up)
        Live.objects.for_org(org).filter(pk=live_id).update(state=live.state)
