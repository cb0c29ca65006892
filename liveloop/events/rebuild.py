"""Replay the log and compare with, or replace, the derived state.

The replay runs the same `rules.attribution` as ingest over every accepted event in sequence
order, starting from nothing; what it ends with is what the derived tables must hold.
"""
from __future__ import annotations

from dataclasses import astuple
from typing import Callable

from django.db import transaction

from liveloop.analytics import audience as audience_tables
from liveloop.analytics import fraud as fraud_tables
from liveloop.analytics.models import LiveMinute, LiveStats, PromoterStats
from liveloop.events.ingest import _lock_org
from liveloop.events.models import Event, LiveViewer, Order, ViewerLink
from liveloop.lives.models import Live
from liveloop.promoters.models import Promoter
from liveloop.rules.attribution import FIGURES, TRAFFIC, Attribution, Fact, LiveState, Rejected, ViewerState
from liveloop.rules.audience import Audience
from liveloop.rules.fraud import FarmWatch
from liveloop.rules.identity import Identities

DEFAULT_VIEWER = astuple(ViewerState())
VIEWER, ATTRS = 2, 8  # positions in the replayed row after seq (Fact's field order)


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
    rows = (Event.objects.for_org(org).order_by("seq")
            .values_list("seq", "type", "live_id", "viewer", "promoter_id", "order", "amount",
                         "count", "at", "attrs", "touchpoint", "person"))
    done = 0
    pending = sorted(stops or {})
    for seq, *fields, recorded in rows.iterator(chunk_size=5000):
        while pending and seq > pending[0]:
            stops[pending.pop(0)](attribution)
        viewer, attrs = fields[VIEWER], fields[ATTRS]
        fields[VIEWER] = identities.apply(viewer, attrs)
        if fields[VIEWER] != (recorded or viewer):
            problems.append(f"event seq {seq}: the log says viewer {viewer} counted as {recorded or viewer}, "
                            f"a replay of the links says {fields[VIEWER]}")
        try:
            farm.apply(audience, attribution, Fact(*fields))
        except Rejected as error:
            problems.append(f"event seq {seq} is in the log but a replay rejects it: {error}")
        done += 1
        if progress and done % 5000 == 0:
            progress(5000)
    if progress:
        progress(done % 5000)
    for stop in pending:
        stops[stop](attribution)
    return attribution, problems


def _stored(org):
    stats = {(r[0], r[1]): list(r[2:]) for r in
             PromoterStats.objects.for_org(org).values_list("live_id", "promoter_id", *FIGURES)}
    viewers = {(r[0], r[1]): tuple(r[2:]) for r in
               LiveViewer.objects.for_org(org).values_list(
                   "live_id", "viewer", "bound_id", "bound_at", "reserved", "reserved_for_id",
                   "entered", "bought", "followed", "captured")}
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
    replayed_viewers = {k: astuple(v) for k, v in attribution.viewers.items()
                        if astuple(v) != DEFAULT_VIEWER}
    stored_viewers = {k: v for k, v in viewers.items() if v != DEFAULT_VIEWER}
    for key in set(stored_viewers) | set(replayed_viewers):
        if stored_viewers.get(key) != replayed_viewers.get(key):
            found.append(f"live {names.get(key[0])} viewer {key[1]}: stored {stored_viewers.get(key)}, "
                         f"replay {replayed_viewers.get(key)}")
    replayed_orders = {k: astuple(o) for k, o in attribution.orders.items()}
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


@transaction.atomic
def replace(org, attribution: Attribution) -> None:
    """Overwrite the derived tables with a replay's totals (the log is untouched)."""
    _lock_org(org)
    LiveViewer.objects.for_org(org).delete()
    Order.objects.for_org(org).delete()
    LiveViewer.objects.bulk_create(
        [LiveViewer(org=org, live_id=live_id, viewer=viewer, bound_id=v.bound, bound_at=v.bound_at,
                    reserved=v.reserved, reserved_for_id=v.reserved_for, entered=v.entered,
                    bought=v.bought, followed=v.followed, captured=v.captured)
         for (live_id, viewer), v in attribution.viewers.items() if astuple(v) != DEFAULT_VIEWER],
        batch_size=2000)
    Order.objects.bulk_create(
        [Order(org=org, live_id=o.live, order=order_id, viewer=o.viewer, promoter_id=o.promoter,
               paid=o.paid, refunded=o.refunded) for order_id, o in attribution.orders.items()],
        batch_size=2000)
    identities = getattr(attribution, "identities", None)
    if identities is not None:
        ViewerLink.objects.for_org(org).delete()
        ViewerLink.objects.bulk_create([ViewerLink(org=org, viewer=v, person=p)
                                        for v, p in identities.final().items()], batch_size=2000)
    LiveMinute.objects.for_org(org).delete()
    LiveMinute.objects.bulk_create(
        [LiveMinute(org=org, live_id=live_id, minute=minute, **dict(zip((*FIGURES, *TRAFFIC), values)))
         for (live_id, minute), values in _minute_rows(attribution).items()],
        batch_size=2000)
    rows = list(PromoterStats.objects.for_org(org))
    for row in rows:
        for name, value in zip(FIGURES, attribution.stats.get((row.live_id, row.promoter_id),
                                                              [0] * len(FIGURES))):
            setattr(row, name, value)
    PromoterStats.objects.bulk_update(rows, FIGURES, batch_size=500)
    if isinstance(attribution.listener, Audience):
        audience_tables.replace(org, attribution.listener)
    if isinstance(getattr(attribution, "fraud", None), FarmWatch):
        fraud_tables.replace(org, attribution, attribution.fraud)
    for live_id, live in attribution.lives.items():
        LiveStats.objects.for_org(org).filter(live_id=live_id).update(
            peak_online=live.peak_online, reservations_lapsed=live.lapsed, showed_up=live.showed_up)
        Live.objects.for_org(org).filter(pk=live_id).update(state=live.state)
