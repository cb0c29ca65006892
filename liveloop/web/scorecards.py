"""Agency scorecards: a month of the agency's client brands, for the agency's own members.

The agency's comparison of its clients is internal: a client brand's member (even its owner)
gets 404, as does anyone outside, so the page does not even confirm it exists.
"""
from datetime import date, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from liveloop.analytics.scorecards import (ACCOUNT, BRAND, scorecard, scorecard_csv_response,
                                           scorecard_xlsx_response)
from liveloop.orgs.models import Member, Organisation
from liveloop.orgs.roles import can
from liveloop.web.context import org_view
from liveloop.web.queries import parse_month


def pick_agency(memberships: list[Member], current: Organisation) -> Member:
    """The agency the page is about: the one the user is working in or whose client brand they
    switched to, else the first they belong to (by name)."""
    for member in memberships:
        if member.org_id in (current.pk, current.agency_id):
            return member
    return memberships[0]


def agency_view(view):
    """Sign-in required, then view(request, agency, role) with the user's role in the agency.

    Checked before org_view so that a user with no membership at all also gets 404. Rendering
    happens in the agency's zone, which is the zone the month is cut in.
    """
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        memberships = list(Member.objects.filter(user=request.user, org__kind=Organisation.AGENCY)
                           .select_related("org").order_by("org__name", "pk"))
        if not memberships:
            raise Http404

        def in_agency(request, org):
            member = pick_agency(memberships, org)
            with timezone.override(ZoneInfo(member.org.timezone)):
                return view(request, member.org, member.role, *args, **kwargs)
        return org_view(in_agency)(request)
    return wrapped


def month_of(request, agency) -> date:
    """?month=YYYY-MM, else the last full month in the agency's zone."""
    today = timezone.localtime(timezone.now(), ZoneInfo(agency.timezone)).date()
    last_full = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return parse_month(request.GET.get("month"), last_full)


def _groups(rows) -> list[dict]:
    """The rows as brands, each with its account rows and its subtotal, for the template."""
    groups, accounts = [], []
    for row in rows:
        if row["level"] == ACCOUNT:
            accounts.append(row)
        elif row["level"] == BRAND:
            groups.append({"brand": row["brand"], "accounts": accounts, "subtotal": row})
            accounts = []
    return groups


@agency_view
def scorecards_page(request, agency, role):
    month = month_of(request, agency)
    rows = scorecard(agency, month)
    return render(request, "web/scorecards.html", {
        "agency": agency, "month": month, "groups": _groups(rows), "total": rows[-1],
        "previous": (month - timedelta(days=1)).strftime("%Y-%m"),
        "next": (month + timedelta(days=31)).replace(day=1).strftime("%Y-%m"),
        "may_export": can(role, "export"),
    })


def _export(respond):
    @agency_view
    @wraps(respond)
    def view(request, agency, role):
        if not can(role, "export"):
            return render(request, "web/forbidden.html", status=403)
        month = month_of(request, agency)
        return respond(agency, month, scorecard(agency, month))
    return view


scorecards_csv = _export(scorecard_csv_response)
scorecards_xlsx = _export(scorecard_xlsx_response)
