"""The live page's charts as ECharts option dicts, built from the derived tables only.

Every option is plain JSON (no JavaScript functions): the page embeds it with `json_script`,
which escapes it for HTML, and ECharts draws it on a canvas. Tooltips use ECharts' rich-text
mode so no text — a promoter's name included — is ever written into the page as HTML, and no
option carries a string `formatter` with user text in it (ECharts would read `{…}` in it as a
template).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from django.db.models import CharField, IntegerField, Sum
from django.db.models.functions import Cast, Substr
from django.utils.translation import gettext as _

from liveloop.analytics.models import LiveMinute, PromoterStats
from liveloop.orgs.zones import zone_label

ACCENT = "#07a35a"
SOFT = "#9ddcb9"
INK = "#1f2329"
MUTED = "#646a73"
LINE = "#e4e6eb"
FONT = ('system-ui, -apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
        '"Noto Sans CJK SC", "Noto Sans SC", sans-serif')
TOP = 10
# Longer than this and hourly bars get too thin to read: count per day instead.
HOURLY_SPAN = timedelta(days=3)


@dataclass
class Chart:
    key: str
    title: str
    summary: str  # the text alternative: what a reader of the chart would take from it
    option: dict | None  # None: nothing to draw yet (the page says so instead)
    rows: list[tuple[str, str]]  # the data as label/value text, for screen readers


def live_charts(live, summary: dict | None = None) -> list[Chart]:
    """Reservations over time, the funnel and the top promoters of one live, in page order.

    `summary` may be the page's `live_summary(live)` so the funnel reuses it.
    """
    if summary is None:
        summary = _funnel_totals(live)
    return [reservations_chart(live), funnel_chart(summary), top_promoters_chart(live)]


# --- Funnel ----------------------------------------------------------------------------------

def _funnel_totals(live) -> dict:
    totals = (PromoterStats.objects.for_org(live.org).filter(live=live)
              .aggregate(reservations=Sum("reservations"), entered=Sum("entered"), buyers=Sum("buyers")))
    return {key: value or 0 for key, value in totals.items()}


def rate(part: int, whole: int) -> str:
    """"45.6%", or "—" when there is nothing to divide by. A display ratio, not money."""
    if not whole:
        return "—"
    return f"{part * 100 / whole:.1f}%"


def funnel_chart(summary: dict) -> Chart:
    reservations, entered, buyers = summary["reservations"], summary["entered"], summary["buyers"]
    # Bars, not an ECharts funnel: entries include people who never reserved, so a stage can be
    # larger than the one before it, which a funnel shape would misdraw.
    stages = [
        (_("Reservations"), reservations, ""),
        (_("Entered the room"), entered, rate(entered, reservations)),
        (_("Buyers"), buyers, rate(buyers, entered)),
    ]
    rows = [(name, f"{value:,}" + (f" ({share})" if share else "")) for name, value, share in stages]
    text = _("Reservations %(reservations)s, entered the room %(entered)s (%(entered_rate)s of "
             "reservations), buyers %(buyers)s (%(buyers_rate)s of those who entered).") % {
        "reservations": f"{reservations:,}", "entered": f"{entered:,}",
        "entered_rate": rate(entered, reservations), "buyers": f"{buyers:,}",
        "buyers_rate": rate(buyers, entered)}
    option = _base()
    option.update({
        "grid": {"left": 8, "right": 96, "top": 8, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "show": False},
        "yAxis": {"type": "category", "inverse": True, "data": [name for name, _v, _s in stages],
                  "axisTick": {"show": False}, "axisLine": {"show": False},
                  "axisLabel": {"color": INK, "fontSize": 13}},
        "series": [{
            "type": "bar", "name": _("People"), "barWidth": "60%",
            "data": [{"value": value, "itemStyle": {"color": color},
                      "label": {"formatter": f"{value:,}" + (f" · {share}" if share else "")}}
                     for (name, value, share), color in zip(stages, (SOFT, "#4cc38a", ACCENT))],
            "label": {"show": True, "position": "right", "color": INK},
        }],
    })
    return Chart("funnel", _("Funnel"), text, option, rows)


# --- Reservations over time ------------------------------------------------------------------

def reservation_quarters(live) -> dict[datetime, int]:
    """Net reservations of the live per UTC quarter hour (only quarters that changed them).

    Every time zone's offset is a whole number of quarter hours, so all minutes of a UTC
    quarter share a local hour and day: the quarters can be bucketed in any zone. A live has up
    to ~20,000 minute rows; the database sums them into at most four rows an hour, cutting the
    minute's UTC text ("2026-11-20 12:07:00…", the same on SQLite and PostgreSQL, whose
    sessions Django keeps in UTC) rather than calling a date function, which SQLite would
    answer with a Python callback per row.
    """
    text = Cast("minute", CharField())
    rows = (LiveMinute.objects.for_org(live.org).filter(live=live).exclude(reservations=0)
            .annotate(hour=Substr(text, 1, 13), quarter=Cast(Substr(text, 15, 2), IntegerField()) / 15)
            .values_list("hour", "quarter").annotate(count=Sum("reservations")).order_by())
    quarters = {}
    for hour, quarter, count in rows:
        if count:
            start = datetime.fromisoformat(f"{hour}:{quarter * 15:02d}").replace(tzinfo=dt_timezone.utc)
            quarters[start] = count
    return quarters


def bucket_reservations(quarters: dict[datetime, int], zone: ZoneInfo):
    """Net reservations per local hour (or per local day when the span is longer than three
    days), with the empty buckets in between filled in. Returns (by_day, [(start, count)]),
    each start a naive wall-clock time of `zone`."""
    if not quarters:
        return False, []
    first, last = min(quarters), max(quarters)
    by_day = last - first > HOURLY_SPAN
    counts: dict[datetime, int] = dict.fromkeys(_bucket_starts(first, last, by_day, zone), 0)
    for quarter, count in quarters.items():
        counts[_bucket(quarter.astimezone(zone).replace(tzinfo=None), by_day)] += count
    return by_day, sorted(counts.items())


def _bucket(wall: datetime, by_day: bool) -> datetime:
    if by_day:
        return datetime.combine(wall.date(), datetime.min.time())
    return wall.replace(minute=0, second=0, microsecond=0)


def _bucket_starts(first: datetime, last: datetime, by_day: bool, zone: ZoneInfo):
    if by_day:
        day: date = first.astimezone(zone).date()
        end = last.astimezone(zone).date()
        while day <= end:
            yield datetime.combine(day, datetime.min.time())
            day += timedelta(days=1)
        return
    # Walk real time in quarter hours (a zone may be off the UTC hour by 30 or 45 minutes), not
    # wall-clock hours, so a daylight-saving jump neither invents nor loses an hour; a repeated
    # wall-clock hour is one bucket.
    instant = first
    while instant <= last:
        yield _bucket(instant.astimezone(zone).replace(tzinfo=None), False)
        instant += timedelta(minutes=15)


def reservations_chart(live) -> Chart:
    title = _("Reservations over time")
    by_day, buckets = bucket_reservations(reservation_quarters(live), ZoneInfo(live.org.timezone))
    if not buckets:
        return Chart("reservations", title, _("No reservations yet."), None, [])
    labels = [start.strftime("%m-%d" if by_day else "%m-%d %H:00") for start, _count in buckets]
    per_bucket = [count for _start, count in buckets]
    running, cumulative = 0, []
    for count in per_bucket:
        running += count
        cumulative.append(running)
    bar_name = _("Per day") if by_day else _("Per hour")
    busiest = max(range(len(buckets)), key=lambda i: per_bucket[i])
    text = _("Reservations from %(first)s to %(last)s (%(zone)s): %(total)s in all; the busiest "
             "%(unit)s was %(busiest)s with %(count)s.") % {
        "first": labels[0], "last": labels[-1], "zone": zone_label(live.org.timezone), "total": f"{running:,}",
        "unit": _("day") if by_day else _("hour"), "busiest": labels[busiest],
        "count": f"{per_bucket[busiest]:,}"}
    option = _base()
    option.update({
        "legend": {"top": 0, "textStyle": {"color": MUTED}},
        "grid": {"left": 8, "right": 8, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"color": MUTED},
                  "axisLine": {"lineStyle": {"color": LINE}}},
        # The legend names both axes' series; axis names would be clipped at the edges.
        "yAxis": [
            {"type": "value", "minInterval": 1, "splitLine": {"lineStyle": {"color": LINE}},
             "axisLabel": {"color": MUTED}},
            {"type": "value", "minInterval": 1, "splitLine": {"show": False},
             "axisLabel": {"color": MUTED}},
        ],
        "series": [
            {"type": "bar", "name": bar_name, "data": per_bucket, "itemStyle": {"color": SOFT},
             "barMaxWidth": 48},
            {"type": "line", "name": _("Cumulative reservations"), "yAxisIndex": 1, "data": cumulative,
             "showSymbol": False, "smooth": False, "itemStyle": {"color": ACCENT},
             "lineStyle": {"width": 2}},
        ],
    })
    if len(labels) > 48:
        option["dataZoom"] = [{"type": "inside"}]
    return Chart("reservations", title, text, option, list(zip(labels, (f"{n:,}" for n in per_bucket))))


# --- Top promoters ---------------------------------------------------------------------------

def top_promoters(live, limit: int = TOP) -> list[tuple[str, str, int]]:
    """(name, code, reservations) of the promoters who brought the most reservations."""
    return list(PromoterStats.objects.for_org(live.org)
                .filter(live=live, promoter__isnull=False, reservations__gt=0)
                .order_by("-reservations", "promoter__code")
                .values_list("promoter__name", "promoter__code", "reservations")[:limit])


def top_promoters_chart(live) -> Chart:
    title = _("Top promoters by reservations")
    top = top_promoters(live)
    if not top:
        return Chart("promoters", title, _("No promoter has brought a reservation yet."), None, [])
    text = _("The %(n)s promoters who brought the most reservations, from the most: %(list)s.") % {
        "n": len(top), "list": _(", ").join(f"{name} ({count:,})" for name, _code, count in top)}
    option = _base()
    option.update({
        "grid": {"left": 8, "right": 56, "top": 8, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "show": False},
        "yAxis": {"type": "category", "inverse": True,
                  # Category labels are drawn as canvas text; duplicates are kept apart by index.
                  "data": [name for name, _code, _count in top],
                  "axisTick": {"show": False}, "axisLine": {"show": False},
                  "axisLabel": {"color": INK, "width": 120, "overflow": "truncate"}},
        "series": [{
            "type": "bar", "name": _("Reservations"), "data": [count for _name, _code, count in top],
            "itemStyle": {"color": ACCENT}, "barMaxWidth": 22,
            "label": {"show": True, "position": "right", "color": INK},
        }],
    })
    rows = [(f"{name} ({code})", f"{count:,}") for name, code, count in top]
    return Chart("promoters", title, text, option, rows)


def _base() -> dict:
    return {
        "animationDuration": 300,
        "textStyle": {"fontFamily": FONT},
        # Rich text: the tooltip is drawn on the canvas, never inserted into the page as HTML.
        "tooltip": {"trigger": "axis", "renderMode": "richText", "axisPointer": {"type": "shadow"}},
    }
