"""rules.earnings.figures_paid_on: the counted figures whose moving can move what a plan pays,
which decide the promoters ingest re-estimates (money.ledger.Accrual)."""
from liveloop.rules.attribution import (BUYERS, CAPTURES, ENTERED, FIGURES, FOLLOWS, GMV, ORDERS, REFUNDED,
                                        RESERVATIONS)
from liveloop.rules.commission import make_plan
from liveloop.rules.earnings import figures_paid_on

SALES = {ORDERS, GMV, REFUNDED, BUYERS}


def test_sales_always_move_pay_and_follows_and_captures_never():
    for fields in ({"rate_bps": 500}, {"tiers": ((1_000, 500), (None, 900))}, {"rate_bps": 0},
                   {"rate_bps": 500, "reservation_bounty_fen": 10, "effective_view_bounty_fen": 5}):
        paid = figures_paid_on(make_plan(**fields))
        assert SALES <= paid
        assert not paid & {FOLLOWS, CAPTURES}
        assert paid <= set(range(len(FIGURES)))


def test_reservations_and_entries_move_pay_only_when_the_plan_pays_a_bounty_on_them():
    assert figures_paid_on(make_plan(rate_bps=500)) == SALES
    assert figures_paid_on(make_plan(rate_bps=500, reservation_bounty_fen=30)) == SALES | {RESERVATIONS}
    assert figures_paid_on(make_plan(rate_bps=500, effective_view_bounty_fen=5)) == SALES | {ENTERED}
    # A cap on paid views without a bounty pays nothing on them.
    assert figures_paid_on(make_plan(rate_bps=500, effective_view_cap=100)) == SALES
    assert figures_paid_on(make_plan(rate_bps=500, new_buyer_bounty_fen=200)) == SALES
