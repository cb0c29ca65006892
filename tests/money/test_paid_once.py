"""Nothing is paid twice (issue 14), one connection at a time: a page read before someone else
acted (a stale statement) moves nothing; a statement waits in one batch at a time and is paid by
its results; a failed one settled again goes into a later batch; an adjustment's form key adds it
once. The same actions from several clients at once: tests/security/test_money_races.py."""
import copy
import importlib
import uuid
from datetime import datetime, timezone

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile

from liveloop.money import payouts
from liveloop.money import settlement
from liveloop.money.ledger import AlreadyRecorded, adjust
from liveloop.money.models import Entry, PayoutBatch, PayoutItem, SettlementRun, Statement
from liveloop.money.settlement import SettleError, settle_live
from liveloop.orgs.models import AuditEntry, Member
from liveloop.promoters.models import Promoter
from tests.actors import batch_confirm, ended_live, run_confirm

pytestmark = pytest.mark.django_db

FINANCE = Member.FINANCE


def statements(brand, run):
    return {s.promoter.code: s for s in Statement.objects.for_org(brand.org).filter(run=run).select_related("promoter")}


def results(client, batch, rows):
    body = "付款参考号,状态,流水号,原因\n" + "".join(f"{n},{status},{tx},{why}\n" for n, status, tx, why in rows)
    return client.post(f"/money/batches/{batch.pk}/results/",
                       {"results": SimpleUploadedFile("results.csv", body.encode(), "text/csv")})


def test_a_stale_statement_moves_nothing_the_second_time(brand, live):
    run = settle_live(brand.org, live)
    pa = statements(brand, run)["PA"]
    stale = copy.copy(pa)  # what a second tab read before the first one approved
    assert payouts.approve(brand.org, None, [pa]) == 1
    with pytest.raises(payouts.Conflict):
        payouts.approve(brand.org, None, [stale])
    pa = Statement.objects.get(pk=pa.pk)
    stale = copy.copy(pa)
    payouts.mark_paid(brand.org, None, pa, "WX-1")
    with pytest.raises(payouts.Conflict):
        payouts.mark_paid(brand.org, None, stale, "WX-2")  # the second reference is not written over the first
    pa.refresh_from_db()
    assert (pa.state, pa.paid_reference) == ("paid", "WX-1")
    audit = AuditEntry.objects.for_org(brand.org).filter(target=pa.number)
    assert sorted(audit.values_list("action", flat=True)) == ["statement.approve", "statement.paid"]


def test_a_conflict_in_a_run_approval_leaves_every_statement_as_it_was(brand, live):
    run = settle_live(brand.org, live)
    everyone = list(Statement.objects.for_org(brand.org).filter(run=run).order_by("number"))
    payouts.approve(brand.org, None, [copy.copy(everyone[-1])])  # someone approves the last one first
    with pytest.raises(payouts.Conflict):
        payouts.approve(brand.org, None, everyone)  # all or none: the first is not approved either
    assert Statement.objects.get(pk=everyone[0].pk).state == "frozen"
    assert AuditEntry.objects.for_org(brand.org).filter(action="statement.approve").count() == 1


def test_a_statement_in_a_batch_is_paid_by_its_results_not_by_hand(clients, brand, live):
    run = settle_live(brand.org, live)
    finance = clients[FINANCE]
    finance.post(f"/money/runs/{run.pk}/approve/", run_confirm(run))
    assert finance.post("/money/batches/", batch_confirm(brand.org)).status_code == 302
    batch = PayoutBatch.objects.for_org(brand.org).get()
    pa = statements(brand, run)["PA"]
    assert pa.batch_id == batch.pk
    page = finance.get(f"/money/statements/{pa.number}/")
    assert f"在打款批次 {batch.number} 中等待打款" in page.content.decode()
    assert f'action="/money/statements/{pa.number}/paid/"' not in page.content.decode()
    answer = finance.post(f"/money/statements/{pa.number}/paid/", {"reference": "BY-HAND"}, follow=True)
    assert "已在打款批次中" in answer.content.decode()
    pa.refresh_from_db()
    assert (pa.state, pa.paid_reference) == ("settled", "")
    # A second batch finds nothing to take: the statements wait in the first.
    answer = finance.post("/money/batches/", batch_confirm(brand.org), follow=True)
    assert "没有待打款的已结算结算单" in answer.content.decode()
    assert PayoutBatch.objects.for_org(brand.org).count() == 1


def test_a_failed_statement_settled_again_goes_into_a_later_batch_only(clients, brand, live):
    run = settle_live(brand.org, live)
    finance = clients[FINANCE]
    finance.post(f"/money/runs/{run.pk}/approve/", run_confirm(run))
    first = payouts.create_batch(brand.org, None)
    pa, pb = statements(brand, run)["PA"], statements(brand, run)["PB"]
    assert results(finance, first, [(pa.number, "成功", "TX-A", ""), (pb.number, "失败", "", "账户名不符")]).status_code == 302
    pb.refresh_from_db()
    assert (pb.state, pb.batch_id) == ("failed", None)
    assert list(payouts.batchable(brand.org)) == []  # failed: waits for finance to retry
    finance.post(f"/money/statements/{pb.number}/retry/")
    assert [s.number for s in payouts.batchable(brand.org)] == [pb.number]
    second = payouts.create_batch(brand.org, None)
    assert list(second.items.values_list("statement__number", flat=True)) == [pb.number]
    assert (second.count, second.total) == (1, pb.payable)
    # The first batch's file, sent again (or forged) with PB "paid", pays nothing: PB waits in the second.
    answer = results(finance, first, [(pb.number, "成功", "TX-OLD", "")])
    assert answer.status_code == 400
    assert [(row, column) for row, column, _ in answer.context["errors"]] == [(2, "reference")]
    assert f"{pb.number} 已不在打款批次 {first.number} 中等待打款" in answer.content.decode()
    pb.refresh_from_db()
    assert (pb.state, pb.batch_id) == ("settled", second.pk)
    assert results(finance, second, [(pb.number, "成功", "TX-B", "")]).status_code == 302
    pb.refresh_from_db()
    assert (pb.state, pb.paid_reference, pb.batch_id) == ("paid", "TX-B", None)
    # The same results once more: refused row by row, nothing moves.
    again = results(finance, second, [(pb.number, "成功", "TX-C", "")])
    assert again.status_code == 400 and f"{pb.number} 当前为“已打款”，不在等待打款" in again.content.decode()
    pb.refresh_from_db()
    assert pb.paid_reference == "TX-B"
    assert AuditEntry.objects.for_org(brand.org).filter(action="statement.paid", target=pb.number).count() == 1


def test_a_batch_number_taken_at_the_same_moment_is_a_conflict_not_a_500(brand, live):
    run = settle_live(brand.org, live)
    payouts.approve(brand.org, None, Statement.objects.for_org(brand.org).filter(run=run))
    # The calendar's last second in the organisation's zone (Shanghai): numbers carry its day.
    now = datetime(2026, 12, 31, 15, 59, 59, tzinfo=timezone.utc)
    # One batch exists, numbered as the next one would be: the unique number refuses the clash.
    PayoutBatch.objects.create(org=brand.org, number="P20261231-0002", total=0, count=0)
    with pytest.raises(payouts.Conflict):
        payouts.create_batch(brand.org, None, now=now)
    assert PayoutBatch.objects.for_org(brand.org).count() == 1
    assert not Statement.objects.for_org(brand.org).filter(batch__isnull=False).exists()
    new_year = datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)  # 00:00 on 1 January in Shanghai
    assert payouts.create_batch(brand.org, None, now=new_year).number == "P20270101-0002"


def test_a_second_run_of_a_live_is_refused_by_the_database_too(brand, live, monkeypatch):
    settle_live(brand.org, live)
    # As if the check before it had raced: the one-to-one run still refuses, with the same words.
    monkeypatch.setattr(settlement, "check_settleable", lambda *args: None)
    with pytest.raises(SettleError) as refused:
        settle_live(brand.org, live)
    assert refused.value.zh == "这场直播已结算"
    assert SettlementRun.objects.for_org(brand.org).filter(live=live).count() == 1
    assert Statement.objects.for_org(brand.org).count() == 2


def test_an_adjustment_sent_twice_is_recorded_once(clients, brand, outsider, live):
    finance = clients[FINANCE]
    key = uuid.uuid4().hex
    form = {"amount": "12.34", "reason": "补发奖励", "key": key}
    assert finance.post("/money/promoters/PA/adjust/", form).status_code == 302
    again = finance.post("/money/promoters/PA/adjust/", form, follow=True)
    assert "这笔调整已记录过" in again.content.decode()
    # The ledger page's form carries a fresh key each time it is shown.
    page = finance.get("/money/promoters/PA/").content.decode()
    assert 'name="key"' in page and key not in page
    # Without the form's key nothing is written: a resend could not be told from a new one.
    missing = finance.post("/money/promoters/PA/adjust/", {"amount": "1", "reason": "x"})
    assert missing.status_code == 400 and "表单已过期" in missing.content.decode()
    bad = finance.post("/money/promoters/PA/adjust/", {"amount": "1", "reason": "x", "key": "x" * 32})
    assert bad.status_code == 400
    assert list(Entry.objects.for_org(brand.org).filter(kind="adjustment").values_list("amount", flat=True)) == [1_234]
    assert AuditEntry.objects.for_org(brand.org).filter(action="ledger.adjust").count() == 1
    # The same key in another organisation is its own adjustment.
    theirs = Promoter.objects.create(org=outsider.org, name="别家推广员", code="PA")
    adjust(outsider.org, None, theirs, 500, "补发", key=key)
    with pytest.raises(AlreadyRecorded):
        adjust(outsider.org, None, theirs, 700, "另一笔", key=key)
    assert Entry.objects.for_org(outsider.org).filter(kind="adjustment").count() == 1


def test_the_migration_puts_a_waiting_statement_in_its_latest_batch(brand, live):
    run = settle_live(brand.org, live)
    payouts.approve(brand.org, None, Statement.objects.for_org(brand.org).filter(run=run))
    batch = payouts.create_batch(brand.org, None)
    pa, pb = statements(brand, run)["PA"], statements(brand, run)["PB"]
    # As the tables were before migration 0003: no batch column; PB failed once and was retried.
    Statement.objects.filter(pk=pb.pk).update(failure="账户名不符")
    Statement.objects.filter(pk__in=[pa.pk, pb.pk]).update(batch=None)
    migration = importlib.import_module("liveloop.money.migrations.0003_statement_batch_entry_key")
    migration.waiting_statements(apps, None)
    pa.refresh_from_db(), pb.refresh_from_db()
    assert (pa.batch_id, pb.batch_id) == (batch.pk, None)
    assert PayoutItem.objects.for_org(brand.org).count() == 2
