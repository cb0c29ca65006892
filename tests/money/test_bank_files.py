"""Issue 18 part 3: a payout batch as 招商银行's 代发 file (its header and a row as the sample in
tests/fixtures/bank), and the bank's own result file read back: paid, failed with the bank's
reason; a file for other statements or with other amounts marks nothing."""
import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from liveloop.money.models import PayoutBatch, Statement
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import AuditEntry, Member
from liveloop.promoters.models import Promoter
from tests.actors import batch_confirm, ended_live, run_confirm

pytestmark = pytest.mark.django_db

BANK = Path(__file__).resolve().parents[1] / "fixtures" / "bank"
OWNER, OPERATOR, FINANCE, VIEWER = Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER


def payees(org):
    Promoter.objects.for_org(org).filter(code="PA").update(
        bank_account="6214830000000002", bank_name="招商银行", legal_name="王小明")
    Promoter.objects.for_org(org).filter(code="PB").update(
        bank_account="6222020000000001", bank_name="工商银行", bank_branch="杭州西湖支行", legal_name="李四")


def make_batch(tenant, client, live):
    run = settle_live(tenant.org, live)
    client.post(f"/money/runs/{run.pk}/approve/", run_confirm(run))
    assert client.post("/money/batches/", batch_confirm(tenant.org)).status_code == 302
    return run, PayoutBatch.objects.for_org(tenant.org).get()


@pytest.fixture
def paid_by_bank(brand, live, clients):
    payees(brand.org)
    return make_batch(brand, clients[FINANCE], live)


def sample(name: str, run, encoding="utf-8") -> str:
    return (BANK / name).read_bytes().decode(encoding).replace("<RUN>", f"{run.pk:05d}")


def test_the_bank_file_has_the_templates_header_and_rows_as_the_sample(clients, paid_by_bank):
    run, batch = paid_by_bank
    answer = clients[FINANCE].get(f"/money/batches/{batch.pk}/cmb.txt")
    assert answer.status_code == 200 and "gb18030" in answer["Content-Type"]
    rows = list(csv.reader(io.StringIO(answer.content.decode("gb18030"))))
    header, pb_row = list(csv.reader(io.StringIO(sample("cmb_daifa_sample.txt", run))))
    assert rows[0] == header
    assert pb_row in rows[1:]
    # A card of the paying bank itself names no other bank; the amount is yuan with two places.
    assert [f"6214830000000002", "王小明", "6.00", f"佣金 S{run.pk:05d}-PA", "", ""] in rows[1:]
    assert len(rows) == 3


def test_the_bank_workbook_holds_the_same_rows_as_text(clients, paid_by_bank):
    run, batch = paid_by_bank
    answer = clients[FINANCE].get(f"/money/batches/{batch.pk}/cmb.xlsx")
    sheet = load_workbook(io.BytesIO(answer.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header, pb_row = list(csv.reader(io.StringIO(sample("cmb_daifa_sample.txt", run))))
    assert values[0] == header and pb_row in values[1:]
    # Text cells: a card number keeps every digit, an amount its two decimals.
    assert all(isinstance(cell, str) for row in values[1:] for cell in row[:3])


def test_a_payee_without_a_legal_name_stops_the_bank_file_and_is_named(brand, clients, paid_by_bank):
    _run, batch = paid_by_bank
    Promoter.objects.for_org(brand.org).filter(code="PB").update(legal_name="")
    answer = clients[FINANCE].get(f"/money/batches/{batch.pk}/cmb.txt", follow=True)
    assert answer.redirect_chain and "PB" in answer.content.decode() and "户名" in answer.content.decode()


@pytest.mark.parametrize("role", [OPERATOR, VIEWER])
def test_only_finance_roles_download_the_bank_file(clients, paid_by_bank, role):
    _run, batch = paid_by_bank
    assert clients[role].get(f"/money/batches/{batch.pk}/cmb.txt").status_code == 403


def test_another_organisations_batch_is_not_found(outsider, paid_by_bank):
    from tests.actors import member_client
    _run, batch = paid_by_bank
    stranger = member_client(outsider.org, "stranger-finance", FINANCE)
    assert stranger.get(f"/money/batches/{batch.pk}/cmb.xlsx").status_code == 404


def upload(client, batch, data: bytes, name="代发结果.csv"):
    return client.post(f"/money/batches/{batch.pk}/results/", {"results": SimpleUploadedFile(name, data)})


def test_the_banks_result_file_marks_paid_and_failed_with_the_banks_reason(brand, clients, paid_by_bank):
    run, batch = paid_by_bank
    data = sample("cmb_daifa_result.csv", run, "gb18030").encode("gb18030")
    answer = upload(clients[FINANCE], batch, data)
    assert answer.status_code == 302, answer.content.decode()
    states = {s.promoter.code: s for s in Statement.objects.for_org(brand.org).select_related("promoter")}
    assert states["PB"].state == Statement.PAID and states["PB"].paid_reference == batch.number
    assert states["PA"].state == Statement.FAILED and states["PA"].failure == "收款账户已销户"
    assert AuditEntry.objects.filter(org=brand.org, action="statement.failed", target=states["PA"].number).exists()
    # Uploaded again: the statements no longer wait in the batch, nothing moves twice.
    assert upload(clients[FINANCE], batch, data).status_code == 400
    assert Statement.objects.for_org(brand.org).get(pk=states["PB"].pk).state == Statement.PAID


@pytest.mark.parametrize("change, column", [
    (("3.33,佣金", "33.30,佣金"), "金额"),  # the amount was edited
    (("6222020000000001", "6222020000009999"), "账号"),  # paid to another account
])
def test_a_result_row_that_is_not_what_the_batch_paid_marks_nothing(brand, clients, paid_by_bank, change, column):
    run, batch = paid_by_bank
    data = sample("cmb_daifa_result.csv", run, "gb18030").replace(*change).encode("gb18030")
    answer = upload(clients[FINANCE], batch, data)
    assert answer.status_code == 400
    assert set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {Statement.SETTLED}


def test_a_result_file_naming_another_organisations_statements_changes_nothing(brand, outsider, clients,
                                                                             paid_by_bank, plan):
    from liveloop.money.plans import save_plan
    from tests.actors import member_client
    run, batch = paid_by_bank
    save_plan(outsider.org, None, name="别家方案", fields={"rate_bps": 1000}, make_default=True)
    payees(outsider.org)
    other_client = member_client(outsider.org, "outsider-finance", FINANCE)
    other_run, other_batch = make_batch(outsider, other_client, ended_live(outsider))
    theirs = sample("cmb_daifa_result.csv", other_run, "gb18030")
    # Their statement numbers uploaded to our batch: not in it. Our file to their batch: 404.
    assert upload(clients[FINANCE], batch, theirs.encode("gb18030")).status_code == 400
    assert upload(clients[FINANCE], other_batch, theirs.encode("gb18030")).status_code == 404
    assert set(Statement.objects.values_list("state", flat=True)) == {Statement.SETTLED}


def test_only_the_banks_layout_may_leave_out_the_transaction_id(brand, clients, paid_by_bank):
    run, batch = paid_by_bank
    ours = f"付款参考号,状态\r\nS{run.pk:05d}-PB,成功\r\n".encode()
    answer = upload(clients[FINANCE], batch, ours)
    assert answer.status_code == 400 and "成功的行须填写支付渠道的流水号" in answer.content.decode()
    assert set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {Statement.SETTLED}
