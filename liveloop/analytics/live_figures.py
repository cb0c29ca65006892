"""The figures per live and promoter (PromoterStats), per minute (LiveMinute) and per live
(LiveStats) as a projection of the log (events.projections).

Every figure here only adds up (or, the online peak, keeps a maximum): ingest hands the
database each batch's counted facts — (live, promoter, minute, figure, amount), one row per
figure change `rules.attribution` counted, plus the room's entries, exits and online samples —
and one statement per table adds them up set-wise (lib.bulk.update_grouped / add_grouped).
A replay (events.rebuild) takes the room's traffic per minute straight from the log with one
aggregate query, and adds up the figures — which need the binding, an order-dependent rule —
as the facts of its parts come (`Replay.stats`, the minutes here).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import connection

from liveloop.analytics.models import LiveMinute, LiveStats, PromoterStats
from liveloop.events.models import Event
from liveloop.events.projections import Projection, register
from liveloop.lib.bulk import add_grouped, insert_all, time_adapter, update_grouped, update_rows
from liveloop.rules.attribution import FIGURES, TRAFFIC, minute_of

# The room's traffic in the same rows as the figures, numbered after them: entries and exits
# add up; an online sample counts as the minute's peak when it is the highest (a maximum).
ENTERS, LEAVES, ONLINE = len(FIGURES), len(FIGURES) + 1, len(FIGURES) + 2
MINUTE_FIGURES = (*FIGURES, "room_enters", "room_leaves")
PEAKS = ("online_peak",)
assert TRAFFIC == (*MINUTE_FIGURES[len(FIGURES):], *PEAKS)
ZERO_FIGURES = (0,) * len(FIGURES)


ROOM = {"room_enter": ENTERS, "room_leave": LEAVES}


class Counted:
    """A batch's counted facts, as rows for the database to add up."""

    def __init__(self):
        self.rows: list[tuple] = []

    def take(self, fact, counted) -> None:
        if fact.live is None:
            return
        kind = fact.type
        if not counted and kind not in ROOM and kind != "online":
            return
        minute = minute_of(fact.at)
        if counted:
            self.rows += [(fact.live, promoter, minute, figure, amount) for promoter, figure, amount in counted]
        if kind in ROOM:
            self.rows.append((fact.live, None, minute, ROOM[kind], 1))
        elif kind == "online":
            self.rows.append((fact.live, None, minute, ONLINE, fact.count))


class Replayed:
    """A replay's minutes: (live, minute) -> figures then traffic. The traffic — entries, exits,
    the online peak — is the database's sum over the log (`traffic`); the figures are added up
    as the parts' facts come (the figures per promoter are the replay's stats), and the lives'
    online peak is the highest of their minutes'."""

    def __init__(self, traffic: dict):
        self.minutes: defaultdict = defaultdict(lambda: [0] * (len(FIGURES) + len(TRAFFIC)))
        for key, (enters, leaves, online) in traffic.items():
            row = self.minutes[key]
            row[ENTERS], row[LEAVES], row[ONLINE] = enters, leaves, online
        self.peaks: dict = defaultdict(int)
        for (live, _), (_, _, online) in traffic.items():
            self.peaks[live] = max(self.peaks[live], online)

    def take(self, fact, counted) -> None:
        if not counted or fact.live is None:
            return
        row = self.minutes[(fact.live, minute_of(fact.at))]
        for _, figure, amount in counted:
            row[figure] += amount


def traffic(org) -> dict:
    """(live, minute) -> (room entries, room exits, highest online sample) over the whole log,
    in one aggregate query: these add up (or keep a maximum) with no rule in between."""
    quote, tz = connection.ops.quote_name, connection.timezone
    if connection.vendor == "sqlite":
        minute = "substr(at, 1, 16)"  # the stored text 'YYYY-MM-DD HH:MM:SS…', in the connection's zone
    else:
        minute = "date_trunc('minute', at)"
    sql = (f"SELECT live_id, {minute} AS m, "
           "sum(CASE WHEN type = 'room_enter' THEN 1 ELSE 0 END), "
           "sum(CASE WHEN type = 'room_leave' THEN 1 ELSE 0 END), "
           "coalesce(max(CASE WHEN type = 'online' THEN count END), 0) "
           f"FROM {quote(Event._meta.db_table)} WHERE org_id = %s AND live_id IS NOT NULL "
           "AND type IN ('room_enter', 'room_leave', 'online') GROUP BY live_id, m")
    with connection.cursor() as cursor:
        cursor.execute(sql, [org.pk])
        rows = cursor.fetchall()
    found = {}
    for live, at, enters, leaves, online in rows:
        if not isinstance(at, datetime):
            at = datetime.fromisoformat(at).replace(tzinfo=tz)
        found[(live, at)] = (int(enters), int(leaves), int(online))
    return found


class LiveFigures(Projection):
    name = "live_figures"
    order = 10

    # --- ingest ---------------------------------------------------------------------------

    def load(self, batch):
        return Counted()

    def fact(self, state, fact, counted) -> None:
        state.take(fact, counted)

    def write(self, batch, state) -> None:
        org, attribution = batch.org, batch.attribution
        adapt = time_adapter()
        figures = [row for row in state.rows if row[3] < ENTERS]
        # Promoters' rows by plain equality, the unattributed rows (promoter NULL) apart: matching
        # both in one join (`= OR both NULL`) made PostgreSQL hash on the live alone and test every
        # pair of rows (docs/performance.md).
        update_grouped(PromoterStats, {"live": "bigint", "promoter": "bigint"}, FIGURES,
                       [(live, promoter, figure, amount) for live, promoter, _, figure, amount in figures
                        if promoter is not None],
                       where=f"t.org_id = {int(org.pk)} AND t.live_id = v.live AND t.promoter_id = v.promoter")
        update_grouped(PromoterStats, {"live": "bigint"}, FIGURES,
                       [(live, figure, amount) for live, promoter, _, figure, amount in figures if promoter is None],
                       where=f"t.org_id = {int(org.pk)} AND t.live_id = v.live AND t.promoter_id IS NULL")
        # A batch's rows fall in a few minutes: each adapted once, not once per row.
        minutes = {minute: adapt(minute) for minute in {row[2] for row in state.rows}}
        add_grouped(org.pk, LiveMinute, ("live_id", "minute"), {"live_id": "bigint", "minute": "timestamptz"},
                    MINUTE_FIGURES, [(live, minutes[minute], figure, amount)
                                     for live, _, minute, figure, amount in state.rows], peaks=PEAKS)
        # Cancelling a preview resets its reservations (PRODUCT.md), after what the batch added.
        for live_id in attribution.reset_lives:
            PromoterStats.objects.for_org(org).filter(live_id=live_id).update(reservations=0)
        for live_id in attribution.changed_lives:
            live = attribution.lives[live_id]
            LiveStats.objects.for_org(org).filter(live_id=live_id).update(
                peak_online=live.peak_online, reservations_lapsed=live.lapsed, showed_up=live.showed_up)

    # --- rebuild --------------------------------------------------------------------------

    def start(self, replay):
        return Replayed(traffic(replay.org))

    def differences(self, replay, state) -> list[str]:
        org, names, codes = replay.org, replay.names, replay.codes
        found = []
        stats = {(r[0], r[1]): list(r[2:]) for r in
                 PromoterStats.objects.for_org(org).values_list("live_id", "promoter_id", *FIGURES)}
        for key in sorted(set(stats) | set(replay.stats), key=lambda k: (k[0], k[1] or 0)):
            stored = stats.get(key)
            if stored is None:
                found.append(f"live {names.get(key[0])}: no stored row for promoter {codes.get(key[1], key[1])}")
                continue
            replayed = replay.stats.get(key, ZERO_FIGURES)
            for name, a, b in zip(FIGURES, stored, replayed):
                if a != b:
                    who = "unattributed" if key[1] is None else f"promoter {codes.get(key[1], key[1])}"
                    found.append(f"live {names.get(key[0])} {who} {name}: stored {a}, replay {b}")
        minutes = {(r[0], r[1]): list(r[2:]) for r in
                   LiveMinute.objects.for_org(org).values_list("live_id", "minute", *FIGURES, *TRAFFIC)}
        stored_minutes = {k: v for k, v in minutes.items() if any(v)}
        replayed_minutes = _minute_rows(state)
        for key in sorted(set(stored_minutes) | set(replayed_minutes)):
            if stored_minutes.get(key) != replayed_minutes.get(key):
                found.append(f"live {names.get(key[0])} minute {key[1]:%Y-%m-%d %H:%M}Z: stored "
                             f"{stored_minutes.get(key)}, replay {replayed_minutes.get(key)}")
        lives = {r[0]: tuple(r[1:]) for r in LiveStats.objects.for_org(org).values_list(
            "live_id", "peak_online", "reservations_lapsed", "showed_up")}
        for live_id, live in replay.lives.items():
            replayed = (state.peaks.get(live_id, 0), live.lapsed, live.showed_up)
            if lives.get(live_id) != replayed:
                found.append(f"live {names.get(live_id)}: stored (peak online, lapsed, showed up) "
                             f"{lives.get(live_id)}, replay {replayed}")
        return found

    def replace(self, replay, state) -> None:
        org = replay.org
        org_id, adapt = org.pk, time_adapter()
        LiveMinute.objects.for_org(org).delete()
        insert_all(LiveMinute, ("org_id", "live_id", "minute", *FIGURES, *TRAFFIC),
                   ((org_id, live_id, adapt(minute), *values)
                    for (live_id, minute), values in _minute_rows(state).items()))
        # Every stored row (a row exists per enrolled promoter), in one statement on PostgreSQL.
        update_rows(PromoterStats, {"id": "bigint", **dict.fromkeys(FIGURES, "bigint")},
                    [(pk, *replay.stats.get((live_id, promoter_id), ZERO_FIGURES)) for pk, live_id, promoter_id
                     in PromoterStats.objects.for_org(org).values_list("pk", "live_id", "promoter_id")],
                    sets=", ".join(f"{f} = v.{f}" for f in FIGURES), where="t.id = v.id")
        for live_id, live in replay.lives.items():
            LiveStats.objects.for_org(org).filter(live_id=live_id).update(
                peak_online=state.peaks.get(live_id, 0), reservations_lapsed=live.lapsed,
                showed_up=live.showed_up)


def _minute_rows(state: Replayed) -> dict:
    """(live, minute) -> figures then traffic, for every minute in which anything moved."""
    return {k: list(v) for k, v in state.minutes.items() if any(v)}


projection = register(LiveFigures())
