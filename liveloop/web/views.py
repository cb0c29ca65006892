"""Operator pages: each view parses, checks membership (org_view), calls a query, renders."""
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from liveloop.analytics.exports import promoter_csv_response
from liveloop.analytics.queries import live_summary, promoter_rows
from liveloop.web import queries
from liveloop.web.context import choose_org, org_view
from liveloop.web.tables import PROMOTER_COLUMNS, SUMMARY_FIGURES, clean_sort, headers

PER_PAGE = 50


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


@org_view
def lives(request, org):
    upcoming, recent = queries.lives_overview(org)
    recent_page = Paginator(recent, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/lives.html", {"upcoming": upcoming, "recent_page": recent_page})


def _promoter_query(request):
    return clean_sort(request.GET.get("sort")), request.GET.get("team") or None


@org_view
def live(request, org, public_id):
    live = queries.live_of(org, public_id)
    sort, team = _promoter_query(request)
    page = Paginator(promoter_rows(live, sort=sort, team=team), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/live.html", {
        "live": live,
        "summary": live_summary(live),
        "figures": SUMMARY_FIGURES,
        "columns": PROMOTER_COLUMNS,
        "headers": headers(PROMOTER_COLUMNS, sort),
        "sort": sort,
        "team": team or "",
        "teams": queries.team_names(org),
        "page_obj": page,
    })


@org_view
def live_promoters_csv(request, org, public_id):
    live = queries.live_of(org, public_id)
    sort, team = _promoter_query(request)
    return promoter_csv_response(live, promoter_rows(live, sort=sort, team=team))


@require_POST
@org_view
def switch_org(request, org):
    # Back to the list: the page the switch was made on belongs to the other organisation.
    choose_org(request, request.POST.get("org", ""))
    return redirect("web:lives")
