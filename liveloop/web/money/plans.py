"""The commission plans pages: the list, a plan's form, the default and archiving."""
from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from liveloop.money.models import Plan
from liveloop.money.plans import DefaultPlan, save_plan, set_archived
from liveloop.rules import commission as rules
from liveloop.web.context import org_view, requires
from liveloop.web.money import queries
from liveloop.web.money.forms import PlanForm


def _plan_summary(plan: Plan) -> str:
    r = rules.Plan(**plan.rules)
    parts = []
    if r.rate_bps is not None:
        parts.append(f"{Decimal(r.rate_bps) / 100}%")
    if r.tiers:
        parts.append(" / ".join(f"{Decimal(bps) / 100}%" + ("" if upper is None else f"≤¥{Decimal(upper) / 100:,}")
                                for upper, bps in r.tiers))
    if r.override_levels:
        parts.append(_("overrides %(rates)s") % {"rates": " + ".join(f"{Decimal(b) / 100}%" for b in r.override_bps)})
    return " · ".join(parts) or "—"


@org_view
def plans_page(request, org):
    return render(request, "web/money/plans.html", {
        "plans": [{"plan": p, "summary": _plan_summary(p)} for p in queries.plans(org)],
    })


@require_POST
@org_view
@requires("manage_money")
def plan_archive(request, org, plan_id):
    """Archive (archived=1) or bring back (archived=0) a plan. Lives already paying by it keep it."""
    plan = queries.plan_of(org, plan_id)
    archived = request.POST.get("archived") == "1"
    try:
        set_archived(org, request.user, plan, archived)
    except DefaultPlan:
        messages.error(request, _("The default plan cannot be archived: make another plan the default first."))
        return redirect("web:money_plans")
    if archived:
        messages.success(request, _("“%(name)s” is archived: it is no longer offered for lives; lives that use "
                                    "it keep it.") % {"name": plan.name})
    else:
        messages.success(request, _("“%(name)s” is offered for lives again.") % {"name": plan.name})
    return redirect("web:money_plans")


@require_http_methods(["GET", "POST"])
@org_view
def plan_edit(request, org, plan_id=None):
    plan = queries.plan_of(org, plan_id) if plan_id is not None else None
    if request.method == "POST" and not request.may["manage_money"]:
        return render(request, "web/forbidden.html", status=403)
    form = PlanForm(request.POST or None, org=org, plan=plan)
    if request.method == "POST" and form.is_valid():
        saved = form.save(request.user)
        if saved is not None:
            messages.success(request, _("Plan “%(name)s” saved. Estimates of open lives follow it.")
                             % {"name": saved.name})
            return redirect("web:money_plans")
    return render(request, "web/money/plan_form.html", {"form": form, "plan": plan},
                  status=400 if form.errors else 200)


@require_POST
@org_view
@requires("manage_money")
def plan_default(request, org, plan_id):
    plan = queries.plan_of(org, plan_id)  # an archived plan made the default is offered again (save_plan)
    save_plan(org, request.user, name=plan.name, fields=plan.rules, plan=plan, make_default=True)
    messages.success(request, _("“%(name)s” is now the default plan.") % {"name": plan.name})
    return redirect("web:money_plans")
