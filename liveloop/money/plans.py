"""Commission plans as stored (money.Plan.rules) and as the rules use them."""
from __future__ import annotations

from dataclasses import asdict

from django.db import transaction
from django.db.models import Q

from liveloop.money.models import Plan, ProgrammePlan
from liveloop.orgs import audit
from liveloop.rules.commission import Plan as Rules, make_plan


def rules_of(stored: dict) -> Rules:
    return Rules(**stored)


def stored_rules(rules: Rules) -> dict:
    return asdict(rules)


def plan_for(org, live) -> Plan | None:
    """The plan a live pays by: its programme's, else the organisation's default, else none."""
    chosen = ProgrammePlan.objects.for_org(org).filter(live=live).select_related("plan").first()
    if chosen is not None:
        return chosen.plan
    return Plan.objects.for_org(org).filter(is_default=True).first()


def plans_for(org, live_ids) -> dict:
    """{live id: Plan or None} in two queries."""
    chosen = dict(ProgrammePlan.objects.for_org(org).filter(live_id__in=list(live_ids))
                  .values_list("live_id", "plan_id"))
    plans = {p.pk: p for p in Plan.objects.for_org(org)}
    default = next((p for p in plans.values() if p.is_default), None)
    return {live_id: plans[chosen[live_id]] if live_id in chosen else default for live_id in live_ids}


@transaction.atomic
def save_plan(org, user, *, name: str, fields: dict, plan: Plan | None = None,
              make_default: bool = False, override_levels: int | None = None) -> Plan:
    """Create or change a plan. Raises rules.commission.PlanError (with the field at fault)
    before anything is written. Estimates of open lives using it are brought up to date."""
    rules = make_plan(override_levels=override_levels, **fields)
    if make_default:
        Plan.objects.for_org(org).filter(is_default=True).exclude(pk=getattr(plan, "pk", None)).update(
            is_default=False)
    before = plan.rules if plan is not None else None
    if plan is None:
        plan = Plan.objects.create(org=org, name=name, rules=stored_rules(rules), is_default=make_default)
    else:
        plan.name, plan.rules = name, stored_rules(rules)
        plan.is_default = plan.is_default or make_default
        if make_default:
            plan.archived = False  # the default is offered to every live: it cannot stay archived
        plan.save()
    audit.record(org, user, "plan.save", f"plan {plan.pk}", name=name, before=before,
                 after=plan.rules, default=plan.is_default)
    from liveloop.money.ledger import accrue_open_lives
    accrue_open_lives(org)
    return plan


class ArchivedPlan(ValueError):
    """An archived plan offered to a live that does not already pay by it."""


class DefaultPlan(ValueError):
    """The default plan cannot be archived: every live without a choice pays by it."""


def offered_plans(org, keep=()):
    """The plans a live may be given: those not archived, and any in `keep` (ids of plans lives
    already pay by, so their menus still show them)."""
    return (Plan.objects.for_org(org).filter(Q(archived=False) | Q(pk__in=list(keep)))
            .order_by("name"))


@transaction.atomic
def set_archived(org, user, plan: Plan, archived: bool) -> Plan:
    plan = Plan.objects.for_org(org).select_for_update().get(pk=plan.pk)
    if archived and plan.is_default:
        raise DefaultPlan("the default plan cannot be archived")
    if plan.archived != archived:
        plan.archived = archived
        plan.save(update_fields=["archived", "updated_at"])
        audit.record(org, user, "plan.archive" if archived else "plan.unarchive", f"plan {plan.pk}",
                     name=plan.name)
    return plan


@transaction.atomic
def choose_plan(org, user, live, plan: Plan | None) -> None:
    """Set the plan a live's programme pays by (None: the organisation's default)."""
    from liveloop.money.ledger import accrue, is_settled
    if is_settled(org, live):
        raise ValueError("a settled live keeps the plan it was settled by")
    # Read now, not from the caller's copy: the plan may have been archived since it was loaded.
    if plan is not None and Plan.objects.for_org(org).filter(pk=plan.pk, archived=True).exists() \
            and not ProgrammePlan.objects.for_org(org).filter(live=live, plan=plan).exists():
        raise ArchivedPlan("an archived plan is not offered to lives")
    ProgrammePlan.objects.for_org(org).filter(live=live).delete()
    if plan is not None:
        ProgrammePlan.objects.create(org=org, live=live, plan=plan)
    audit.record(org, user, "plan.choose", f"live {live.public_id}",
                 plan=plan.name if plan is not None else None)
    accrue(org, [live.pk])
