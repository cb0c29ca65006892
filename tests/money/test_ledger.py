"""The ledger follows the figures: estimates while the live runs, a true-up at settlement,
clawbacks after it; entries are never changed."""
from datetime import timedelta

import pytest

from liveloop.events.ingest import ingest
from liveloop.actions.lives import end_live, start_live
from liveloop.money import payouts
from liveloop.money.ledger import Paying, accrue, accrue_open_lives
from liveloop.money.models import Entry, Plan, Statement
from liveloop.money.plans import save_plan
from liveloop.money.settlement import SettleError, settle_live
from liveloop.promoters.models import Promoter, Team
from tests.actors import EVENING, event

pytestmark = pytest.mark.django_db


def order(id, live, viewer, amount, code=None, minutes=5):
    fields = {"order": id, "amount": amount}
    if code:
        fields["promoter"] = code
    return event(f"paid-{id}", "order_paid", live.public_id, viewer,
                 at=EVENING + timedelta(minutes=minutes), **fields)


def refund(id, live, viewer, amount, minutes=30):
    return event(f"refund-{id}", "order_refund", live.public_id, viewer,
                 at=EVENING + timedelta(minutes=minutes), order=id, amount=amount)


def held(org, promoter, live=None):
    entries = Entry.objects.for_org(org).filter(promoter=promoter)
    if live is not None:
        entries = entries.filter(live=live)
    return sum(entries.values_list("amount", flat=True))


@pytest.fixture
def setup(brand):
    live = brand.live(promoters=("PA", "PB"))
    save_plan(brand.org, None, name="标准", fields={"rate_bps": 1000, "reservation_bounty_fen": 50},
              make_default=True)
    start_live(live, EVENING)
    return brand, live, Promoter.objects.get(code="PA"), Promoter.objects.get(code="PB")


def test_estimates_follow_orders_and_refunds(setup):
    brand, live, a, b = setup
    ingest(brand.org, [order("o1", live, "v1", 10_000, "PA"), order("o2", live, "v2", 3_333, "PB")])
    assert held(brand.org, a, live) == 1_000
    assert held(brand.org, b, live) == 333  # 333.3 rounds half-up once to 333
    ingest(brand.org, [refund("o1", live, "v1", 4_000)])
    assert held(brand.org, a, live) == 600
    kinds = list(Entry.objects.for_org(brand.org).filter(promoter=a).values_list("kind", "amount"))
    assert kinds == [("accrual", 1_000), ("reversal", -400)]


def test_settlement_trues_up_and_refund_after_it_is_clawed_back(setup):
    brand, live, a, b = setup
    ingest(brand.org, [order("o1", live, "v1", 10_000, "PA"), order("o2", live, "v2", 5_000, "PA")])
    end_live(live, EVENING + timedelta(hours=2))
    live.refresh_from_db()
    with pytest.raises(SettleError):
        settle_live(brand.org, live, now=EVENING + timedelta(days=3))
    run = settle_live(brand.org, live, now=EVENING + timedelta(days=8))
    statement = Statement.objects.get(run=run, promoter=a)
    assert (statement.gross, statement.payable, statement.state) == (1_500, 1_500, "frozen")
    assert held(brand.org, a, live) == 1_500
    # A refund after settlement: a clawback line waits for the next statement.
    later_on = EVENING + timedelta(days=9, hours=1)
    ingest(brand.org, [refund("o2", live, "v2", 5_000, minutes=60 * 24 * 9)], now=later_on)
    assert held(brand.org, a, live) == 1_000
    claw = Entry.objects.for_org(brand.org).get(promoter=a, kind="clawback")
    assert claw.amount == -500
    # The next live's statement carries the clawback.
    later = brand.live(title="第二场", announced_at=EVENING + timedelta(days=10), promoters=("PA",))
    start_live(later, EVENING + timedelta(days=10))
    ingest(brand.org, [order("o4", later, "v9", 2_000, "PA", minutes=60 * 24 * 10 + 5)],
           now=EVENING + timedelta(days=11))
    end_live(later, EVENING + timedelta(days=10, hours=2))
    run2 = settle_live(brand.org, later, now=EVENING + timedelta(days=20))
    second = Statement.objects.get(run=run2, promoter=a)
    assert [(l.label, l.amount) for l in second.lines.order_by("pk")] == [
        ("第二场", 200), ("clawback", -500), ("carry", 300)]
    assert (second.gross, second.payable) == (-300, 0)
    # The shortfall is carried on: the promoter's ledger still adds up.
    assert held(brand.org, a) == 1_000 + 200
    carried = Entry.objects.for_org(brand.org).filter(promoter=a, kind="carry").values_list("amount", flat=True)
    assert sorted(carried) == [-300, 300]
    # A late order can undo a clawback but never raises a live above what was settled.
    ingest(brand.org, [order("o3", live, "v3", 90_000, "PA", minutes=60 * 24 * 9)],
           now=EVENING + timedelta(days=21))
    assert held(brand.org, a, live) == 1_500


def test_team_leader_override_moves_with_members_sales(brand):
    live = brand.live(promoters=("PL", "PM"))
    leader, member = Promoter.objects.get(code="PL"), Promoter.objects.get(code="PM")
    team = Team.objects.create(org=brand.org, name="静安店", leader=leader)
    Promoter.objects.filter(pk__in=[leader.pk, member.pk]).update(team=team)
    save_plan(brand.org, None, name="带团", fields={"rate_bps": 500, "override_bps": (200,)},
              make_default=True, override_levels=1)
    start_live(live, EVENING)
    ingest(brand.org, [order("o1", live, "v1", 10_000, "PM")])
    assert held(brand.org, member, live) == 500
    assert held(brand.org, leader, live) == 200


def test_another_organisations_live_accrues_nothing_here(setup, outsider):
    """accrue() reads what pays on the lives it is asked about scoped by organisation: a foreign
    live id (plans of its own, orders credited in it) is no live of ours and appends nothing."""
    brand, live, a, _b = setup
    theirs = outsider.live(promoters=("PA",))
    save_plan(outsider.org, None, name="他们的", fields={"rate_bps": 5000}, make_default=True)
    start_live(theirs, EVENING)
    ingest(outsider.org, [order("o1", theirs, "v1", 10_000, "PA")])
    paying = Paying(brand.org).read([theirs.pk, live.pk])
    assert paying.rules[theirs.pk] is None and theirs.pk not in paying.lives and live.pk in paying.lives
    before = Entry.objects.count()
    assert accrue(brand.org, {theirs.pk: {a.pk}}) == [] and accrue(brand.org, [theirs.pk]) == []
    assert Entry.objects.count() == before
    assert not Entry.objects.for_org(brand.org).exists()


def test_entries_are_never_changed(setup):
    brand, live, a, b = setup
    ingest(brand.org, [order("o1", live, "v1", 10_000, "PA")])
    entry = Entry.objects.for_org(brand.org).first()
    entry.amount = 1
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        Entry.objects.for_org(brand.org).update(amount=0)
    with pytest.raises(TypeError):
        Entry.objects.for_org(brand.org).delete()


def test_a_plan_change_re_estimates_open_lives(setup):
    brand, live, a, b = setup
    ingest(brand.org, [order("o1", live, "v1", 10_000, "PA")])
    plan = Plan.objects.for_org(brand.org).get()
    save_plan(brand.org, None, name="标准", fields={"rate_bps": 2000}, plan=plan)
    assert held(brand.org, a, live) == 2_000
    assert accrue_open_lives(brand.org) == []  # nothing left to move


def test_rebuild_check_covers_money_and_rebuild_corrects_with_new_entries(setup):
    from click.testing import CliRunner

    from liveloop.cli import main

    brand, live, a, b = setup
    ingest(brand.org, [order("o1", live, "v1", 10_000, "PA"), order("o2", live, "v2", 5_000, "PB")])
    end_live(live, EVENING + timedelta(hours=2))
    settle_live(brand.org, live, now=EVENING + timedelta(days=8))
    ingest(brand.org, [refund("o2", live, "v2", 2_000, minutes=60 * 24 * 9)],
           now=EVENING + timedelta(days=9, hours=1))
    runner = CliRunner()
    result = runner.invoke(main, ["rebuild", "--check", "--org", brand.org.slug])
    assert result.exit_code == 0, result.output
    # Someone slips an entry in by hand: the check names it, a rebuild corrects it with a new
    # entry (the forged one stays, as everything in the ledger does).
    Entry.objects.create(org=brand.org, promoter=b, live=live, kind="clawback", amount=-77)
    result = runner.invoke(main, ["rebuild", "--check", "--org", brand.org.slug])
    assert result.exit_code == 1
    assert "promoter PB clawback: ledger -277, recomputed -200" in result.output
    result = runner.invoke(main, ["rebuild", "--org", brand.org.slug])
    assert "1 ledger correction(s)" in result.output
    assert runner.invoke(main, ["rebuild", "--check", "--org", brand.org.slug]).exit_code == 0
    assert held(brand.org, b, live) == 300


def test_statements_in_one_month_are_one_payment_for_tax(setup):
    brand, live, a, b = setup
    brand.org.withhold_tax = True
    brand.org.refund_window_days = 1
    brand.org.save()
    ingest(brand.org, [order("o1", live, "v1", 600_000, "PA")])  # ¥600 commission
    end_live(live, EVENING + timedelta(hours=2))
    first = Statement.objects.get(run=settle_live(brand.org, live, now=EVENING + timedelta(days=2)), promoter=a)
    assert (first.gross, first.tax, first.payable) == (60_000, 0, 60_000)  # ≤ ¥800: none
    later = brand.live(title="第二场", announced_at=EVENING + timedelta(days=3), promoters=("PA",))
    start_live(later, EVENING + timedelta(days=3))
    ingest(brand.org, [order("o2", later, "v2", 600_000, "PA", minutes=60 * 24 * 3 + 5)],
           now=EVENING + timedelta(days=4))
    end_live(later, EVENING + timedelta(days=3, hours=2))
    second = Statement.objects.get(run=settle_live(brand.org, later, now=EVENING + timedelta(days=5)),
                                   promoter=a)
    assert first.month == second.month == "2026-11"
    # ¥1,200 in the month: (1,200 − 800) × 20% = ¥80, all withheld on the second statement.
    assert (second.gross, second.tax, second.payable) == (60_000, 8_000, 52_000)
