"""The post-live report of one live (docs/decisions.md "Post-live report").

Every read is a small aggregate over the derived tables — the live's PromoterStats rows, its
LiveStats and LiveAudience rows, its AudienceStats rows (live × dimension × value), its
traffic minutes — never a scan of the event log. Its reminder notices are counted by
notify.queue.reminders, which the page adds: notify reads these tables, so analytics does not
read notify. Rates are exact
fractions (fractions.Fraction); only the page and the export round them, for display.
"""
from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from django.db.models import Q, Sum
from django.utils import timezone

from liveloop.analytics.models import AudienceStats, AudienceViewer, LiveAudience, LiveMinute, PromoterStats
from liveloop.analytics.queries import live_summary, promoter_table, team_rollup
from liveloop.rules.audience import BREAKDOWN, DIMENSIONS, UNKNOWN, watch_total

TOP_PROMOTERS = 50  # the page's promoter table; the export has them all


def ratio(part: int, whole: int) -> Fraction | None:
    """part / whole exactly; None when there is nothing to divide by."""
    return Fraction(part, whole) if whole else None


def room_traffic(live, sampled_peak: int = 0) -> dict:
    """Views (every room entry) and the peak concurrent viewers.

    Peak: the highest `online` sample the platform sent (`sampled_peak`, LiveStats); without
    samples, the highest running count of entries − exits at the end of a minute (an estimate
    that misses peaks inside a minute and viewers already in the room when counting began)."""
    minutes = LiveMinute.objects.for_org(live.org).filter(live=live)
    if sampled_peak:
        views = minutes.aggregate(views=Sum("room_enters"))["views"] or 0
        return {"views": views, "peak": sampled_peak, "peak_sampled": True}
    rows = (minutes.filter(Q(room_enters__gt=0) | Q(room_leaves__gt=0))
            .order_by("minute").values_list("room_enters", "room_leaves"))
    views = running = estimated = 0
    for enters, leaves in rows:
        views += enters
        running += enters - leaves
        estimated = max(estimated, running)
    return {"views": views, "peak": estimated, "peak_sampled": False}


def watch_end(live, now: datetime | None = None) -> datetime | None:
    """Where stays still open are closed: the live's end; `now` while it is on air."""
    if live.ended_at is not None:
        return live.ended_at
    if live.started_at is not None:
        return now or timezone.now()
    return None


def watch_time(live, now: datetime | None = None) -> int:
    """All seconds watched: the closed stays plus the open ones closed at watch_end()."""
    row = (LiveAudience.objects.for_org(live.org).filter(live=live)
           .values_list("watch_seconds", "open_stays", "open_since_sum").first())
    if row is None:
        return 0
    closed, open_stays, open_sum = row
    end = watch_end(live, now)
    if end is None or not open_stays:
        return closed
    late = list(AudienceViewer.objects.for_org(live.org)
                .filter(live=live, open_since__gt=end).values_list("open_since", flat=True))
    return watch_total(closed, open_stays, open_sum, end, late)


def public_captures(live) -> int:
    return (LiveAudience.objects.for_org(live.org).filter(live=live)
            .values_list("public_captures", flat=True).first()) or 0


def private_domain(live, summary: dict) -> dict:
    """Viewers and GMV that came through promoters (the promoter rows) against public traffic
    (the unattributed row), with the private domain's share of each. `summary` is
    live_summary(live): the promoter rows are the total less the unattributed row."""
    public_viewers, public_gmv, public_refunded = (
        PromoterStats.objects.for_org(live.org).filter(live=live, promoter__isnull=True)
        .values_list("entered", "gmv", "refunded").first() or (0, 0, 0))
    private_viewers = summary["entered"] - public_viewers
    private_gmv = summary["gmv"] - public_gmv
    private_refunded = summary["refunded"] - public_refunded
    return {
        "private": {"viewers": private_viewers, "gmv": private_gmv, "net": private_gmv - private_refunded},
        "public": {"viewers": public_viewers, "gmv": public_gmv, "net": public_gmv - public_refunded},
        "viewer_share": ratio(private_viewers, private_viewers + public_viewers),
        "gmv_share": ratio(private_gmv, private_gmv + public_gmv),
    }


def breakdowns(live) -> dict[str, list[dict]]:
    """dimension -> its rows (most viewers first, unknown last), only the dimensions the live's
    events carried: a row per value with every BREAKDOWN figure, net and conversion."""
    result: dict[str, list[dict]] = {name: [] for name in DIMENSIONS}
    for dimension, value, *figures in (AudienceStats.objects.for_org(live.org).filter(live=live)
                                       .values_list("dimension", "value", *BREAKDOWN)):
        if dimension not in result:
            continue
        row = {"value": value, **dict(zip(BREAKDOWN, figures))}
        row["net"] = row["gmv"] - row["refunded"]
        row["conversion"] = ratio(row["buyers"], row["entered"])
        row["uv_value"] = ratio(row["gmv"], row["entered"])
        result[dimension].append(row)
    for name, rows in result.items():
        rows.sort(key=lambda row: (row["value"] == UNKNOWN, -row["entered"], -row["gmv"], row["value"]))
        if all(row["value"] == UNKNOWN for row in rows):
            result[name] = []  # nothing known: the dimension is not in this live's data
    return result


def live_report(live, now: datetime | None = None) -> dict:
    summary = live_summary(live)
    traffic = room_traffic(live, summary["peak_online"])
    viewers, buyers, orders, gmv = summary["entered"], summary["buyers"], summary["orders"], summary["gmv"]
    watched = watch_time(live, now)
    captured_public = public_captures(live)
    domain = private_domain(live, summary)
    return {
        "summary": summary,
        "lapsed": summary["reservations"] if summary["reservations_lapsed"] else 0,
        "viewers": viewers,
        "views": traffic["views"],
        "peak": traffic["peak"],
        "peak_sampled": traffic["peak_sampled"],
        "watch_seconds": watched,
        "average_watch": ratio(watched, viewers),  # seconds per viewer
        "conversion": ratio(buyers, viewers),
        "uv_value": ratio(gmv, viewers),  # fen per viewer
        "gmv_per_thousand_views": ratio(gmv * 1000, traffic["views"]),  # fen
        "average_order": ratio(gmv, orders),  # fen
        "domain": domain,
        "flywheel": {"captures": summary["captures"], "public_captures": captured_public,
                     "public_viewers": domain["public"]["viewers"],
                     "rate": ratio(captured_public, domain["public"]["viewers"])},
        "breakdowns": breakdowns(live),
        "teams": team_rollup(live),
    }


def top_promoters(live, limit: int = TOP_PROMOTERS) -> list[dict]:
    """The unattributed row, then the promoters by net, most first."""
    return promoter_table(live, sort="-net")[:limit + 1]
