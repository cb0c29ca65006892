"""The live room in real time: what the room page shows while a live runs.

Every read is a small aggregate over the derived tables (LiveMinute for the last hour, the
live's PromoterStats and LiveStats rows), never a scan of the event log, so the page can ask
again every two seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from liveloop.analytics.models import LiveMinute, LiveStats, PromoterStats
from liveloop.analytics.queries import funnel, live_summary, rate

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
    rows = {row["minute"]: row for row in
            LiveMinute.objects.for_org(live.org).filter(live=live, minute__gte=first, minute__lte=last)
            .values("minute", "entered", "orders", "gmv", "room_enters", "room_leaves", "online_peak")}
    running = _traffic_before(live, first)
    zone = ZoneInfo(live.org.timezone)
    result, at = [], first
    while at <= last:
        row = rows.get(at)
        if row is None:
            result.append(Minute(at, _label(at, zone), max(0, running), False, 0, 0, 0))
        else:
            running += row["room_enters"] - row["room_leaves"]
            sampled = row["online_peak"] > 0
            result.append(Minute(at, _label(at, zone), row["online_peak"] if sampled else max(0, running),
                                 sampled, row["entered"], row["orders"], row["gmv"]))
        at += timedelta(minutes=1)
    return result


def _traffic_before(live, first: datetime) -> int:
    # Since the live went on air, not since its first row: a live's rows reach back days to its
    # first reservations, and the sum should read the on-air minutes only (at most a few hundred).
    if live.started_at is None or first <= _floor(live.started_at):
        return 0
    net = (LiveMinute.objects.for_org(live.org)
           .filter(live=live, minute__gte=_floor(live.started_at), minute__lt=first)
           .aggregate(net=Sum(F("room_enters") - F("room_leaves")))["net"])
    return net or 0


def _label(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


def conversion(live, summary: dict) -> dict:
    """How far reservations turned into entries: viewers who held a reservation when they first
    entered (LiveStats.showed_up) over the reservations the live holds (live_summary)."""
    # Read here, not from live.stats: an instance's cached stats row goes stale as events arrive.
    showed_up = (LiveStats.objects.for_org(live.org).filter(live=live)
                 .values_list("showed_up", flat=True).first()) or 0
    return {"showed_up": showed_up, "reservations": summary["reservations"],
            "rate": rate(showed_up, summary["reservations"])}


def top_promoters(live, limit: int = TOP_PROMOTERS) -> list[dict]:
    """The promoters with the most GMV right now, then the most viewers brought into the room;
    promoters who have brought neither yet are left out."""
    rows = (PromoterStats.objects.for_org(live.org)
            .filter(live=live, promoter__isnull=False)
            .filter(Q(gmv__gt=0) | Q(entered__gt=0))
            .order_by("-gmv", "-entered", "promoter__code")
            .values("promoter__code", "promoter__name", "promoter__team__name",
                    "entered", "buyers", "orders", "gmv")[:limit])
    return [{"code": row["promoter__code"], "name": row["promoter__name"],
             "team": row["promoter__team__name"] or "", "entered": row["entered"],
             "buyers": row["buyers"], "orders": row["orders"], "gmv": row["gmv"]} for row in rows]


def top_teams(live, limit: int = TOP_TEAMS) -> list[dict]:
    """Teams/stores by the GMV of their promoters, then their entries; one grouped query."""
    rows = (PromoterStats.objects.for_org(live.org)
            .filter(live=live, promoter__team__isnull=False)
            .values("promoter__team__name")
            .annotate(promoters=Count("pk"), entered_sum=Sum("entered"), buyers_sum=Sum("buyers"),
                      orders_sum=Sum("orders"), gmv_sum=Sum("gmv"))
            .filter(Q(gmv_sum__gt=0) | Q(entered_sum__gt=0))
            .order_by("-gmv_sum", "-entered_sum", "promoter__team__name")[:limit])
    return [{"team": row["promoter__team__name"], "promoters": row["promoters"],
             "entered": row["entered_sum"], "buyers": row["buyers_sum"], "orders": row["orders_sum"],
             "gmv": row["gmv_sum"]} for row in rows]


def room(live, now: datetime | None = None) -> dict:
    """Everything the room's data block shows, in one call."""
    summary = live_summary(live)
    per_minute = minutes(live, now)
    return {
        "summary": summary,
        "minutes": per_minute,
        "concurrent_now": per_minute[-1].concurrent if per_minute else 0,
        "funnel": funnel(summary),
        "conversion": conversion(live, summary),
        "promoters": top_promoters(live),
        "teams": top_teams(live),
    }
