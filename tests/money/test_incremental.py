"""Ingest accrues only for the earners a batch can move, with each team's override base summed
by the database (money.inputs.team_totals); the ledger must hold exactly what the plan pays on
every promoter's figures recomputed in full, batch after batch."""
from datetime import timedelta

import pytest

from liveloop.events.ingest import ingest
from liveloop.events.rebuild import check as rebuild_check, replay
from liveloop.actions.lives import end_live, start_live
from liveloop.money import check, inputs
from liveloop.money.ledger import accrue_open_lives, restore_estimates
from liveloop.money.models import Estimate, Plan, StatementLine
from liveloop.money.plans import rules_of, save_plan
from liveloop.money.settlement import settle_live
from liveloop.promoters.models import Promoter, Team
from liveloop.rules.commission import settle, team_contribution
from tests.actors import EVENING, estimates, event

pytestmark = pytest.mark.django_db

CODES = [f"P{n}" for n in range(1, 10)]


def paid(id, live, viewer, amount, code=None, minutes=5):
    fields = {"order": id, "amount": amount, **({"promoter": code} if code else {})}
    return event(f"paid-{id}", "order_paid", live.public_id, viewer,
                 at=EVENING + timedelta(minutes=minutes), **fields)


def refund(id, live, viewer, amount, minutes=30):
    return event(f"refund-{id}", "order_refund", live.public_id, viewer,
                 at=EVENING + timedelta(minutes=minutes), order=id, amount=amount)


def reserve(n, live, viewer, code):
    return event(f"res-{n}", "reservation", live.public_id, viewer, promoter=code,
                 at=EVENING - timedelta(hours=1, minutes=n))


def two_levels(brand, **more):
    """The default plan most tests here pay by: two override levels, every bounty but views, a cap."""
    save_plan(brand.org, None, name="两级", make_default=True, override_levels=2, fields={
        "tiers": ((50_000, 500), (None, 800)), "reservation_bounty_fen": 30,
        "new_buyer_bounty_fen": 200, "override_bps": (300, 100), "cap_fen": 20_000, **more})


def kept(org, live):
    """The running totals ingest reads instead of summing the entries (money.models.Estimate)."""
    return {p: v for p, v in Estimate.objects.for_org(org).filter(live=live).values_list("promoter_id", "amount")
            if v}


def recomputed(org, live):
    rules = rules_of(Plan.objects.for_org(org).get(is_default=True).rules)
    result = settle(rules, inputs.stored_figures(org, live), list(inputs.teams_of(org).values()))
    return {p: s.total_fen for p, s in result.items() if s.total_fen}


@pytest.fixture
def stores(brand):
    """Store A (leader P1) over branch B (leader P4); store C led by P8 from outside it; P7
    in no team. P2 and P5 buy with their own shop openids, P5's linked to another id."""
    old = brand.live(title="上周直播", announced_at=EVENING - timedelta(days=7), promoters=CODES)
    live = brand.live(promoters=CODES)
    p = {code: Promoter.objects.get(org=brand.org, code=code) for code in CODES}
    a = Team.objects.create(org=brand.org, name="总店", leader=p["P1"])
    b = Team.objects.create(org=brand.org, name="分店", leader=p["P4"], parent=a)
    c = Team.objects.create(org=brand.org, name="外店", leader=p["P8"])
    for team, codes in ((a, "P1 P2 P3"), (b, "P4 P5"), (c, "P6 P9")):
        Promoter.objects.filter(pk__in=[p[code].pk for code in codes.split()]).update(team=team)
    Promoter.objects.filter(pk=p["P2"].pk).update(openid="o-own-2")
    Promoter.objects.filter(pk=p["P5"].pk).update(openid="o-own-5")
    start_live(old, EVENING - timedelta(days=7))
    ingest(brand.org, [event("link-5", "identify", None, "o-own-5", attrs={"phone_hash": "h-5"}),
                       paid("old-1", old, "v-back", 2_000, "P3", minutes=-60 * 24 * 7 + 5)])
    end_live(old, EVENING - timedelta(days=7) + timedelta(hours=2))
    start_live(live, EVENING)
    return brand, old, live, p


BATCHES = [
    lambda live: [paid("o1", live, "v1", 120_000, "P2"), paid("o2", live, "o-own-2", 30_000, "P2"),
                  reserve(1, live, "v2", "P3")],
    lambda live: [paid("o3", live, "v3", 45_000, "P5"), paid("o4", live, "o-own-5", 9_999, "P5"),
                  paid("o5", live, "v-back", 8_000, "P3")],
    lambda live: [paid("o6", live, "v6", 77_777, "P6"), paid("o7", live, "v7", 1_234, "P9"),
                  paid("o8", live, "v8", 5_000, "P7"), paid("o9", live, "v9", 60_000, "P1")],
    lambda live: [refund("o1", live, "v1", 20_000), refund("o4", live, "o-own-5", 9_999),
                  paid("o10", live, "v10", 333, "P4"), reserve(2, live, "v11", "P6")],
    lambda live: [paid("o11", live, "v1", 3_000, "P3"), refund("o6", live, "v6", 77_777)],
]


@pytest.mark.parametrize("allow_self_purchase", [False, True])
def test_each_batch_leaves_the_ledger_at_the_full_recomputation(stores, allow_self_purchase):
    brand, old, live, p = stores
    two_levels(brand, allow_self_purchase=allow_self_purchase)
    for number, batch in enumerate(BATCHES):
        result = ingest(brand.org, batch(live))
        assert not result.rejected, result.rejected
        assert estimates(brand.org, live) == recomputed(brand.org, live), f"after batch {number}"
        assert kept(brand.org, live) == estimates(brand.org, live), f"after batch {number}"
    figures = inputs.stored_figures(brand.org, live)
    assert figures[p["P2"].pk].self_purchase_net_fen == 30_000
    assert figures[p["P3"].pk].new_buyers == 1  # v-back bought last week, v1 here first from P2
    # Leaders from outside the store (P8) and above it (P1) are paid their overrides.
    assert estimates(brand.org, live)[p["P8"].pk] > 0
    assert accrue_open_lives(brand.org) == []  # nothing a full recomputation would move
    snapshots = check.Snapshots(brand.org)
    attribution, problems = replay(brand.org, stops=snapshots.stops)
    assert problems == [] and check.differences(brand.org, attribution, snapshots) == []


def test_a_late_order_in_an_earlier_live_moves_the_later_lives_new_buyer_bounty(stores):
    """A buyer's first order decides whether they are new (新客) in the organisation's later
    lives: an order of last week's live that arrives late (an import) takes the bounty back from
    the promoter credited with the same buyer this week, and only the later lives are looked at."""
    brand, old, live, p = stores
    save_plan(brand.org, None, name="新客", make_default=True, fields={"rate_bps": 500, "new_buyer_bounty_fen": 200})
    ingest(brand.org, BATCHES[0](live))
    assert inputs.stored_figures(brand.org, live)[p["P2"].pk].new_buyers == 1  # v1
    before = estimates(brand.org, live)[p["P2"].pk]
    result = ingest(brand.org, [paid("old-late", old, "v1", 1_000, "P3", minutes=-60 * 24 * 7 + 30)])
    assert not result.rejected, result.rejected
    assert inputs.stored_figures(brand.org, live)[p["P2"].pk].new_buyers == 0
    assert estimates(brand.org, live)[p["P2"].pk] == before - 200
    assert estimates(brand.org, live) == recomputed(brand.org, live)


@pytest.mark.parametrize("allow_self_purchase", [False, True])
def test_team_totals_are_the_members_contributions_summed(stores, allow_self_purchase):
    brand, old, live, p = stores
    save_plan(brand.org, None, name="带团", make_default=True, override_levels=1, fields={
        "rate_bps": 500, "override_bps": (200,), "allow_self_purchase": allow_self_purchase})
    for batch in BATCHES[:3]:
        ingest(brand.org, batch(live))
    rules = rules_of(Plan.objects.for_org(brand.org).get().rules)
    teams = inputs.teams_of(brand.org)
    figures = inputs.stored_figures(brand.org, live)
    expected = {team.id: sum(team_contribution(rules, figures[m]) for m in team.members if m in figures)
                for team in teams.values()}
    assert inputs.team_totals(brand.org, live, list(teams), allow_self_purchase) == expected
    store_a = Team.objects.get(name="总店").pk
    # P2's own 30,000 counts towards the store only when the plan pays on self-purchases.
    assert expected[store_a] == 120_000 + 8_000 + 60_000 + (30_000 if allow_self_purchase else 0)


def test_teams_of_fills_members_only_among_those_asked_and_leaders(stores):
    brand, old, live, p = stores
    partial = inputs.teams_of(brand.org, only={p["P2"].pk})
    full = inputs.teams_of(brand.org)
    assert {t.id: (t.leader, t.parent) for t in partial.values()} == {
        t.id: (t.leader, t.parent) for t in full.values()}
    members = set().union(*(t.members for t in partial.values()))
    assert members == {p["P1"].pk, p["P2"].pk, p["P4"].pk}  # P8 leads C from outside it


def test_a_check_in_parts_adds_the_settled_figures_up_as_a_whole_replay_does(stores):
    """A rebuild --check in parts stops at a settlement's log position once per part; the parts'
    figures (orders, own purchases, returning buyers across lives) add up to the settled ones."""
    brand, old, live, p = stores
    two_levels(brand)
    for batch in BATCHES[:3]:
        assert not ingest(brand.org, batch(live)).rejected
    end_live(live, EVENING + timedelta(hours=3))
    settle_live(brand.org, live, now=EVENING + timedelta(days=9))
    for batch in BATCHES[3:]:  # after the settlement: refunds claw back
        assert not ingest(brand.org, batch(live)).rejected
    for parts in (1, 2, 3, 4):
        snapshots = check.Snapshots(brand.org)
        replayed, problems = rebuild_check(brand.org, stops=snapshots.stops, parts=parts)
        assert replayed.parts == parts
        assert problems == [] and check.differences(brand.org, replayed, snapshots) == []
        assert len(snapshots.at_runs[snapshots.runs[0].pk]) == parts
    # Figures tampered on a statement are found in parts too.
    line = StatementLine.objects.for_org(brand.org).filter(figures__isnull=False).first()
    StatementLine.objects.filter(pk=line.pk).update(figures={**line.figures, "net_fen": line.figures["net_fen"] + 1})
    snapshots = check.Snapshots(brand.org)
    replayed, _ = rebuild_check(brand.org, stops=snapshots.stops, parts=3)
    assert any(f"statement {line.statement.number}: figures" in found
               for found in check.differences(brand.org, replayed, snapshots))


def test_kept_estimates_that_differ_from_the_entries_are_found_and_made_again(stores):
    """The running totals are derived from the ledger: `rebuild --check` names a total that no
    longer adds up its entries, and `rebuild` makes the totals again from the entries, then
    accrues what the plan pays — the ledger ends at the full recomputation either way."""
    brand, old, live, p = stores
    two_levels(brand)
    for batch in BATCHES[:3]:
        assert not ingest(brand.org, batch(live)).rejected
    right = estimates(brand.org, live)
    Estimate.objects.filter(org=brand.org, live=live, promoter=p["P2"]).update(amount=1)
    snapshots = check.Snapshots(brand.org)
    replayed, _ = rebuild_check(brand.org, stops=snapshots.stops)
    found = check.differences(brand.org, replayed, snapshots)
    assert found == [f"live {live.public_id}: promoter P2 estimates kept 1, entries add up to {right[p['P2'].pk]}"]
    # Trusting the tampered total, the next batch appends a wrong estimate for P2 …
    assert not ingest(brand.org, BATCHES[3](live)).rejected
    assert estimates(brand.org, live) != recomputed(brand.org, live)
    # … which a rebuild corrects: the totals again from the entries, then the accrual.
    restore_estimates(brand.org)
    assert kept(brand.org, live) == estimates(brand.org, live)
    assert accrue_open_lives(brand.org)
    assert estimates(brand.org, live) == recomputed(brand.org, live) == kept(brand.org, live)
    snapshots = check.Snapshots(brand.org)
    replayed, problems = rebuild_check(brand.org, stops=snapshots.stops, parts=2)
    assert problems == [] and check.differences(brand.org, replayed, snapshots) == []
