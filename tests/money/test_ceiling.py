"""Issue 18 part 5 (b): the organisation's ceiling per promoter per payout batch. A promoter
whose waiting statements add up to more is held out of the batch, with the reason on the page,
until finance releases a statement (audited, in words and yuan). The ceiling is read and applied
inside the UPDATE that claims the batch: a confirmation made before the ceiling changed moves
nothing."""
import pytest

from liveloop.money import payouts
from liveloop.money.models import PayoutBatch, Statement
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import AuditEntry, Member
from tests.actors import batch_confirm, member_client, run_confirm

pytestmark = pytest.mark.django_db

OWNER, OPERATOR, FINANCE, VIEWER = Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER


@pytest.fixture
def approved(brand, live, clients):
    """PA's statement pays ¥6.00, PB's ¥3.33, both settled."""
    run = settle_live(brand.org, live)
    clients[FINANCE].post(f"/money/runs/{run.pk}/approve/", run_confirm(run))
    return {s.promoter.code: s for s in Statement.objects.for_org(brand.org).select_related("promoter")}


def set_ceiling(org, fen):
    type(org).objects.filter(pk=org.pk).update(payout_ceiling=fen)


def test_a_promoter_over_the_ceiling_is_held_out_of_the_batch_with_the_reason(brand, clients, approved):
    set_ceiling(brand.org, 500)
    page = clients[FINANCE].get("/money/batches/").content.decode()
    assert approved["PA"].number in page and "超过每位推广员每批 ¥5.00 的付款上限" in page
    # The confirmation box counts only what the batch takes: PB's ¥3.33.
    assert batch_confirm(brand.org) == {"confirm": "1:333"}
    assert clients[FINANCE].post("/money/batches/", batch_confirm(brand.org)).status_code == 302
    batch = PayoutBatch.objects.for_org(brand.org).get()
    assert [i.statement.number for i in batch.items.all()] == [approved["PB"].number]
    assert Statement.objects.get(pk=approved["PA"].pk).batch_id is None
    log = clients[FINANCE].get("/money/audit/").content.decode()
    assert "1 张结算单，合计 ¥3.33" in log and "1 张因付款上限暂缓" in log


def test_finance_releases_a_held_statement_audited_and_the_next_batch_takes_it(brand, clients, approved):
    set_ceiling(brand.org, 500)
    pa = approved["PA"]
    # Without ticking the confirmation nothing is released.
    clients[FINANCE].post(f"/money/statements/{pa.number}/release/")
    assert not Statement.objects.get(pk=pa.pk).released
    answer = clients[FINANCE].post(f"/money/statements/{pa.number}/release/", {"confirm": "1"})
    assert answer.status_code == 302 and Statement.objects.get(pk=pa.pk).released
    assert batch_confirm(brand.org) == {"confirm": "2:933"}
    clients[FINANCE].post("/money/batches/", batch_confirm(brand.org))
    assert Statement.objects.get(pk=pa.pk).batch_id is not None
    log = clients[FINANCE].get("/money/audit/").content.decode()
    assert "放行超过付款上限的结算单" in log and "¥6.00" in log and "¥5.00" in log
    entry = AuditEntry.objects.get(org=brand.org, action="statement.release")
    assert entry.detail == {"amount": 600, "ceiling": 500}


def test_the_ceiling_counts_a_promoters_statements_together(brand, clients, approved, plan):
    from tests.actors import ended_live
    second = settle_live(brand.org, ended_live(brand, title="第二场"))
    clients[FINANCE].post(f"/money/runs/{second.pk}/approve/", run_confirm(second))
    set_ceiling(brand.org, 1000)  # PA: ¥6.00 + ¥6.00 > ¥10.00; PB: ¥3.33 + ¥3.33 within
    held = {s.promoter.code for s in payouts.held(brand.org)}
    assert held == {"PA"} and batch_confirm(brand.org) == {"confirm": "2:666"}


def test_a_confirmation_made_before_the_ceiling_changed_moves_nothing(brand, clients, approved):
    before = batch_confirm(brand.org)  # 2 statements, ¥9.33: what the person saw
    set_ceiling(brand.org, 500)  # someone lowers the ceiling meanwhile
    answer = clients[FINANCE].post("/money/batches/", before)
    assert answer.status_code == 302
    assert not PayoutBatch.objects.for_org(brand.org).exists()
    assert not Statement.objects.for_org(brand.org).filter(batch__isnull=False).exists()


def test_the_ceiling_is_read_from_the_database_not_the_callers_copy(brand, approved):
    org = brand.org
    set_ceiling(org, 500)
    assert org.payout_ceiling is None  # the stale copy a long request may hold
    batch = payouts.create_batch(org, None)
    assert batch.count == 1 and batch.total == 333


def test_a_statement_in_a_batch_or_not_held_cannot_be_released_twice(brand, clients, approved):
    set_ceiling(brand.org, 500)
    payouts.release(brand.org, None, approved["PA"])
    with pytest.raises(payouts.PayoutError):
        payouts.release(brand.org, None, approved["PA"])
    assert AuditEntry.objects.filter(org=brand.org, action="statement.release").count() == 1


@pytest.mark.parametrize("role", [OPERATOR, VIEWER])
def test_only_finance_roles_release(brand, clients, approved, role):
    set_ceiling(brand.org, 500)
    answer = clients[role].post(f"/money/statements/{approved['PA'].number}/release/", {"confirm": "1"})
    assert answer.status_code == 403 and not Statement.objects.get(pk=approved["PA"].pk).released


def test_another_organisations_statement_is_not_found(brand, outsider, approved):
    set_ceiling(brand.org, 500)
    stranger = member_client(outsider.org, "stranger", FINANCE)
    answer = stranger.post(f"/money/statements/{approved['PA'].number}/release/", {"confirm": "1"})
    assert answer.status_code == 404 and not Statement.objects.get(pk=approved["PA"].pk).released


def test_the_ceiling_is_set_in_money_settings_and_audited_in_yuan(brand, clients):
    answer = clients[FINANCE].post("/money/settings/", {"refund_window_days": "7", "payout_ceiling": "5000"})
    assert answer.status_code == 302
    brand.org.refresh_from_db()
    assert brand.org.payout_ceiling == 500_000
    refused = clients[FINANCE].post("/money/settings/", {"refund_window_days": "7", "payout_ceiling": "-1"})
    assert refused.status_code == 400
    log = clients[FINANCE].get("/money/audit/").content.decode()
    assert "付款上限" in log and "¥5,000.00" in log
