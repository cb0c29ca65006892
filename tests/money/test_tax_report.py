"""Issue 18 part 4: the platform tax report. Finance enters a promoter's legal name and ID
(checked, sealed at rest, masked; in full only to finance and audited when shown); the report
sums the statements per month and person, lists a paid promoter without details as missing,
and exports CSV and XLSX in yuan with two decimals (audited)."""
import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from openpyxl import load_workbook

from liveloop.money import tax_report
from liveloop.money.models import Statement
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import AuditEntry, Member
from liveloop.promoters.models import Promoter
from tests.actors import batch_confirm, ended_live, member_client, run_confirm

pytestmark = pytest.mark.django_db

OWNER, OPERATOR, FINANCE, VIEWER = Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER
ID = "11010519491231002X"
MASKED = "1101**********002X"


def identity(**changes):
    return {"legal_name": "王小明", "id_type": "resident_id", "id_number": ID, "bank_branch": "", **changes}


def test_finance_enters_the_identity_sealed_at_rest_and_masked_on_the_page(brand, clients, live):
    answer = clients[FINANCE].post("/money/promoters/PA/tax-identity/", identity(id_number="110105 19491231 002x"))
    assert answer.status_code == 302
    promoter = Promoter.objects.for_org(brand.org).get(code="PA")
    assert promoter.id_number == ID and promoter.legal_name == "王小明"
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, legal_name FROM promoters_promoter WHERE id = %s", [promoter.pk])
        raw = " ".join(cursor.fetchone())
    assert ID not in raw and "王小明" not in raw and raw.startswith("enc1:")
    page = clients[FINANCE].get("/money/promoters/PA/").content.decode()
    assert MASKED in page and ID not in page
    # The audit line names the change masked: the log is open to every role.
    entry = AuditEntry.objects.get(org=brand.org, action="promoter.tax_identity")
    assert ID not in str(entry.detail) and MASKED in str(entry.detail)


@pytest.mark.parametrize("changes, field, words", [
    ({"id_number": "110105194912310021"}, "id_number", "校验位"),
    ({"id_number": "12345"}, "id_number", "不是所选证件类型"),
    ({"legal_name": "王小明2"}, "legal_name", "不能包含数字"),
    ({"legal_name": ""}, "legal_name", "这个字段是必填项"),
    ({"id_type": "driving_licence"}, "id_type", "driving_licence"),
])
def test_a_bad_identity_is_refused_beside_its_field_and_nothing_is_written(brand, clients, live, changes, field, words):
    answer = clients[FINANCE].post("/money/promoters/PA/tax-identity/", identity(**changes))
    assert answer.status_code == 400 and words in answer.content.decode()
    assert Promoter.objects.for_org(brand.org).get(code="PA").id_number == ""


def test_showing_the_id_in_full_is_finance_only_and_audited(brand, clients, live):
    clients[FINANCE].post("/money/promoters/PA/tax-identity/", identity())
    shown = clients[FINANCE].post("/money/promoters/PA/tax-identity/reveal/")
    assert shown.status_code == 200 and ID in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    assert AuditEntry.objects.filter(org=brand.org, action="promoter.id_reveal", target="promoter PA").count() == 1
    log = clients[FINANCE].get("/money/audit/").content.decode()
    assert "查看推广员完整证件号码" in log


@pytest.mark.parametrize("role", [OWNER, OPERATOR, VIEWER])
def test_other_roles_never_see_or_change_the_id(brand, clients, live, role):
    clients[FINANCE].post("/money/promoters/PA/tax-identity/", identity())
    assert clients[role].post("/money/promoters/PA/tax-identity/reveal/").status_code == 403
    assert clients[role].post("/money/promoters/PA/tax-identity/", identity(legal_name="李四")).status_code == 403
    assert clients[role].get("/money/tax/").status_code == 403
    assert clients[role].get("/money/tax/report.csv").status_code == 403
    page = clients[role].get("/money/promoters/PA/").content.decode()
    assert ID not in page
    assert not AuditEntry.objects.filter(org=brand.org, action="promoter.id_reveal").exists()


def test_another_organisations_promoter_is_not_found(brand, outsider, live):
    stranger = member_client(outsider.org, "stranger-finance", FINANCE)
    assert stranger.post("/money/promoters/PA/tax-identity/", identity()).status_code == 404
    assert stranger.post("/money/promoters/PA/tax-identity/reveal/").status_code == 404
    assert Promoter.objects.for_org(brand.org).get(code="PA").id_number == ""


@pytest.fixture
def paid_month(brand, clients, plan):
    """Two lives settled in one month with tax withheld; PA paid, PB still waiting. PA has tax
    details, PB has none."""
    type(brand.org).objects.filter(pk=brand.org.pk).update(withhold_tax=True)
    brand.org.refresh_from_db()
    for title in ("第一场", "第二场"):
        run = settle_live(brand.org, ended_live(brand, title=title, sales=[
            ("o1", "v1", 1_000_000, "PA"), ("o2", "v2", 3_333, "PB")]))
        clients[FINANCE].post(f"/money/runs/{run.pk}/approve/", run_confirm(run))
    clients[FINANCE].post("/money/promoters/PA/tax-identity/", identity())
    for s in Statement.objects.for_org(brand.org).filter(promoter__code="PA"):
        from liveloop.money import payouts
        payouts.mark_paid(brand.org, None, s, f"银行流水{s.pk}")
    return Statement.objects.for_org(brand.org).first().month


def test_the_report_sums_the_statements_per_month_and_person(brand, paid_month):
    report = tax_report.report(brand.org, paid_month)
    statements = Statement.objects.for_org(brand.org)
    assert report.total("income") == sum(s.gross for s in statements if s.gross > 0)
    assert report.total("withheld") == sum(s.tax for s in statements) > 0
    assert report.total("paid") == sum(s.payable for s in statements if s.state == Statement.PAID)
    rows = {row.promoter.code: row for row in report.rows}
    assert rows["PA"].payments == 2 and rows["PB"].payments == 0 and rows["PB"].paid == 0
    assert [p.code for p in report.missing] == ["PB"]  # listed, not dropped


def test_the_export_is_in_yuan_with_two_decimals_lists_the_missing_and_is_audited(brand, clients, paid_month):
    answer = clients[FINANCE].get(f"/money/tax/report.csv?period={paid_month}")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    statements = Statement.objects.for_org(brand.org)
    income = sum(Decimal(r["收入额（元）"]) for r in rows)
    assert income * 100 == sum(s.gross for s in statements if s.gross > 0)
    assert all(len(r["收入额（元）"].split(".")[1]) == 2 for r in rows)
    by_code = {r["平台内编号"]: r for r in rows}
    assert by_code["PA"]["证件号码"] == ID and by_code["PA"]["证件类型"] == "居民身份证"
    assert by_code["PA"]["所得项目"] == "劳务报酬所得" and by_code["PA"]["国家或地区"] == "中国"
    assert by_code["PB"]["证件号码"] == "" and "缺少身份信息" in by_code["PB"]["备注"]
    entry = AuditEntry.objects.get(org=brand.org, action="tax.export")
    assert entry.detail["rows"] == 2 and entry.detail["missing"] == 1
    log = clients[FINANCE].get("/money/audit/").content.decode()
    assert "导出平台涉税信息报送表" in log and f"所属期 {paid_month}" in log
    assert f"收入额合计 ¥{income:,}" in log and "1 位推广员缺少涉税信息" in log
    book = load_workbook(io.BytesIO(clients[FINANCE].get(f"/money/tax/report.xlsx?period={paid_month}").content))
    sheet = [[c.value for c in row] for row in book.active.iter_rows()]
    assert sheet[0] == list(tax_report.HEADERS)
    assert sum(Decimal(str(r[9])) for r in sheet[1:]) == income


def test_a_quarter_holds_its_three_months_and_the_page_shows_the_missing(brand, clients, paid_month):
    year, month = paid_month.split("-")
    quarter = f"{year}-Q{(int(month) - 1) // 3 + 1}"
    assert paid_month in tax_report.months_of(quarter)
    page = clients[FINANCE].get(f"/money/tax/?period={quarter}").content.decode()
    assert "1 位已付款的推广员缺少姓名或证件号码" in page and MASKED in page and ID not in page
    assert tax_report.months_of("2026-13") is None and tax_report.months_of("2026-Q5") is None


def test_a_clawback_carried_into_the_next_statement_is_not_subtracted_twice(brand, plan):
    from liveloop.money.models import Entry
    org = brand.org
    first = settle_live(org, ended_live(brand, title="第一场", sales=[("o1", "v1", 10_000, "PA")]))
    pa = Promoter.objects.for_org(org).get(code="PA")
    Entry.objects.create(org=org, promoter=pa, kind=Entry.CLAWBACK, amount=-1_000, reason="退款追回")
    second = settle_live(org, ended_live(brand, title="第二场", sales=[("o1", "v1", 5_000, "PA")]))
    third = settle_live(org, ended_live(brand, title="第三场", sales=[("o1", "v1", 20_000, "PA")]))
    statements = Statement.objects.for_org(org).filter(promoter=pa).order_by("pk")
    assert [s.gross < 0 for s in statements] == [False, True, False]  # the clawback outran the 2nd live
    # Income: the commission earned (each live refunds ¥40.00 of its first sale: 10% of ¥60,
    # ¥10 and ¥160) less the clawback, once.
    assert tax_report.report(org, statements[0].month).total("income") == 600 + 100 + 1_600 - 1_000
    assert first and second and third
