"""Settling lives: the overview of ended lives (and the plan each pays by), settling one,
choosing a live's plan, and the organisation's money settings."""
from __future__ import annotations

from datetime import datetime, timezone

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from liveloop.money import payouts
from liveloop.money.plans import ArchivedPlan, choose_plan, offered_plans
from liveloop.money.settlement import SettleError, settle_live
from liveloop.web.context import org_view, requires
from liveloop.web.money import queries
from liveloop.web.money.forms import MoneySettingsForm
from liveloop.web.money.labels import said
from liveloop.web.money.queries import PER_PAGE


def _now() -> datetime:
    return datetime.now(timezone.utc)


@org_view
def overview(request, org):
    page = Paginator(queries.ended_lives(org), PER_PAGE).get_page(request.GET.get("page"))
    rows = queries.settle_rows(org, page, _now())
    coming = queries.coming_lives(org)
    # Archived plans drop out of the menus, except where a live on this page pays by one.
    keep = {row["chosen"] for row in (*rows, *coming)} - {None}
    return render(request, "web/money/overview.html", {
        "page_obj": page, "rows": rows, "plans": offered_plans(org, keep), "coming": coming,
        "batchable": payouts.batchable(org).count(),
    })


@require_POST
@org_view
@requires("manage_money")
def settle(request, org, public_id):
    live = queries.live_of(org, public_id)
    try:
        run = settle_live(org, live, request.user)
    except SettleError as error:
        messages.error(request, said(error))
        return redirect("web:money")
    messages.success(request, _("%(title)s is settled: %(count)d statements wait for approval.")
                     % {"title": live.title, "count": run.statements.count()})
    return redirect("web:money_run", run.pk)


@require_POST
@org_view
@requires("manage_money")
def live_plan(request, org, public_id):
    live = queries.live_of(org, public_id)
    plan_id = request.POST.get("plan", "")
    plan = queries.plan_of(org, plan_id) if plan_id else None
    try:
        choose_plan(org, request.user, live, plan)
    except ArchivedPlan:
        messages.error(request, _("This plan is archived: bring it back on the plans page to choose it."))
    except ValueError:
        messages.error(request, _("A settled live keeps the plan it was settled by."))
    return redirect("web:money")


@require_http_methods(["GET", "POST"])
@org_view
def money_settings(request, org):
    if request.method == "POST" and not request.may["manage_money"]:
        return render(request, "web/forbidden.html", status=403)
    form = MoneySettingsForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        form.save(request.user)
        messages.success(request, _("Money settings saved."))
        return redirect("web:money")
    return render(request, "web/money/settings.html", {"form": form}, status=400 if form.errors else 200)
