"""The demo brand's commission set-up: a default plan, store leaders, tax withholding.

Created before the events are fed, so the ledger accrues estimates through ingest exactly as
it would for a real brand."""
from __future__ import annotations

from liveloop.money.plans import save_plan
from liveloop.promoters.models import Promoter, Team

DEMO_PLAN = "门店标准方案"
DEMO_RULES = {
    # 6% on the first ¥3,000 a promoter brings in a live, 10% on the rest.
    "tiers": ((300_000, 600), (None, 1_000)),
    "reservation_bounty_fen": 10,  # ¥0.10 a reservation
    "new_buyer_bounty_fen": 200,  # ¥2 for a buyer new to the brand
    "cap_fen": 500_000,  # at most ¥5,000 a promoter a live
    "override_bps": (100,),  # the store's leader earns 1% on the store's other sales
}


def setup_money(org) -> None:
    org.withhold_tax = True
    org.save(update_fields=["withhold_tax"])
    for team in Team.objects.for_org(org):
        # The store's first promoter (its guide, 导购) leads it.
        leader = Promoter.objects.for_org(org).filter(team=team).order_by("pk").first()
        if leader is not None:
            Team.objects.for_org(org).filter(pk=team.pk).update(leader=leader)
    save_plan(org, None, name=DEMO_PLAN, fields=dict(DEMO_RULES), make_default=True, override_levels=1)
