"""Issue 19, guard rails on money: sane maxima refused by field; bulk approval and payout
batches confirmed with the count and sum (a stale confirmation moves nothing); plans archived."""
import pytest
from django.db import IntegrityError, transaction

from liveloop.money import payouts
from liveloop.money.models import Entry, PayoutBatch, Plan, ProgrammePlan, Statement
from liveloop.money.plans import ArchivedPlan, DefaultPlan, choose_plan, save_plan, set_archived
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import AuditEntry, Member
from liveloop.rules.commission import (MAX_BOUNTY_FEN, MAX_CAP_FEN, MAX_TIER_UPPER_FEN, PlanError,
                                       make_plan)
from tests.actors import batch_confirm, ended_live, run_confirm

pytestmark = pytest.mark.django_db

OWNER, FINANCE = Member.OWNER, Member.FINANCE


def text(response) -> str:
    return response.content.decode()


# Sane maxima ----------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("reservation_bounty_fen", MAX_BOUNTY_FEN + 1), ("new_buyer_bounty_fen", MAX_BOUNTY_FEN + 1),
    ("effective_view_bounty_fen", MAX_BOUNTY_FEN + 1), ("cap_fen", MAX_CAP_FEN + 1),
    ("tiers", ((MAX_TIER_UPPER_FEN + 1, 500), (None, 800))), ("rate_bps", 10_001),
])
def test_the_rules_refuse_an_amount_beyond_its_maximum_by_field(field, value):
    with pytest.raises(PlanError) as refused:
        make_plan(**{field: value})
    assert refused.value.field == field
    at_most = {"tiers": ((MAX_TIER_UPPER_FEN, 500), (None, 800)), "rate_bps": 10_000}.get(
        field, MAX_BOUNTY_FEN if "bounty" in field else MAX_CAP_FEN)
    make_plan(**{field: at_most})  # the maximum itself is fine


def plan_form(**changes):
    return {"name": "大额方案", "rate_percent": "5", "override_levels": "0", **changes}


@pytest.mark.parametrize("field, value, shown", [
    ("reservation_bounty", "9999999999", "最多 ¥1,000,000"),
    ("new_buyer_bounty", "1000000.01", "最多 ¥1,000,000"),
    ("cap", "10000000.01", "最多 ¥10,000,000"),
    ("effective_view_cap", "10000001", "最多 10,000,000"),
])
def test_the_plan_form_refuses_an_amount_beyond_its_maximum_beside_the_field(clients, brand, plan, field, value,
                                                                               shown):
    answer = clients[FINANCE].post("/money/plans/new/", plan_form(**{field: value}))
    assert answer.status_code == 400
    assert shown in text(answer)
    assert not Plan.objects.for_org(brand.org).filter(name="大额方案").exists()  # nothing written
    assert clients[FINANCE].post("/money/plans/new/", plan_form(reservation_bounty="1000000")).status_code == 302


def test_a_tier_beyond_its_maximum_is_refused_on_the_form(clients, brand, plan):
    answer = clients[FINANCE].post("/money/plans/new/", plan_form(rate_percent="", tiers="100000001, 5\n, 8"))
    assert answer.status_code == 400 and "各档上限最多 ¥100,000,000" in text(answer)
    assert not Plan.objects.for_org(brand.org).filter(name="大额方案").exists()


def test_an_adjustment_beyond_a_million_yuan_is_refused(clients, brand, live):
    answer = clients[FINANCE].post("/money/promoters/PA/adjust/", {
        "amount": "1000000.01", "reason": "手滑", "key": "0123456789abcdef0123456789abcdef"})
    assert answer.status_code == 400
    assert not Entry.objects.for_org(brand.org).filter(kind=Entry.ADJUSTMENT).exists()


# Confirming bulk actions -----------------------------------------------------------------------

def frozen(brand, run):
    return Statement.objects.for_org(brand.org).filter(run=run, state=Statement.FROZEN)


def test_the_run_page_shows_the_count_and_sum_to_confirm(clients, brand, live):
    run = settle_live(brand.org, live)
    page = text(clients[FINANCE].get(f"/money/runs/{run.pk}/"))
    # PA ¥6.00 + PB ¥3.33
    assert "我确认审批 2 张结算单，合计 ¥9.33。" in page
    assert f'name="confirm" value="2:933" required' in page


def test_approving_a_run_without_the_box_ticked_moves_nothing(clients, brand, live):
    run = settle_live(brand.org, live)
    answer = clients[FINANCE].post(f"/money/runs/{run.pk}/approve/", follow=True)
    assert "请先勾选确认条数与总额。" in text(answer)
    assert frozen(brand, run).count() == 2
    for bad in ("", "2", "2:933:1", "-2:933", "2:9.33", "x:y"):
        clients[FINANCE].post(f"/money/runs/{run.pk}/approve/", {"confirm": bad})
        assert frozen(brand, run).count() == 2, bad


def test_a_stale_confirmation_of_a_run_moves_nothing(clients, brand, live):
    run = settle_live(brand.org, live)
    shown = run_confirm(run)  # the page as the person saw it
    pa = frozen(brand, run).get(promoter__code="PA")
    payouts.approve(brand.org, None, [pa])  # someone else approves one meanwhile
    answer = clients[FINANCE].post(f"/money/runs/{run.pk}/approve/", shown, follow=True)
    assert "页面显示之后结算单已有变化" in text(answer)
    assert list(frozen(brand, run).values_list("promoter__code", flat=True)) == ["PB"]
    # Confirming what is there now works.
    assert clients[FINANCE].post(f"/money/runs/{run.pk}/approve/", run_confirm(run)).status_code == 302
    assert not frozen(brand, run).exists()


def test_the_service_checks_the_confirmation_against_what_it_moves(brand, live):
    run = settle_live(brand.org, live)
    with pytest.raises(payouts.StaleConfirmation):
        payouts.approve(brand.org, None, frozen(brand, run), expect=(2, 934))
    assert frozen(brand, run).count() == 2
    assert payouts.approve(brand.org, None, frozen(brand, run), expect=(2, 933)) == 2


def test_a_payout_batch_needs_its_count_and_sum_confirmed(clients, brand, live):
    run = settle_live(brand.org, live)
    payouts.approve(brand.org, None, frozen(brand, run))
    page = text(clients[FINANCE].get("/money/batches/"))
    assert "我确认将 2 张结算单（合计 ¥9.33）放入打款批次。" in page
    shown = batch_confirm(brand.org)
    answer = clients[FINANCE].post("/money/batches/", follow=True)
    assert "请先勾选确认条数与总额。" in text(answer)
    assert clients[FINANCE].post("/money/batches/", {"confirm": "2:932"}).status_code == 302
    assert not PayoutBatch.objects.for_org(brand.org).exists()
    assert not Statement.objects.for_org(brand.org).filter(batch__isnull=False).exists()  # claim rolled back
    assert clients[FINANCE].post("/money/batches/", shown).status_code == 302
    batch = PayoutBatch.objects.for_org(brand.org).get()
    assert (batch.count, batch.total) == (2, 933)


def test_a_batch_confirmed_before_more_statements_were_settled_is_refused(clients, brand, live):
    run = settle_live(brand.org, live)
    pa = frozen(brand, run).get(promoter__code="PA")
    payouts.approve(brand.org, None, [pa])
    shown = batch_confirm(brand.org)  # 1 statement, ¥6.00
    payouts.approve(brand.org, None, frozen(brand, run))  # PB settled meanwhile
    answer = clients[FINANCE].post("/money/batches/", shown, follow=True)
    assert "页面显示之后结算单已有变化" in text(answer)
    assert not PayoutBatch.objects.for_org(brand.org).exists()


# Archiving plans -------------------------------------------------------------------------------

def test_an_archived_plan_leaves_the_menus_but_stays_on_lives_that_use_it(clients, brand, plan):
    spare = save_plan(brand.org, None, name="旧方案", fields={"rate_bps": 500})
    used = ended_live(brand, title="用旧方案的直播")
    fresh = ended_live(brand, title="新直播", days=9)
    choose_plan(brand.org, None, used, spare)
    finance = clients[FINANCE]
    assert finance.post(f"/money/plans/{spare.pk}/archive/", {"archived": "1"}).status_code == 302
    spare.refresh_from_db()
    assert spare.archived
    assert AuditEntry.objects.for_org(brand.org).filter(action="plan.archive").exists()
    page = text(finance.get("/money/plans/"))
    assert "已归档" in page and "恢复" in page
    # Still offered on the page because a live there pays by it, and selected on that live only.
    overview = text(finance.get("/money/"))
    assert f'<option value="{spare.pk}" selected>旧方案</option>' in overview
    # Not choosable for another live; the live that has it may keep it.
    answer = finance.post(f"/money/lives/{fresh.public_id}/plan/", {"plan": spare.pk}, follow=True)
    assert "该方案已归档" in text(answer)
    assert not ProgrammePlan.objects.for_org(brand.org).filter(live=fresh).exists()
    with pytest.raises(ArchivedPlan):
        choose_plan(brand.org, None, fresh, spare)
    choose_plan(brand.org, None, used, spare)
    # Once no live on the page uses it, it leaves the menus.
    choose_plan(brand.org, None, used, None)
    assert f'<option value="{spare.pk}"' not in text(finance.get("/money/"))
    # Unarchived, it is offered again.
    assert finance.post(f"/money/plans/{spare.pk}/archive/", {"archived": "0"}).status_code == 302
    assert f'<option value="{spare.pk}"' in text(finance.get("/money/"))
    choose_plan(brand.org, None, fresh, spare)


def test_the_default_plan_cannot_be_archived(clients, brand, plan):
    answer = clients[OWNER].post(f"/money/plans/{plan.pk}/archive/", {"archived": "1"}, follow=True)
    assert "默认方案不能归档" in text(answer)
    plan.refresh_from_db()
    assert not plan.archived
    with pytest.raises(DefaultPlan):
        set_archived(brand.org, None, plan, True)
    # The database refuses it too, whoever writes.
    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.filter(pk=plan.pk).update(archived=True)


def test_an_archived_plan_made_the_default_is_offered_again(brand, plan):
    spare = save_plan(brand.org, None, name="旧方案", fields={"rate_bps": 500})
    set_archived(brand.org, None, spare, True)
    save_plan(brand.org, None, name=spare.name, fields=spare.rules, plan=spare, make_default=True)
    spare.refresh_from_db()
    assert spare.is_default and not spare.archived


def test_another_organisations_plan_cannot_be_archived(clients, outsider, brand, plan):
    theirs = save_plan(outsider.org, None, name="别家方案", fields={"rate_bps": 500})
    assert clients[OWNER].post(f"/money/plans/{theirs.pk}/archive/", {"archived": "1"}).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.archived
