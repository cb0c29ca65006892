"""The live room in real time: what the room page shows while a live runs.

Every read is a small aggregate over the derived tables (LiveMinute for the last hour, the
live's PromoterStats and LiveStats rows), never a scan of the event log, so the page can ask
again every two seconds. room() makes three statements, written out in SQL and scoped by
organisation like every query: building them through the ORM cost more than running them, and
on PostgreSQL each statement is a round trip (docs/performance.md, "Reads at 1M events").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from django.db import connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from liveloop.analytics.models import LiveMinute, LiveStats, PromoterStats
from liveloop.analytics.queries import funnel, rate, summary_and_showed_up

WINDOW_MINUTES = 60
TOP_PROMOTERS = 10
TOP_TEAMS = 5


@dataclass(frozen=True)
class Minute:
    at: datetime          # the minute's start, UTC
    label: str            # its wall-clock "HH:MM" in the organisation's zone
    concurrent: int
    sampled: bool         # concurrent is the platform's own `online` sample, not our estimate
    entered: int
    orders: int
    gmv: int              # fen


def _floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def window(live, now: datetime | None = None) -> tuple[datetime, datetime]:
    """First and last minute (UTC, both included) the room shows: the last WINDOW_MINUTES up
    to now — up to the end for a live that is over — or the whole live when it is shorter."""
    end = live.ended_at or live.cancelled_at or now or timezone.now()
    last = _floor(end)
    first = last - timedelta(minutes=WINDOW_MINUTES - 1)
    if live.started_at is not None:
        first = min(last, max(first, _floor(live.started_at)))
    return first, last


def minutes(live, now: datetime | None = None) -> list[Minute]:
    """One Minute per minute of the window, oldest first; a minute without a row is all zeros.

    Concurrent viewers: the minute's highest `online` sample when the platform sent one
    (online_peak > 0); otherwise the running sum of room_enters − room_leaves since the live
    went on air, shown as 0 when it is negative. The sum is not clamped on the way: viewers
    already in the room when the counting began leave without a matching entry, which puts the
    sum a constant amount below the truth, and clamping each step would turn that shortfall
    into an overcount later on. A sample minute does not reset the sum: samples and our own
    counting measure different things, and one sample says nothing about the minutes after it.
    """
    first, last = window(live, now)
    rows, running = _minute_rows(live, first, last)
    zone = ZoneInfo(live.org.timezone)
    result, at = [], first
    while at <= last:
        row = rows.get(at)
        if row is None:
            result.append(Minute(at, _label(at, zone), max(0, running), False, 0, 0, 0))
        else:
            entered, orders, gmv, enters, leaves, online_peak = row
            running += enters - leaves
            sampled = online_peak > 0
            result.append(Minute(at, _label(at, zone), online_peak if sampled else max(0, running),
                                 sampled, entered, orders, gmv))
        at += timedelta(minutes=1)
    return result


_MINUTES_SQL = ('SELECT "minute", "entered", "orders", "gmv", "room_enters", "room_leaves", "online_peak" '
                'FROM "analytics_liveminute" '
                'WHERE "org_id" = %s AND "live_id" = %s AND "minute" >= %s AND "minute" <= %s')
# The net traffic before the window rides along as one more row, its minute NULL. CAST: sums of
# bigints are numeric on PostgreSQL, and a numeric column would turn every row's into Decimal.
_MINUTES_AND_BEFORE_SQL = (_MINUTES_SQL + ' UNION ALL SELECT NULL, 0, 0, 0, '
                           'CAST(SUM("room_enters" - "room_leaves") AS BIGINT), 0, 0 '
                           'FROM "analytics_liveminute" '
                           'WHERE "org_id" = %s AND "live_id" = %s AND "minute" >= %s AND "minute" < %s')


def _minute_rows(live, first: datetime, last: datetime) -> tuple[dict, int]:
    """The window's LiveMinute rows by minute (entered, orders, gmv, enters, leaves, online
    peak), and the room's net traffic before the window, in one statement: the room polls every
    two seconds, and on PostgreSQL every statement is a round trip."""
    database = LiveMinute.objects.db
    adapt = connections[database].ops.adapt_datetimefield_value
    params = [live.org_id, live.pk, adapt(first), adapt(last)]
    # Since the live went on air, not since its first row: a live's rows reach back days to its
    # first reservations, and the sum should read the on-air minutes only (at most a few hundred).
    before = live.started_at is not None and first > _floor(live.started_at)
    if before:
        params += [live.org_id, live.pk, adapt(_floor(live.started_at)), adapt(first)]
    with connections[database].cursor() as cursor:
        cursor.execute(_MINUTES_AND_BEFORE_SQL if before else _MINUTES_SQL, params)
        fetched = cursor.fetchall()
    rows, net = {}, 0
    for minute, *figures in fetched:
        if minute is None:
            net = figures[3] or 0
        else:
            rows[_aware(minute)] = figures
    return rows, net


def _aware(value) -> datetime:
    # SQLite hands a datetime column over naive (UTC, as Django stores it), PostgreSQL aware.
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt_timezone.utc)


def _label(at: datetime, zone: ZoneInfo) -> str:
    # "HH:MM" without strftime, which took two thirds of the time of sixty labels a poll.
    local = at.astimezone(zone)
    return f"{local.hour:02d}:{local.minute:02d}"


def conversion(live, summary: dict) -> dict:
    """How far reservations turned into entries: viewers who held a reservation when they first
    entered (LiveStats.showed_up) over the reservations the live holds (live_summary)."""
    # Read here, not from live.stats: an instance's cached stats row goes stale as events arrive.
    showed_up = (LiveStats.objects.for_org(live.org).filter(live=live)
                 .values_list("showed_up", flat=True).first()) or 0
    return _conversion(showed_up, summary)


def _conversion(showed_up: int, summary: dict) -> dict:
    return {"showed_up": showed_up, "reservations": summary["reservations"],
            "rate": rate(showed_up, summary["reservations"])}


# Each list is ordered and cut inside its own subquery; the outer ORDER BY only puts the two
# back in that order (kind, then GMV, entries and the code or team name, as inside).
_TOPS_SQL = """
SELECT * FROM (
  SELECT 0 AS kind, p."code" AS sort_name, p."code" AS code, p."name" AS name, t."name" AS team,
         1 AS promoters, s."entered" AS entered, s."buyers" AS buyers, s."orders" AS orders, s."gmv" AS gmv
  FROM "analytics_promoterstats" s
  INNER JOIN "promoters_promoter" p ON s."promoter_id" = p."id"
  LEFT OUTER JOIN "promoters_team" t ON p."team_id" = t."id"
  WHERE s."org_id" = %s AND s."live_id" = %s AND (s."gmv" > 0 OR s."entered" > 0)
  ORDER BY s."gmv" DESC, s."entered" DESC, p."code" LIMIT %s
) top_promoters
UNION ALL
SELECT * FROM (
  SELECT 1, t."name", NULL, NULL, t."name", COUNT(s."id"), CAST(SUM(s."entered") AS BIGINT),
         CAST(SUM(s."buyers") AS BIGINT), CAST(SUM(s."orders") AS BIGINT), CAST(SUM(s."gmv") AS BIGINT)
  FROM "analytics_promoterstats" s
  INNER JOIN "promoters_promoter" p ON s."promoter_id" = p."id"
  INNER JOIN "promoters_team" t ON p."team_id" = t."id"
  WHERE s."org_id" = %s AND s."live_id" = %s
  GROUP BY t."name"
  HAVING SUM(s."gmv") > 0 OR SUM(s."entered") > 0
  ORDER BY SUM(s."gmv") DESC, SUM(s."entered") DESC, t."name" LIMIT %s
) top_teams
ORDER BY 1, 10 DESC, 7 DESC, 2
"""


def tops(live, promoters: int = TOP_PROMOTERS, teams: int = TOP_TEAMS) -> tuple[list[dict], list[dict]]:
    """top_promoters and top_teams in one statement (the room asks for both on every poll)."""
    with connections[PromoterStats.objects.db].cursor() as cursor:
        cursor.execute(_TOPS_SQL, [live.org_id, live.pk, promoters, live.org_id, live.pk, teams])
        fetched = cursor.fetchall()
    top_p, top_t = [], []
    for kind, _, code, name, team, members, entered, buyers, orders, gmv in fetched:
        if kind == 0:
            top_p.append({"code": code, "name": name, "team": team or "", "entered": entered,
                          "buyers": buyers, "orders": orders, "gmv": gmv})
        else:
            top_t.append({"team": team, "promoters": members, "entered": entered, "buyers": buyers,
                          "orders": orders, "gmv": gmv})
    return top_p, top_t


def top_promoters(live, limit: int = TOP_PROMOTERS) -> list[dict]:
    """The promoters with the most GMV right now, then the most viewers brought into the room;
    promoters who have brought neither yet are left out."""
    return tops(live, promoters=limit, teams=0)[0]


def top_teams(live, limit: int = TOP_TEAMS) -> list[dict]:
    """Teams/stores by the GMV of their promoters, then their entries."""
    return tops(live, promoters=0, teams=limit)[1]


def room(live, now: datetime | None = None) -> dict:
    """Everything the room's data block shows, in one call."""
    summary, showed_up = summary_and_showed_up(live)
    per_minute = minutes(live, now)
    promoters, teams = tops(live)
    return {
        "summary": summary,
        "minutes": per_minute,
        "concurrent_now": per_minute[-1].concurrent if per_minute else 0,
        "funnel": funnel(summary),
        "conversion": _conversion(showed_up or 0, summary),
        "promoters": promoters,
        "teams": teams,
    }
