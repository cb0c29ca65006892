"""WeChat's commission orders (推客 佣金单) and the brand's plan on the same order
(docs/decisions.md "WeChat's commission orders and the brand's plan"): off by default, the part
of an order WeChat commissions is left out of the plan and the breakdown says so; with the plan's
option on, it is paid as any sale; a commission WeChat cancels counts again. Either way a replay
of the log gives the same money."""
from datetime import timedelta

import pytest
from click.testing import CliRunner

from liveloop.actions.lives import end_live, start_live
from liveloop.cli import main
from liveloop.events.ingest import ingest
from liveloop.events.models import Order
from liveloop.money.models import Entry, Statement
from liveloop.money.plans import save_plan
from liveloop.money.settlement import settle_live
from liveloop.promoters.models import Promoter, Team
from liveloop.rules.commission import WECHAT_COMMISSIONED
from tests.actors import EVENING, event

pytestmark = pytest.mark.django_db


def paid(id, live, viewer, amount, code, minutes=5):
    return event(f"paid-{id}", "order_paid", live.public_id, viewer,
                 at=EVENING + timedelta(minutes=minutes), order=id, amount=amount, promoter=code)


def commission(order, live, sku, state, paid_fen, fee, minutes=20, id=None):
    """As the WeChat worker writes it (integrations.wechat.commissions): one id per order, SKU
    and state."""
    return event(id or f"wxc:{order}:{sku}:{state}", "commission_order", live.public_id, "buyer",
                 at=EVENING + timedelta(minutes=minutes), order=order, amount=fee,
                 attrs={"sku": sku, "state": state, "paid": paid_fen})


def held(org, promoter, live):
    return sum(Entry.objects.for_org(org).filter(promoter=promoter, live=live).values_list("amount", flat=True))


def check_clean(org):
    result = CliRunner().invoke(main, ["rebuild", "--check", "--org", org.slug])
    assert result.exit_code == 0, result.output


@pytest.fixture
def shop(brand):
    live = brand.live(promoters=("PA", "PB", "PL"))
    a, b, leader = (Promoter.objects.get(code=c) for c in ("PA", "PB", "PL"))
    team = Team.objects.create(org=brand.org, name="静安店", leader=leader)
    Promoter.objects.filter(pk__in=[a.pk, leader.pk]).update(team=team)
    start_live(live, EVENING)
    ingest(brand.org, [paid("o1", live, "v1", 10_000, "PA"), paid("o2", live, "v2", 5_000, "PA"),
                       paid("o3", live, "v3", 3_000, "PB")])
    return brand, live, a, b, leader


# (plan pays on WeChat's orders?) → PA's and the leader's (2% override on PA) amounts after each step.
STEPS = {
    False: {"start": (1_500, 300), "o1 unsettled": (500, 100), "o2 part": (300, 60),
            "o1 settled": (300, 60), "o1 cancelled": (1_300, 260)},
    True: {"start": (1_500, 300), "o1 unsettled": (1_500, 300), "o2 part": (1_500, 300),
           "o1 settled": (1_500, 300), "o1 cancelled": (1_500, 300)},
}


@pytest.mark.parametrize("pays", [False, True])
def test_a_wechat_commission_and_the_brand_s_plan_on_the_same_order(shop, pays):
    brand, live, a, b, leader = shop
    save_plan(brand.org, None, name="标准", make_default=True, override_levels=1,
              fields={"rate_bps": 1000, "override_bps": (200,), "pay_wechat_commissioned": pays})
    steps = STEPS[pays]
    assert (held(brand.org, a, live), held(brand.org, leader, live)) == steps["start"]
    # WeChat's sharer earns on all of o1 (¥100): the brand's plan leaves it out unless it says so.
    result = ingest(brand.org, [commission("o1", live, "s1", "unsettled", 10_000, 1_000)])
    assert (result.accepted, result.rejected) == (1, [])
    assert (held(brand.org, a, live), held(brand.org, leader, live)) == steps["o1 unsettled"]
    # One SKU of o2 (¥20 of its ¥50): only that part is WeChat's.
    ingest(brand.org, [commission("o2", live, "s2", "unsettled", 2_000, 200)])
    assert (held(brand.org, a, live), held(brand.org, leader, live)) == steps["o2 part"]
    ingest(brand.org, [commission("o1", live, "s1", "settled", 10_000, 1_000, minutes=40)])
    assert (held(brand.org, a, live), held(brand.org, leader, live)) == steps["o1 settled"]
    assert held(brand.org, b, live) == 300  # PB's order is nobody's but the brand's
    # WeChat cancels its commission on o1 (its buyer returned the goods, or WeChat reversed
    # it): the order is the brand's again.
    ingest(brand.org, [commission("o1", live, "s1", "cancelled", 10_000, 1_000, minutes=50)])
    assert (held(brand.org, a, live), held(brand.org, leader, live)) == steps["o1 cancelled"]
    o1 = Order.objects.for_org(brand.org).get(order="o1")
    assert (o1.wechat_paid, o1.wechat) == (0, '{"s1":["cancelled",10000,1000]}')
    check_clean(brand.org)


def test_the_settled_statement_says_why_the_plan_paid_less(shop):
    brand, live, a, b, leader = shop
    save_plan(brand.org, None, name="标准", make_default=True, fields={"rate_bps": 1000})
    ingest(brand.org, [commission("o2", live, "s2", "settled", 2_000, 200)])
    end_live(live, EVENING + timedelta(hours=2))
    run = settle_live(brand.org, live, now=EVENING + timedelta(days=8))
    line = Statement.objects.get(run=run, promoter=a).lines.get(entry__isnull=True)
    assert line.figures["net_fen"] == 13_000 and line.figures["wechat_net_fen"] == 2_000
    wechat = [item for item in line.breakdown if item["kind"] == WECHAT_COMMISSIONED]
    assert wechat == [{**wechat[0], "fen": 0, "base_fen": 2_000}]
    assert line.amount == 1_300
    # WeChat cancels after the settlement: a settled amount never rises (the ledger's rule for
    # late changes); finance pays the difference by an adjustment if it wants to.
    ingest(brand.org, [commission("o2", live, "s2", "cancelled", 2_000, 200, minutes=60 * 24 * 9)],
           now=EVENING + timedelta(days=9))
    assert held(brand.org, a, live) == 1_300
    # A commission WeChat starts after settlement takes the brand's share back (a clawback): the
    # plan now pays on ¥50 (o2 again the brand's, o1 WeChat's), ¥5 against ¥13 settled.
    ingest(brand.org, [commission("o1", live, "s1", "unsettled", 10_000, 1_000, minutes=60 * 24 * 9)],
           now=EVENING + timedelta(days=9))
    assert held(brand.org, a, live) == 500
    assert Entry.objects.for_org(brand.org).get(promoter=a, kind="clawback").amount == -800
    check_clean(brand.org)


def test_a_refund_takes_the_commissioned_part_first(shop):
    brand, live, a, b, leader = shop
    save_plan(brand.org, None, name="标准", make_default=True, fields={"rate_bps": 1000})
    ingest(brand.org, [commission("o2", live, "s2", "unsettled", 2_000, 200)])
    assert held(brand.org, a, live) == 1_300
    ingest(brand.org, [event("refund-o2", "order_refund", live.public_id, "v2",
                             at=EVENING + timedelta(minutes=30), order="o2", amount=4_000)])
    # o2's net is ¥10, all of it inside WeChat's ¥20 SKU: nothing of o2 for the plan.
    assert held(brand.org, a, live) == 1_000
    check_clean(brand.org)


def test_replayed_stale_and_forged_commissions_change_nothing(shop, outsider):
    brand, live, a, b, leader = shop
    save_plan(brand.org, None, name="标准", make_default=True, fields={"rate_bps": 1000})
    ingest(brand.org, [commission("o1", live, "s1", "settled", 10_000, 1_000)])
    before = (held(brand.org, a, live), Order.objects.for_org(brand.org).get(order="o1").wechat)
    # The same callback twice: a duplicate, counted, not applied.
    result = ingest(brand.org, [commission("o1", live, "s1", "settled", 10_000, 1_000)])
    assert (result.accepted, result.duplicates) == (0, 1)
    # An older state arriving late under another id cannot move it back.
    result = ingest(brand.org, [commission("o1", live, "s1", "unsettled", 10_000, 1_000, id="late")])
    assert result.accepted == 0 and "already settled" in result.rejected[0]["error"]
    # A commission on an order the organisation does not have, and one against another
    # organisation's order id from that organisation's own key: refused, nothing moves.
    result = ingest(brand.org, [commission("o-made-up", live, "s9", "cancelled", 1, 1)])
    assert "unknown order" in result.rejected[0]["error"]
    other = outsider.live(promoters=("PX",))
    result = ingest(outsider.org, [commission("o1", other, "s1", "cancelled", 10_000, 1_000)])
    assert "unknown order" in result.rejected[0]["error"]
    # Bad shapes are refused by field.
    for attrs, field in (({"sku": "s1", "state": "paid", "paid": 1}, "attrs.state"),
                         ({"state": "settled", "paid": 1}, "attrs.sku"),
                         ({"sku": "s1", "state": "settled", "paid": 1.5}, "attrs.paid"),
                         ({"sku": "s1", "state": "settled"}, "attrs.paid")):
        bad = {**commission("o1", live, "s1", "cancelled", 0, 0, id="bad"), "attrs": attrs}
        assert ingest(brand.org, [bad]).rejected[0]["error"].startswith(field)
    assert (held(brand.org, a, live), Order.objects.for_org(brand.org).get(order="o1").wechat) == before
    check_clean(brand.org)
