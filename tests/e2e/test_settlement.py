"""Finance settles a live whose refund window has passed, approves the statements, downloads
the XLSX, and a promoter sees the settled amount on their own page."""
import re

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from liveloop.money.models import SettlementRun
from liveloop.money.plans import save_plan
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment
from tests.e2e.browser import DESKTOP, OPERATOR_PASSWORD, PHONE, look
from tests.actors import ended_live

pytestmark = pytest.mark.e2e


def finance_page(contexts, org):
    add_member(org, "finance", Member.FINANCE, password=OPERATOR_PASSWORD)
    page = contexts.page(DESKTOP, "zh-hans")
    page.goto("/login/")
    page.get_by_label(re.compile("Username|用户名")).fill("finance")
    page.get_by_label(re.compile("Password|密码")).fill(OPERATOR_PASSWORD)
    page.get_by_label(re.compile("Password|密码")).press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    return page


def test_finance_settles_and_the_promoter_sees_it(contexts, brand, tmp_path):
    save_plan(brand.org, None, name="标准方案", fields={"rate_bps": 1000}, make_default=True)
    # Ended eight days ago: past the seven-day refund window. PA sold ¥100.00 and refunded
    # ¥40.00 (→ ¥6.00), PB sold ¥33.33 (→ ¥3.333, rounded half-up to ¥3.33).
    live = ended_live(brand)
    desk = finance_page(contexts, brand.org)

    desk.goto(reverse("web:money"))
    look(desk, "money-overview-zh")
    desk.locator(f'form[action="/money/lives/{live.public_id}/settle/"] button').click()
    desk.wait_for_url(re.compile(r"/money/runs/\d+/$"))
    run = SettlementRun.objects.for_org(brand.org).get(live=live)
    look(desk, "money-run-frozen-zh")
    desk.locator(f'form[action="/money/runs/{run.pk}/approve/"] input[name="confirm"]').check()
    desk.locator(f'form[action="/money/runs/{run.pk}/approve/"] button').click()
    desk.wait_for_url(re.compile(rf"/money/runs/{run.pk}/$"))
    look(desk, "money-run-approved-zh")
    assert desk.locator('input[name="reference"]').count() == 2  # both settled, waiting for payment

    with desk.expect_download() as download:
        desk.locator(f'a[href="/money/runs/{run.pk}/statements.xlsx"]').click()
    path = tmp_path / "statements.xlsx"
    download.value.save_as(path)
    rows = list(load_workbook(path).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("结算单号", "推广员编号", "姓名")  # the page's language (zh-hans)
    assert "实发（元）" in rows[0]
    payable = rows[0].index("实发（元）")
    assert {row[1]: round(row[payable] * 100) for row in rows[1:]} == {"PA": 600, "PB": 333}
    assert {row[1]: row[rows[0].index("状态")] for row in rows[1:]} == {"PA": "已结算", "PB": "已结算"}

    statement = run.statements.get(promoter__code="PA")
    desk.goto(reverse("web:money_statement", args=[statement.number]))
    look(desk, "money-statement-zh")
    desk.goto(reverse("web:money_ledger", args=["PA"]))
    look(desk, "money-ledger-zh")

    # A payout batch from the settled statements, and the other finance pages, checked too.
    desk.goto(reverse("web:money_batches"))
    look(desk, "money-batches-zh")
    desk.locator('form[action="/money/batches/"] input[name="confirm"]').check()
    desk.locator('form[action="/money/batches/"] button').click()
    desk.wait_for_url(re.compile(r"/money/batches/\d+/$"))
    look(desk, "money-batch-zh")
    for name in ("web:money_plans", "web:money_plan_new", "web:money_teams", "web:money_audit", "web:money_settings"):
        assert desk.goto(reverse(name)).status == 200, name
        look(desk, name.replace("web:", "").replace("_", "-") + "-zh")

    phone = contexts.page(PHONE, "zh-hans")
    enrolment = Enrolment.objects.for_org(brand.org).get(programme__live=live, promoter__code="PA")
    assert phone.goto(own_page_url(enrolment)).status == 200
    balances = phone.locator("section.money dl.balances > div")
    assert balances.nth(2).locator("dd").first.inner_text() == "¥6.00"   # settled
    assert balances.nth(0).locator("dd").first.inner_text() == "¥0.00"   # nothing pending any more
    assert "¥6.00" in phone.locator("table.statement-lines").inner_text()
    look(phone, "phone-own-page-settled-zh")
