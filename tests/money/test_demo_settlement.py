"""Settling the demo live: three promoters' statements against figures worked out by hand.

The demo brand pays by 门店标准方案 (liveloop/demo/money.py): 6% on the first ¥3,000 of a
promoter's net in a live and 10% above it, ¥0.10 a reservation, ¥2 a new buyer, at most
¥5,000 a promoter; a store's leader earns 1% on the store's other promoters' net; tax on labour
remuneration is withheld."""
from datetime import timedelta
from fractions import Fraction

import pytest

from liveloop.analytics.models import PromoterStats
from liveloop.demo.seed import seed_demo
from liveloop.events.models import Order
from liveloop.money.models import Entry, Statement
from liveloop.money.settlement import settle_live
from liveloop.promoters.models import Promoter, Team
from tests.actors import DEMO_NOW as NOW

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2))  # non-negative here: floor of value + ½


def by_hand_tax(gross: int) -> int:
    """劳务报酬 pre-withholding, worked out for the amounts here."""
    if gross <= 80_000:
        return 0
    if gross <= 400_000:
        return half_up(Fraction(gross - 80_000) * Fraction(20, 100))
    return half_up(Fraction(gross) * Fraction(80, 100) * Fraction(20, 100))  # taxable ≤ ¥20,000


def net_of(org, live, promoter):
    return sum(paid - refunded for paid, refunded in
               Order.objects.for_org(org).filter(live=live, promoter=promoter).values_list("paid", "refunded"))


def own_by_hand(org, live, promoter) -> int:
    net = net_of(org, live, promoter)
    stats = PromoterStats.objects.get(org=org, live=live, promoter=promoter)
    # The demo's buyers are all new to the brand: its earlier lives sold to other viewers.
    buyers = Order.objects.for_org(org).filter(live=live, promoter=promoter).values("viewer").distinct().count()
    rate = Fraction(min(net, 300_000) * 6, 100) + Fraction(max(0, net - 300_000) * 10, 100)
    return min(500_000, half_up(rate + stats.reservations * 10 + buyers * 200))


def override_by_hand(org, live, leader) -> int:
    team = Team.objects.get(leader=leader)
    others = sum(net_of(org, live, p) for p in Promoter.objects.filter(team=team).exclude(pk=leader.pk))
    return half_up(Fraction(others, 100))


def test_settling_the_demo_live_matches_three_statements_worked_by_hand():
    # A quarter of the demo: its top promoter still passes the 10% tier several times over.
    demo = seed_demo(seed=1, scale=0.25, echo=lambda line: None, now=NOW)
    org, live = demo.org, demo.ended
    rows = sorted(PromoterStats.objects.for_org(org).filter(live=live, promoter__isnull=False),
                  key=lambda r: -(r.gmv - r.refunded))
    top = rows[0].promoter
    leader = Team.objects.for_org(org).exclude(leader=None).order_by("name").first().leader
    middle = next(r.promoter for r in rows[len(rows) // 3:] if r.promoter_id != leader.pk and r.orders)
    leaders = set(Team.objects.for_org(org).values_list("leader_id", flat=True))
    assert top.pk not in leaders and middle.pk not in leaders

    run = settle_live(org, live, now=live.ended_at + timedelta(days=org.refund_window_days, minutes=1))
    statements = {s.promoter_id: s for s in Statement.objects.filter(run=run)}
    assert len(statements) > 500

    for promoter, gross in ((top, own_by_hand(org, live, top)),
                            (middle, own_by_hand(org, live, middle)),
                            (leader, own_by_hand(org, live, leader) + override_by_hand(org, live, leader))):
        statement = statements[promoter.pk]
        assert (statement.gross, statement.tax, statement.payable) == \
            (gross, by_hand_tax(gross), gross - by_hand_tax(gross)), promoter.code
        assert statement.state == "frozen"
        entries = Entry.objects.for_org(org).filter(live=live, promoter=promoter)
        assert sum(entries.values_list("amount", flat=True)) == gross
    assert statements[top.pk].gross > 300_000 * 6 // 100  # the top promoter reached the 10% tier
