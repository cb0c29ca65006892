"""Commission plans changed by members: saved, archived, chosen for a live; each change
brings the ledger's estimates up to date (money.ledger)."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from liveloop.money.ledger import accrue, accrue_open_lives, is_settled
from liveloop.money.models import Plan, ProgrammePlan
from liveloop.money.stored_plans import plan_for, plans_for, rules_of, stored_rules  # noqa: F401  (callers ask here)
from liveloop.orgs import audit
from liveloop.rules.commission import make_plan


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
