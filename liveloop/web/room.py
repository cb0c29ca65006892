"""The live room page (实时大屏): the page and the data block it asks for again while on air.

The chart containers belong to the page and stay put; each data block carries the charts'
options as JSON (json_script), and web/room.js hands them to the charts already drawn, so
a refresh moves the lines instead of redrawing the page.
"""
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from liveloop.analytics.realtime import room
from liveloop.lib.bulk import table
from liveloop.lib.numbers import whole_yuan, yuan
from liveloop.lives.models import Live
from liveloop.rules.attribution import LIVE, SCHEDULED
from liveloop.web.charts import ACCENT, SOFT, _base
from liveloop.web.context import org_view
from liveloop.web.tables import FUNNEL_LABELS
from liveloop.web.templatetags.figures import count

# On air the room moves every second; before it, only reservations trickle in, and the slower
# poll is what turns the page into the live room by itself when the live goes on air.
POLL = {LIVE: "2s", SCHEDULED: "10s"}
# The room is dark: lighter axis text and fainter grid lines than the live page's charts.
AXIS = "#aeb6c2"
GRID = "#343c48"
ORDERS = "#4c9bf0"
GMV = "#f29b38"


def concurrency_option(per_minute) -> dict:
    option = _base()
    option["tooltip"] = {"trigger": "axis", "renderMode": "richText"}
    option.update({
        "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "boundaryGap": False, "data": [m.label for m in per_minute],
                  "axisLabel": {"color": AXIS}, "axisLine": {"lineStyle": {"color": GRID}}},
        "yAxis": {"type": "value", "minInterval": 1, "axisLabel": {"color": AXIS},
                  "splitLine": {"lineStyle": {"color": GRID}}},
        "series": [{"type": "line", "name": _("Concurrent viewers"), "showSymbol": False,
                    "data": [m.concurrent for m in per_minute], "itemStyle": {"color": ACCENT},
                    "lineStyle": {"width": 3}, "areaStyle": {"color": ACCENT, "opacity": 0.15}}],
    })
    return option


def flow_option(per_minute) -> dict:
    option = _base()
    option.update({
        "legend": {"top": 0, "textStyle": {"color": AXIS}},
        "grid": {"left": 8, "right": 8, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": [m.label for m in per_minute],
                  "axisLabel": {"color": AXIS}, "axisLine": {"lineStyle": {"color": GRID}}},
        "yAxis": [
            {"type": "value", "minInterval": 1, "axisLabel": {"color": AXIS},
             "splitLine": {"lineStyle": {"color": GRID}}},
            {"type": "value", "minInterval": 1, "axisLabel": {"color": AXIS}, "splitLine": {"show": False}},
        ],
        "series": [
            {"type": "bar", "name": _("Entries"), "data": [m.entered for m in per_minute],
             "itemStyle": {"color": SOFT}, "barMaxWidth": 14},
            {"type": "bar", "name": _("Orders"), "data": [m.orders for m in per_minute],
             "itemStyle": {"color": ORDERS}, "barMaxWidth": 14},
            {"type": "line", "name": _("GMV (¥)"), "yAxisIndex": 1, "showSymbol": False,
             "data": [whole_yuan(m.gmv) for m in per_minute], "itemStyle": {"color": GMV},
             "lineStyle": {"width": 2}},
        ],
    })
    return option


def minute_rows(per_minute) -> list[tuple]:
    # Formatted here, newest first: the table is re-rendered on every poll, and sixty rows of
    # template filter calls would cost more than all the queries.
    return [(m.at.isoformat(), m.label, count(m.concurrent), m.sampled, count(m.entered), count(m.orders),
             yuan(m.gmv)) for m in reversed(per_minute)]


_MINUTE_ROW = ('\n        <tr><th scope="row"><time datetime="{}">{}</time></th><td class="num">{}{}</td>'
               '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>')
_ESTIMATE = '<span class="estimate">*</span>'


def minute_rows_html(rows) -> SafeString:
    """The per-minute table's rows as the template wrote them, byte for byte: sixty rows of
    seven template variables were the larger part of the data request's time."""
    # Nothing to escape: every value is an ISO timestamp, an HH:MM label or a figure formatted by
    # count/yuan (digits, separators, ¥, minus).
    return mark_safe("".join(
        _MINUTE_ROW.format(at, label, concurrent, "" if sampled else _ESTIMATE, entered, orders, gmv)
        for at, label, concurrent, sampled, entered, orders, gmv in rows))


# Names stay on one line, cut with an ellipsis and whole in the title (issue 19: on a phone a
# long name wrapped one character per line). On a phone the team column gives way to the
# team under the name (room.css); the copy there is hidden from screen readers.
_PROMOTER_ROW = ('\n          <tr><td class="rank">{0}</td><th scope="row"><span class="name" title="{1}">{1}</span>'
                 ' <span class="code">{2}</span><span class="team-under" title="{3}" aria-hidden="true">{3}</span></th>'
                 '<td class="team"><span class="name" title="{3}">{3}</span></td>'
                 '\n            <td class="num">{4}</td><td class="num">{5}</td><td class="num">{6}</td></tr>')
_TEAM_ROW = ('\n          <tr><td class="rank">{0}</td><th scope="row"><span class="name" title="{1}">{1}</span></th>'
             '\n            <td class="num">{2}</td><td class="num">{3}</td><td class="num">{4}</td></tr>')


def top_rows_html(promoters, teams) -> tuple[SafeString, SafeString]:
    """The top lists' table rows, rendered as the template did (names and teams escaped)."""
    return (mark_safe("".join(
                _PROMOTER_ROW.format(rank, escape(row["name"]), escape(row["code"]), escape(row["team"]),
                                     yuan(row["gmv"]), count(row["entered"]), count(row["orders"]))
                for rank, row in enumerate(promoters, 1))),
            mark_safe("".join(
                _TEAM_ROW.format(rank, escape(row["team"]), yuan(row["gmv"]), count(row["entered"]),
                                 count(row["orders"]))
                for rank, row in enumerate(teams, 1))))


def _context(live) -> dict:
    data = room(live, timezone.now())
    per_minute = data["minutes"]
    return {
        "live": live,
        **data,
        "funnel": [{**step, "label": FUNNEL_LABELS[step["key"]]} for step in data["funnel"]],
        "poll": POLL.get(live.state),
        "minute_rows": minute_rows_html(minute_rows(per_minute)),
        "top_rows": top_rows_html(data["promoters"], data["teams"]),
        "options": {"concurrency": concurrency_option(per_minute), "flow": flow_option(per_minute)},
        "window_first": per_minute[0].at if per_minute else None,
        "window_last": per_minute[-1].at if per_minute else None,
    }


def _live(org, public_id, *related):
    # The organisation's live or 404, joining only what the template reads: the data block,
    # asked for every two seconds, reads the live's own columns alone.
    if related:
        live = get_object_or_404(Live.objects.for_org(org).select_related(*related), public_id=public_id)
    else:
        # Written out in SQL: the ORM's get() took three times as long to build its query as the
        # statement takes to run, on every poll (docs/performance.md, "The room's data request").
        # Scoped by organisation like queries.live_of: another organisation's id is a 404.
        live = next(iter(Live.objects.raw(f"SELECT * FROM {table(Live)} WHERE org_id = %s AND public_id = %s",
                                          [org.pk, public_id])), None)
        if live is None:
            raise Http404("No live matches the given query.")
    live.org = org  # found in this organisation: no need to read the org again
    return live


@org_view
def room_page(request, org, public_id):
    return render(request, "web/room.html", _context(_live(org, public_id, "account")))


@org_view
def room_data(request, org, public_id):
    return render(request, "web/_room_data.html", _context(_live(org, public_id)))
