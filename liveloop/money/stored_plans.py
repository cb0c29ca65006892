"""Commission plans as stored (money.Plan.rules) and as the rules use them: what a live pays
by. Read by the ledger and settlement; changed through money.plans."""
from __future__ import annotations

from dataclasses import asdict

from liveloop.lib.bulk import select, sql_ids, table
from liveloop.money.models import Plan, ProgrammePlan
from liveloop.rules.commission import Plan as Rules


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
    live_ids = list(live_ids)
    chosen = _chosen(org, live_ids)
    plans = {p.pk: p for p in Plan.objects.for_org(org)}
    default = next((p for p in plans.values() if p.is_default), None)
    return {live_id: plans[chosen[live_id]] if live_id in chosen else default for live_id in live_ids}


def _chosen(org, live_ids) -> dict:
    """{live id: plan id} for the lives whose programme chose a plan."""
    return dict(select(f"SELECT live_id, plan_id FROM {table(ProgrammePlan)} WHERE org_id = %s "
                       f"AND live_id IN ({sql_ids(live_ids) or 'NULL'})", org.pk))
