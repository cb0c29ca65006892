"""The matrix page: a day, a week or a chosen set of lives, by account, store and region.

Included by web/urls.py under matrix/ without a namespace of its own, so its names are
web:matrix, web:matrix_csv and web:matrix_xlsx.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from liveloop.analytics.matrix import (NO_RATE, lives_by_ids, lives_in_week, lives_on_day, matrix,
                                       matrix_csv_response, matrix_xlsx_response, week_of)
from liveloop.lives.models import Live
from liveloop.rules.dates import day_in_range
from liveloop.web.context import org_view, requires

DAY, WEEK, LIVES = "day", "week", "lives"
MODES = ((WEEK, _("Week")), (DAY, _("Day")), (LIVES, _("Chosen lives")))
PICKABLE = 200  # the lives offered in the multi-select: the most recent ones


@dataclass
class Selection:
    mode: str
    day: date
    ids: list[str]
    lives: object  # a queryset of the organisation's lives
    stem: str      # the export file name, without extension


def _parse_day(raw: str | None) -> date:
    try:
        day = date.fromisoformat(raw or "")
    except ValueError:
        day = None
    # A day outside the window (?date=9999-12-31) would overflow its week's Sunday: like an
    # unreadable one, it falls back to today.
    if day is None or not day_in_range(day):
        return timezone.localdate()  # org_view has activated the organisation's zone
    return day


def select(request, org) -> Selection:
    """The lives the query string asks for; anything unreadable falls back to this week."""
    mode = request.GET.get("mode", WEEK)
    day = _parse_day(request.GET.get("date"))
    ids = [pid for pid in request.GET.getlist("lives") if pid]
    if mode == LIVES:
        return Selection(LIVES, day, ids, lives_by_ids(org, ids), "matrix-lives")
    if mode == DAY:
        return Selection(DAY, day, ids, lives_on_day(org, day), f"matrix-{day.isoformat()}")
    monday, _sunday = week_of(day)
    return Selection(WEEK, day, ids, lives_in_week(org, day), f"matrix-week-{monday.isoformat()}")


@org_view
def matrix_page(request, org):
    chosen = select(request, org)
    result = matrix(org, chosen.lives)
    monday, sunday = week_of(chosen.day)
    return render(request, "web/matrix.html", {
        "chosen": chosen, "modes": MODES, "result": result, "no_rate": NO_RATE,
        "monday": monday, "sunday": sunday,
        "previous": (chosen.day - timedelta(days=7 if chosen.mode == WEEK else 1)).isoformat(),
        "next": (chosen.day + timedelta(days=7 if chosen.mode == WEEK else 1)).isoformat(),
        "tables": [
            {"key": "accounts", "title": _("By account"), "name": _("Account"),
             "rows": result["accounts"]},
            {"key": "stores", "title": _("By store"), "name": _("Store"), "region": True,
             "rows": result["stores"]},
            {"key": "regions", "title": _("By region"), "name": _("Region"),
             "rows": result["regions"]},
        ],
        "selected_lives": list(chosen.lives.select_related("account").order_by("announced_at", "pk")),
        "pickable": (Live.objects.for_org(org).select_related("account")
                     .order_by("-announced_at", "-pk")[:PICKABLE]),
        "query": request.GET.urlencode(),
    })


@org_view
@requires("export")
def matrix_csv(request, org):
    chosen = select(request, org)
    return matrix_csv_response(matrix(org, chosen.lives), chosen.stem)


@org_view
@requires("export")
def matrix_xlsx(request, org):
    chosen = select(request, org)
    return matrix_xlsx_response(matrix(org, chosen.lives), chosen.stem)


urlpatterns = [
    path("", matrix_page, name="matrix"),
    path("matrix.csv", matrix_csv, name="matrix_csv"),
    path("matrix.xlsx", matrix_xlsx, name="matrix_xlsx"),
]
