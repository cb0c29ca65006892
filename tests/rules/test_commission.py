"""docs/decisions.md "Money rules": commission plans, overrides and settlement, pure."""
import dataclasses
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveloop.lib.numbers import round_half_up
from liveloop.rules.commission import (
    BPS, CAP, EFFECTIVE_VIEW_BOUNTY, NEW_BUYER_BOUNTY, RATE, RESERVATION_BOUNTY,
    ROUNDING, SELF_PURCHASE, TIER, FiguresError, Plan, PlanError, PromoterFigures, SettlementError,
    Team, TeamError, clawback, commission, make_plan, overrides, settle,
    team_contribution,
)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LADDER = ((1_000_000, 500), (None, 800))  # 5% up to ¥10,000, 8% above


def kinds(breakdown):
    return [(line.kind, line.fen) for line in breakdown.lines]


# --- hand-computed examples -------------------------------------------------------------------

def test_rate_on_net_rounds_half_up_once():
    result = commission(Plan(rate_bps=500), PromoterFigures(net_fen=12_345))  # 617.25 fen
    assert result.total_fen == 617
    assert kinds(result) == [(RATE, 617)]
    assert result.exact == Fraction(61_725, 100)


@pytest.mark.parametrize("net, bps, expected", [
    (10, 500, 1),    # 0.5 fen → 1
    (9, 500, 0),     # 0.45 fen → 0
    (49, 100, 0),    # 0.49 fen → 0
    (150, 100, 2),   # 1.5 fen → 2
    (30, 500, 2),    # 1.5 fen → 2
])
def test_half_a_fen_rounds_up(net, bps, expected):
    result = commission(Plan(rate_bps=bps), PromoterFigures(net_fen=net))
    assert result.total_fen == expected
    assert sum(line.fen for line in result.lines) == expected


def test_rounding_happens_once_on_the_total_not_per_line():
    # 10 fen at 5% = 0.5 and 5 fen at 10% = 0.5: per line half-up would give 2, once gives 1.
    result = commission(Plan(tiers=((10, 500), (None, 1000))), PromoterFigures(net_fen=15))
    assert result.total_fen == 1
    assert kinds(result) == [(TIER, 0), (TIER, 0), (ROUNDING, 1)]


def test_marginal_ladder_on_fifteen_thousand_yuan():
    result = commission(Plan(tiers=LADDER), PromoterFigures(net_fen=1_500_000))
    assert result.total_fen == 90_000
    assert [(line.base_fen, line.rate_bps, line.fen) for line in result.lines] == [
        (1_000_000, 500, 50_000), (500_000, 800, 40_000)]


@pytest.mark.parametrize("net, expected", [
    (999_999, 50_000),     # 49,999.95 → 50,000
    (1_000_000, 50_000),   # exactly at the bound: all at 5%
    (1_000_001, 50_000),   # 50,000.08 → 50,000
    (1_000_007, 50_001),   # 50,000.56 → 50,001
])
def test_ladder_at_the_boundary(net, expected):
    assert commission(Plan(tiers=LADDER), PromoterFigures(net_fen=net)).total_fen == expected


def test_bounties_and_effective_view_cap():
    plan = Plan(rate_bps=0, reservation_bounty_fen=100, new_buyer_bounty_fen=500,
                effective_view_bounty_fen=20, effective_view_cap=100)
    result = commission(plan, PromoterFigures(reservations=7, new_buyers=2, effective_views=150))
    assert kinds(result) == [(RESERVATION_BOUNTY, 700), (NEW_BUYER_BOUNTY, 1000),
                             (EFFECTIVE_VIEW_BOUNTY, 2000)]
    assert result.lines[-1].count == 100
    assert result.total_fen == 3700


def test_cap_applies_to_own_commission_with_bounties():
    plan = Plan(rate_bps=1000, reservation_bounty_fen=100, cap_fen=1_000)
    result = commission(plan, PromoterFigures(net_fen=9_000, reservations=5))  # 900 + 500
    assert kinds(result) == [(RATE, 900), (RESERVATION_BOUNTY, 500), (CAP, -400)]
    assert result.total_fen == 1_000


@pytest.mark.parametrize("net, expected_kinds", [
    (10_004, [(RATE, 1000)]),                     # 1000.4 → 1000: the cap takes nothing
    (10_005, [(RATE, 1000), (ROUNDING, 1), (CAP, -1)]),  # 1000.5 → 1001, capped to 1000
])
def test_cap_after_rounding_equals_rounding_the_capped_amount(net, expected_kinds):
    result = commission(Plan(rate_bps=1000, cap_fen=1000), PromoterFigures(net_fen=net))
    assert kinds(result) == expected_kinds
    assert result.total_fen == 1000


def test_self_purchase_on_orders_credited_to_the_promoter_earns_nothing_unless_allowed():
    figures = PromoterFigures(net_fen=900_000, self_purchase_net_fen=200_000)
    refused = commission(Plan(tiers=LADDER), figures)
    assert kinds(refused) == [(TIER, 45_000), (SELF_PURCHASE, 0)]
    # Allowed: own purchases sit above other sales, 100,000 at 5% and 100,000 at 8%.
    allowed = commission(Plan(tiers=LADDER, allow_self_purchase=True), figures)
    assert kinds(allowed) == [(TIER, 45_000), (SELF_PURCHASE, 13_000)]


def test_a_plan_with_neither_rate_nor_tiers_pays_bounties_only():
    figures = PromoterFigures(net_fen=10**9, new_buyers=1)
    result = commission(Plan(new_buyer_bounty_fen=300), figures)
    assert kinds(result) == [(NEW_BUYER_BOUNTY, 300)]


# --- refused plans ----------------------------------------------------------------------------

@pytest.mark.parametrize("fields, field_name", [
    ({"rate_bps": 500, "tiers": LADDER}, "tiers"),
    ({"rate_bps": 10_001}, "rate_bps"),
    ({"rate_bps": -1}, "rate_bps"),
    ({"rate_bps": 5.0}, "rate_bps"),
    ({"tiers": ((1000, 500), (1000, 800), (None, 900))}, "tiers"),   # overlapping
    ({"tiers": ((2000, 500), (1000, 800), (None, 900))}, "tiers"),   # unsorted
    ({"tiers": ((1000, 500), (2000, 800))}, "tiers"),                # last not open
    ({"tiers": ((None, 500), (2000, 800))}, "tiers"),                # open tier not last
    ({"tiers": ((0, 500), (None, 800))}, "tiers"),
    ({"tiers": ((1000, 10_001), (None, 800))}, "tiers"),
    ({"reservation_bounty_fen": -100}, "reservation_bounty_fen"),
    ({"new_buyer_bounty_fen": True}, "new_buyer_bounty_fen"),
    ({"effective_view_cap": -1}, "effective_view_cap"),
    ({"cap_fen": -1}, "cap_fen"),
    ({"override_bps": (10_001,)}, "override_bps"),
])
def test_invalid_plans_are_refused_with_the_field(fields, field_name):
    with pytest.raises(PlanError) as caught:
        Plan(**fields)
    assert caught.value.field == field_name
    assert caught.value.zh and caught.value.en


@pytest.mark.parametrize("build", [
    lambda: Plan(override_bps=(300, 200, 100)),
    lambda: make_plan(override_bps=[300, 200, 100]),
    lambda: make_plan(override_levels=3, override_bps=[300, 200, 100]),
    lambda: make_plan(override_levels=5),
])
def test_three_override_levels_are_refused_as_pyramid_selling(build):
    with pytest.raises(PlanError) as caught:
        build()
    assert caught.value.field == "override_levels"
    assert "传销" in caught.value.zh and "禁止传销条例" in caught.value.zh
    assert "pyramid selling" in caught.value.en and "two levels" in caught.value.en


def test_make_plan_reads_stored_json_shapes():
    plan = make_plan(tiers=[[1_000_000, 500], [None, 800]], override_levels=2,
                     override_bps=[300, 100], cap_fen=None)
    assert plan == Plan(tiers=LADDER, override_bps=(300, 100))
    assert plan.override_levels == 2
    assert make_plan(tiers=None, override_bps=None) == Plan()
    with pytest.raises(PlanError, match="one override rate per level"):
        make_plan(override_levels=1, override_bps=[300, 100])


def test_figures_cannot_be_negative():
    with pytest.raises(FiguresError):
        PromoterFigures(net_fen=-1)


# --- properties -------------------------------------------------------------------------------

rates = st.integers(0, BPS)


@st.composite
def ladders(draw, top=5_000_000):
    bounds = sorted(draw(st.sets(st.integers(1, top), max_size=4)))
    bps = draw(st.lists(rates, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    return tuple(zip([*bounds, None], bps))


@st.composite
def plans(draw):
    shape = draw(st.sampled_from(["rate", "tiers", "none"]))
    return Plan(
        rate_bps=draw(rates) if shape == "rate" else None,
        tiers=draw(ladders()) if shape == "tiers" else (),
        reservation_bounty_fen=draw(st.integers(0, 1000)),
        new_buyer_bounty_fen=draw(st.integers(0, 5000)),
        effective_view_bounty_fen=draw(st.integers(0, 200)),
        effective_view_cap=draw(st.none() | st.integers(0, 300)),
        cap_fen=draw(st.none() | st.integers(0, 500_000)),
        override_bps=tuple(draw(st.lists(rates, max_size=2))),
        allow_self_purchase=draw(st.booleans()),
    )


figures = st.builds(PromoterFigures, net_fen=st.integers(0, 10_000_000),
                    self_purchase_net_fen=st.integers(0, 1_000_000),
                    reservations=st.integers(0, 500), new_buyers=st.integers(0, 200),
                    effective_views=st.integers(0, 600))


def reference_exact(plan, f):
    """The plan read literally: each tier's rate on the part of the amount inside it."""
    def ladder(amount):
        total, lower = Fraction(0), 0
        for upper, bps in plan.ladder:
            inside = max(0, (amount if upper is None else min(amount, upper)) - lower)
            total += Fraction(inside * bps, BPS)
            lower = upper if upper is not None else lower
        return total
    base = f.net_fen + (f.self_purchase_net_fen if plan.allow_self_purchase else 0)
    views = f.effective_views if plan.effective_view_cap is None else min(
        f.effective_views, plan.effective_view_cap)
    return (ladder(base) + f.reservations * plan.reservation_bounty_fen
            + f.new_buyers * plan.new_buyer_bounty_fen + views * plan.effective_view_bounty_fen)


@PROPERTY
@given(plans(), figures)
def test_total_is_the_plan_rounded_half_up_once_and_capped(plan, f):
    result = commission(plan, f)
    assert sum(line.fen for line in result.lines) == result.total_fen
    exact = reference_exact(plan, f)
    expected = round_half_up(exact)
    if plan.cap_fen is not None:
        expected = min(expected, plan.cap_fen)
        assert result.total_fen <= plan.cap_fen
    assert result.total_fen == expected >= 0
    for line in result.lines:
        assert line.fen <= 0 if line.kind == CAP else line.fen >= 0
    assert [line.kind for line in result.lines].count(ROUNDING) <= 1


@PROPERTY
@given(plans(), figures, st.integers(0, 5_000_000))
def test_refunds_never_raise_commission(plan, f, refunded):
    after = dataclasses.replace(f, net_fen=max(0, f.net_fen - refunded))
    assert commission(plan, after).total_fen <= commission(plan, f).total_fen
    after = dataclasses.replace(f, self_purchase_net_fen=max(0, f.self_purchase_net_fen - refunded))
    assert commission(plan, after).total_fen <= commission(plan, f).total_fen


@PROPERTY
@given(ladders(top=3000), st.integers(0, 4000))
def test_marginal_ladder_is_the_rate_of_each_fen_summed(ladder, amount):
    def rate_at(fen):  # the rate earned on the fen numbered `fen` (0-based)
        return next(bps for upper, bps in ladder if upper is None or fen < upper)
    exact = Fraction(sum(rate_at(fen) for fen in range(amount)), BPS)
    result = commission(Plan(tiers=ladder), PromoterFigures(net_fen=amount))
    assert result.exact == exact
    assert result.total_fen == round_half_up(exact)


@PROPERTY
@given(plans(), figures)
def test_self_purchase_on_credited_orders_earns_nothing_unless_the_plan_allows_it(plan, f):
    refused = dataclasses.replace(plan, allow_self_purchase=False)
    without = dataclasses.replace(f, self_purchase_net_fen=0)
    assert commission(refused, f).total_fen == commission(refused, without).total_fen
    allowed = dataclasses.replace(plan, allow_self_purchase=True)
    assert commission(allowed, f).total_fen >= commission(refused, f).total_fen


@PROPERTY
@given(st.lists(rates, min_size=3, max_size=6))
def test_any_plan_with_three_or_more_levels_is_refused(bps):
    with pytest.raises(PlanError, match="传销"):
        make_plan(rate_bps=500, override_bps=bps)


# --- overrides and settlement -----------------------------------------------------------------

NETS = {1: 100_000, 2: 200_000, 3: 300_000, 4: 50_000, 5: 70_000}
STORE = Team("store", leader=1, members=frozenset({1, 2, 3}))
BRANCH = Team("branch", leader=4, parent="store", members=frozenset({4, 5}))


def nets(values=NETS, **extra):
    return {p: PromoterFigures(net_fen=net, **extra) for p, net in values.items()}


def test_two_level_override_excludes_the_net_credited_to_the_earning_leader():
    result = overrides(Plan(rate_bps=0, override_bps=(300, 100)), [STORE, BRANCH], nets())
    # Leader 1: 3% of (200,000 + 300,000), then 1% of the branch's 120,000 (leader 4 included).
    assert [(line.level, line.team, line.base_fen, line.fen) for line in result[1].lines] == [
        (1, "store", 500_000, 15_000), (2, "branch", 120_000, 1_200)]
    assert result[1].total_fen == 16_200
    assert result[4].total_fen == 2_100  # 3% of member 5's 70,000, not of their own 50,000
    assert set(result) == {1, 4}


def test_one_level_by_default_and_nothing_deeper_than_two():
    one = overrides(Plan(override_bps=(300,)), [STORE, BRANCH], nets())
    assert one[1].total_fen == 15_000
    region = Team("region", leader=9, members=frozenset({9}))
    store = dataclasses.replace(STORE, parent="region")
    two = overrides(Plan(override_bps=(300, 100)), [region, store, BRANCH], nets())
    # Leader 9 is paid on the store below (1% of 600,000), never on the branch two below.
    assert [(line.level, line.team) for line in two[9].lines] == [(1, "region"), (2, "store")]
    assert two[9].total_fen == 6_000
    assert overrides(Plan(rate_bps=500), [STORE, BRANCH], nets()) == {}


def test_override_counts_self_purchases_credited_to_members_only_when_allowed():
    figures = nets(self_purchase_net_fen=10_000)
    assert overrides(Plan(override_bps=(300,)), [STORE], figures)[1].total_fen == 15_000
    allowed = Plan(override_bps=(300,), allow_self_purchase=True)
    assert overrides(allowed, [STORE], figures)[1].total_fen == 15_600


def test_override_rounds_half_up_once_per_leader():
    teams = [Team("a", leader=1, members=frozenset({2})),
             Team("b", leader=1, members=frozenset({3}))]
    result = overrides(Plan(override_bps=(100,)), teams, nets({2: 50, 3: 50}))  # 0.5 + 0.5
    assert [line.fen for line in result[1].lines] == [0, 0, 1]
    assert result[1].lines[-1].kind == ROUNDING


@pytest.mark.parametrize("teams, message", [
    ([STORE, STORE], "given twice"),
    ([STORE, Team("x", leader=2, members=frozenset({3}))], "belongs to one team"),
    ([BRANCH], "unknown parent"),
    ([Team("a", 1, parent="b"), Team("b", 2, parent="a")], "own ancestor"),
    ([STORE, Team("x", leader=1, parent="store", members=frozenset({7}))], "leads both"),
])
def test_bad_team_structures_are_refused(teams, message):
    with pytest.raises(TeamError, match=message):
        overrides(Plan(override_bps=(300, 100)), teams, nets())


def test_settle_adds_own_commission_and_overrides():
    plan = Plan(rate_bps=500, override_bps=(300, 100))
    result = settle(plan, nets(), [STORE, BRANCH, Team("outside", leader=8)])
    assert result[1].own.total_fen == 5_000 and result[1].override.total_fen == 16_200
    assert result[1].total_fen == 21_200
    assert result[2].override is None and result[2].total_fen == 10_000
    assert result[8].own is None and result[8].total_fen == 0


@st.composite
def organisations(draw):
    """Promoters 1..8 spread over up to four teams (a forest), each led by a member or nobody."""
    count = draw(st.integers(1, 4))
    home = draw(st.lists(st.integers(-1, count - 1), min_size=8, max_size=8))
    teams = []
    for index in range(count):
        members = frozenset(p for p, team in enumerate(home, start=1) if team == index)
        leader = draw(st.sampled_from(sorted(members))) if members and draw(st.booleans()) else None
        parent = draw(st.none() | st.integers(0, index - 1)) if index else None
        teams.append(Team(index, leader, parent, members))
    return teams, {p: draw(figures) for p in range(1, 9)}


@PROPERTY
@given(plans(), organisations())
def test_settlement_is_own_plus_overrides_and_never_negative(plan, organisation):
    teams, figures_by_promoter = organisation
    result = settle(plan, figures_by_promoter, teams)
    paid = overrides(plan, teams, figures_by_promoter)
    for promoter, settlement in result.items():
        own = figures_by_promoter.get(promoter)
        own = commission(plan, own) if own is not None else None
        assert settlement.own == own and settlement.override == paid.get(promoter)
        assert settlement.total_fen == (own.total_fen if own else 0) + (
            paid[promoter].total_fen if promoter in paid else 0) >= 0
    for breakdown in paid.values():
        assert sum(line.fen for line in breakdown.lines) == breakdown.total_fen
        assert abs(breakdown.total_fen - breakdown.exact) <= Fraction(1, 2)
        assert {line.level for line in breakdown.lines} <= {1, 2, None}


@PROPERTY
@given(plans(), organisations(), st.integers(1, 8), st.integers(0, 2_000_000))
def test_overrides_follow_members_net_but_never_the_net_credited_to_the_leader(plan, organisation, who, extra):
    teams, figures_by_promoter = organisation
    before = overrides(plan, teams, figures_by_promoter)
    raised = dict(figures_by_promoter)
    raised[who] = dataclasses.replace(raised[who], net_fen=raised[who].net_fen + extra)
    after = overrides(plan, teams, raised)
    assert before.keys() == after.keys()
    for leader in before:
        assert after[leader].total_fen >= before[leader].total_fen
    if who in before:
        assert after[who].total_fen == before[who].total_fen


def test_overrides_on_team_totals_need_only_the_earners_figures():
    plan = Plan(rate_bps=0, override_bps=(300, 100))
    totals = {"store": 600_000, "branch": 120_000}  # every member's net, leaders included
    leaders = {p: f for p, f in nets().items() if p in (1, 4)}
    assert overrides(plan, [STORE, BRANCH], leaders, totals) == overrides(plan, [STORE, BRANCH], nets())
    # Without the leader's own figures nothing is taken out for them: give them, or the base is wrong.
    assert overrides(plan, [STORE], {}, {"store": 600_000})[1].lines[0].base_fen == 600_000


@PROPERTY
@given(plans(), organisations(), st.sets(st.integers(1, 8)))
def test_settling_earners_on_team_totals_equals_settling_everyone(plan, organisation, earners):
    """What ingest does (money.ledger.amounts_for): the figures of the earners asked about, and
    each team's members summed, pay those earners exactly what every member's figures pay."""
    teams, figures_by_promoter = organisation
    leaders = {team.leader for team in teams if team.leader is not None}
    earners |= leaders  # an override is only asked about with its leader's own figures
    totals = {team.id: sum(team_contribution(plan, figures_by_promoter[m]) for m in team.members)
              for team in teams}
    partial = settle(plan, {p: figures_by_promoter[p] for p in earners}, teams, totals)
    full = settle(plan, figures_by_promoter, teams)
    for promoter in earners:
        assert partial[promoter] == full[promoter]
        assert partial[promoter].total_fen == full[promoter].total_fen


def test_rounding_a_negative_commission_is_refused():
    from liveloop.rules.commission import _finish

    with pytest.raises(ValueError):
        _finish([], Fraction(-1, 3), None)


def test_clawback_is_a_negative_line_and_a_rise_is_refused():
    assert clawback(21_200, 20_000) == -1_200
    assert clawback(500, 500) == 0
    with pytest.raises(SettlementError, match="cannot rise"):
        clawback(500, 501)
    with pytest.raises(SettlementError):
        clawback(-1, 0)


@PROPERTY
@given(plans(), figures, st.integers(0, 10_000_000))
def test_a_late_refund_claws_back_exactly_the_difference(plan, f, refunded):
    settled = commission(plan, f).total_fen
    final = commission(plan, dataclasses.replace(f, net_fen=max(0, f.net_fen - refunded))).total_fen
    line = clawback(settled, final)
    assert line <= 0 and settled + line == final
