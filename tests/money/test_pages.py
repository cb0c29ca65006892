"""Finance pages: settling, approving, paying, exports, plans, adjustments, teams, the audit
log; who may change money (owner, finance) and that another organisation's ids answer 404."""
import csv
import io
import uuid

import pytest
from openpyxl import load_workbook

from liveloop.money.models import Entry, PayoutBatch, Plan, SettlementRun, Statement
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import AuditEntry, Member
from liveloop.promoters.models import Promoter, Team
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment
from tests.actors import batch_confirm, ended_live, run_confirm

pytestmark = pytest.mark.django_db

OWNER, OPERATOR, FINANCE, VIEWER = Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER


def text(response) -> str:
    return response.content.decode()


def settled(brand, live):
    return settle_live(brand.org, live)


def test_finance_settles_from_the_overview(clients, brand, live):
    finance = clients[FINANCE]
    page = finance.get("/money/")
    assert page.status_code == 200
    assert f'action="/money/lives/{live.public_id}/settle/"' in text(page)
    answer = finance.post(f"/money/lives/{live.public_id}/settle/")
    run = SettlementRun.objects.for_org(brand.org).get(live=live)
    assert answer.status_code == 302 and answer["Location"] == f"/money/runs/{run.pk}/"
    page = text(finance.get(f"/money/runs/{run.pk}/"))
    # PA: (¥100.00 − ¥40.00) × 10% = ¥6.00; PB: ¥33.33 × 10% = ¥3.333 → ¥3.33.
    assert "¥6.00" in page and "¥3.33" in page and "¥9.33" in page
    assert AuditEntry.objects.for_org(brand.org).filter(action="settlement.run").exists()


def test_a_live_in_its_refund_window_shows_why_it_cannot_be_settled(clients, brand, plan):
    recent = ended_live(brand, title="昨天专场", days=1)
    page = text(clients[OWNER].get("/money/"))
    assert "退款期未过" in page  # the SettleError, in Chinese first
    assert f"/money/lives/{recent.public_id}/settle/" not in page
    answer = clients[OWNER].post(f"/money/lives/{recent.public_id}/settle/", follow=True)
    assert "退款期未过" in text(answer)
    assert not SettlementRun.objects.for_org(brand.org).exists()


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_viewer_and_operator_cannot_change_money(clients, brand, live, role):
    run = settled(brand, live)
    statement = Statement.objects.for_org(brand.org).filter(run=run).first()
    plan = Plan.objects.for_org(brand.org).get()
    team = Team.objects.create(org=brand.org, name="静安店")
    client = clients[role]
    posts = {
        f"/money/lives/{live.public_id}/settle/": {},
        f"/money/lives/{live.public_id}/plan/": {"plan": plan.pk},
        "/money/plans/new/": {"name": "偷改", "rate_percent": "50", "override_levels": "0"},
        f"/money/plans/{plan.pk}/": {"name": "偷改", "rate_percent": "50", "override_levels": "0"},
        f"/money/plans/{plan.pk}/default/": {},
        "/money/settings/": {"refund_window_days": "0"},
        f"/money/runs/{run.pk}/approve/": {},
        f"/money/statements/{statement.number}/approve/": {},
        f"/money/statements/{statement.number}/paid/": {"reference": "X"},
        f"/money/statements/{statement.number}/retry/": {},
        "/money/batches/": {},
        f"/money/promoters/PA/adjust/": {"amount": "100", "reason": "送钱"},
        f"/money/teams/{team.pk}/": {"leader": "PA"},
    }
    entries, audit = Entry.objects.for_org(brand.org).count(), AuditEntry.objects.for_org(brand.org).count()
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert Entry.objects.for_org(brand.org).count() == entries
    assert AuditEntry.objects.for_org(brand.org).count() == audit
    assert set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {"frozen"}
    assert Plan.objects.for_org(brand.org).get().rules == plan.rules
    # Reading is open to every role.
    for url in ("/money/", f"/money/runs/{run.pk}/", f"/money/statements/{statement.number}/",
                "/money/promoters/PA/", "/money/plans/", "/money/audit/", "/money/teams/"):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", [OWNER, FINANCE])
def test_owner_and_finance_approve_and_mark_paid(clients, brand, live, role):
    run = settled(brand, live)
    client = clients[role]
    pa = Statement.objects.for_org(brand.org).get(run=run, promoter__code="PA")
    assert client.post(f"/money/statements/{pa.number}/approve/").status_code == 302
    assert client.post(f"/money/runs/{run.pk}/approve/", run_confirm(run)).status_code == 302
    assert set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {"settled"}
    answer = client.post(f"/money/statements/{pa.number}/paid/", {"reference": " "}, follow=True)
    assert "须填写付款参考号" in text(answer)  # PayoutError shown (in the page's Chinese), nothing moved
    client.post(f"/money/statements/{pa.number}/paid/", {"reference": "WX-20261126-1"})
    pa.refresh_from_db()
    assert (pa.state, pa.paid_reference) == ("paid", "WX-20261126-1")
    assert AuditEntry.objects.for_org(brand.org).filter(action="statement.paid", target=pa.number).exists()


def test_another_organisations_money_answers_404(clients, brand, outsider):
    from liveloop.money.plans import save_plan
    from liveloop.money import payouts

    save_plan(outsider.org, None, name="别家方案", fields={"rate_bps": 1000}, make_default=True)
    their_live = ended_live(outsider, title="别家专场")
    run = settle_live(outsider.org, their_live)
    statement = Statement.objects.for_org(outsider.org).filter(run=run).first()
    payouts.approve(outsider.org, None, Statement.objects.for_org(outsider.org))
    batch = payouts.create_batch(outsider.org, None)
    plan = Plan.objects.for_org(outsider.org).get()
    team = Team.objects.create(org=outsider.org, name="别家门店")
    for role, client in clients.items():
        for url in (f"/money/runs/{run.pk}/", f"/money/runs/{run.pk}/statements.xlsx",
                    f"/money/statements/{statement.number}/", f"/money/batches/{batch.pk}/",
                    f"/money/batches/{batch.pk}/batch.csv", f"/money/plans/{plan.pk}/",
                    f"/money/promoters/PA/", f"/money/promoters/PA/lives/{their_live.public_id}/"):
            assert client.get(url).status_code in (403, 404), (role, url)
        if role in (OWNER, FINANCE):
            for url in (f"/money/lives/{their_live.public_id}/settle/", f"/money/runs/{run.pk}/approve/",
                        f"/money/statements/{statement.number}/paid/", f"/money/teams/{team.pk}/",
                        f"/money/plans/{plan.pk}/default/", f"/money/promoters/PA/adjust/"):
                assert client.post(url, {"reference": "X", "amount": "1", "reason": "x"}).status_code == 404, url
    assert not Entry.objects.for_org(outsider.org).filter(kind="adjustment").exists()


def test_plan_form_shows_each_refusal_beside_its_field(clients, brand):
    owner = clients[OWNER]
    cases = [
        ({"override_levels": "3", "override_1": "1", "override_2": "1"}, "override_levels", "传销"),
        ({"override_levels": "1"}, "override_1", "每一级须有且只有一个费率"),
        ({"rate_percent": "5", "tiers": "10000, 5\n, 8"}, "tiers", "只能选一种"),
        ({"tiers": "10000, 5\n5000, 8"}, "tiers", "最后一档"),
        ({"tiers": "ten thousand, 5"}, "tiers", "第 1 行"),
        ({"rate_percent": "120"}, "rate_percent", "100"),
        ({"cap": "1.005"}, "cap", ""),
    ]
    for fields, field, words in cases:
        answer = owner.post("/money/plans/new/", {"name": "新方案", "override_levels": "0", **fields})
        assert answer.status_code == 400, fields
        form = answer.context["form"]
        assert field in form.errors, (fields, form.errors)
        assert words in " ".join(form.errors[field]), (fields, form.errors)
    assert not Plan.objects.for_org(brand.org).exists()


def test_plan_form_saves_tiers_bounties_and_overrides_in_fen_and_bps(clients, brand):
    answer = clients[FINANCE].post("/money/plans/new/", {
        "name": "阶梯方案", "tiers": "10000, 5\n，8%", "reservation_bounty": "0.50", "new_buyer_bounty": "2",
        "cap": "1234.56", "override_levels": "2", "override_1": "2.5", "override_2": "1",
        "allow_self_purchase": "on", "make_default": "on"})
    assert answer.status_code == 302, answer.context and answer.context["form"].errors
    plan = Plan.objects.for_org(brand.org).get()
    assert plan.is_default
    rules = plan.rules
    assert [list(t) for t in rules["tiers"]] == [[1_000_000, 500], [None, 800]]
    assert (rules["reservation_bounty_fen"], rules["new_buyer_bounty_fen"], rules["cap_fen"]) == (50, 200, 123_456)
    assert list(rules["override_bps"]) == [250, 100] and rules["allow_self_purchase"] is True
    # The edit form shows the stored plan back in yuan and percent.
    page = clients[FINANCE].get(f"/money/plans/{plan.pk}/")
    assert page.context["form"].initial["cap"] == 1234.56 or str(page.context["form"].initial["cap"]) == "1234.56"
    assert "10000" in page.context["form"].initial["tiers"]


def test_choosing_a_plan_for_a_live(clients, brand, live):
    other = Plan.objects.create(org=brand.org, name="高佣", rules=Plan.objects.for_org(brand.org).get().rules | {"rate_bps": 2000})
    clients[FINANCE].post(f"/money/lives/{live.public_id}/plan/", {"plan": other.pk})
    run = settle_live(brand.org, live)
    assert run.plan_name == "高佣"
    assert Statement.objects.for_org(brand.org).get(run=run, promoter__code="PA").gross == 1_200


def test_adjustment_reads_yuan_exactly(clients, brand, live):
    finance = clients[FINANCE]
    key = lambda: uuid.uuid4().hex  # noqa: E731 (the form's idempotency key, a new one per form)
    assert finance.post("/money/promoters/PA/adjust/", {"amount": "12.34", "reason": "补发奖励", "key": key()}).status_code == 302
    assert finance.post("/money/promoters/PA/adjust/", {"amount": "-0.07", "reason": "扣回", "key": key()}).status_code == 302
    for bad, field in (({"amount": "0.001", "reason": "x"}, "amount"), ({"amount": "0", "reason": "x"}, "amount"),
                       ({"amount": "5", "reason": ""}, "reason"), ({"amount": "2000000", "reason": "x"}, "amount")):
        answer = finance.post("/money/promoters/PA/adjust/", {**bad, "key": key()})
        assert answer.status_code == 400 and field in answer.context["form"].errors, bad
    amounts = list(Entry.objects.for_org(brand.org).filter(kind="adjustment").values_list("amount", "reason"))
    assert amounts == [(1_234, "补发奖励"), (-7, "扣回")]


def test_ledger_shows_running_balance_and_the_orders_behind_a_live(clients, brand, live):
    settled(brand, live)
    page = clients[VIEWER].get("/money/promoters/PA/")
    rows = page.context["rows"]
    assert [r["entry"].kind for r in rows] == ["accrual", "reversal"]  # estimates; settlement equal → no true-up
    assert [r["balance"] for r in rows] == [1_000, 600]
    assert f"/money/promoters/PA/lives/{live.public_id}/" in text(page)
    detail = clients[VIEWER].get(f"/money/promoters/PA/lives/{live.public_id}/")
    assert detail.status_code == 200
    orders = detail.context["orders"]
    assert len(orders) == 1 and orders[0]["order"].paid == 10_000 and orders[0]["order"].refunded == 4_000
    assert [e["type"] for e in orders[0]["events"]] == ["order_paid", "order_refund"]
    assert detail.context["held"] == 600


def test_statement_page_shows_breakdown_and_figures(clients, brand, live):
    run = settled(brand, live)
    pb = Statement.objects.for_org(brand.org).get(run=run, promoter__code="PB")
    page = clients[VIEWER].get(f"/money/statements/{pb.number}/")
    line = page.context["lines"][0]
    assert [(b["kind"], b["fen"], b.get("base_fen"), b["rate"]) for b in line["breakdown"]] == [
        ("rate", 333, 3_333, 10)]
    figures = {f["label"]: f["value"] for f in line["figures"]}
    assert 3_333 in figures.values()
    assert "¥33.33" in text(page) and "¥3.33" in text(page)


def test_run_exports_have_chinese_headers_and_exact_yuan(clients, brand, live):
    Promoter.objects.for_org(brand.org).filter(code="PB").update(name='=HYPERLINK("http://x","y")')
    run = settled(brand, live)
    answer = clients[FINANCE].get(f"/money/runs/{run.pk}/statements.csv")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["结算单号", "推广员编号", "姓名"]
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code["PA"][9] == "6.00" and by_code["PB"][9] == "3.33"
    assert by_code["PB"][2].startswith("'=")  # stays text in a spreadsheet
    book = load_workbook(io.BytesIO(clients[FINANCE].get(f"/money/runs/{run.pk}/statements.xlsx").content))
    sheet = book.worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][9] == "实发（元）"
    by_code = {r[1]: r for r in values[1:]}
    assert str(by_code["PA"][9]) in ("6", "6.0", "6.00") and str(by_code["PB"][9]) == "3.33"
    cell = next(c for c in next(sheet.iter_rows(min_row=2, max_row=3)) if c.column == 3)
    assert cell.data_type == "s"
    assert clients[VIEWER].get(f"/money/runs/{run.pk}/statements.csv").status_code == 403  # export role


def _upload(client, batch, body: str, name="results.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile
    return client.post(f"/money/batches/{batch.pk}/results/",
                       {"results": SimpleUploadedFile(name, body.encode("utf-8"), "text/csv")})


def test_batch_file_and_results_all_or_nothing(clients, brand, live):
    Promoter.objects.for_org(brand.org).filter(code="PA").update(openid="o-PA-openid")
    Promoter.objects.for_org(brand.org).filter(code="PB").update(bank_account="6222020000000001", bank_name="工商银行")
    run = settled(brand, live)
    finance = clients[FINANCE]
    finance.post(f"/money/runs/{run.pk}/approve/", run_confirm(run))
    assert finance.post("/money/batches/", batch_confirm(brand.org)).status_code == 302
    batch = PayoutBatch.objects.for_org(brand.org).get()
    assert (batch.count, batch.total) == (2, 933)
    rows = list(csv.reader(io.StringIO(finance.get(f"/money/batches/{batch.pk}/batch.csv").content.decode("utf-8-sig"))))
    assert rows[0] == ["付款参考号", "推广员编号", "姓名", "收款方式", "收款账号", "开户行", "金额（元）"]
    assert [(r[1], r[3], r[4], r[6]) for r in rows[1:]] == [("PA", "微信零钱", "o-PA-openid", "6.00"),
                                                          ("PB", "银行卡", "6222020000000001", "3.33")]
    book = load_workbook(io.BytesIO(finance.get(f"/money/batches/{batch.pk}/batch.xlsx").content))
    assert [str(r[6]) for r in list(book.worksheets[0].iter_rows(values_only=True))[1:]] in (["6", "3.33"], ["6.00", "3.33"])
    pa, pb = (Statement.objects.for_org(brand.org).get(run=run, promoter__code=c) for c in ("PA", "PB"))
    bad = (f"付款参考号,状态,流水号,原因\n{pa.number},成功,TX1,\n{pb.number},成功,,\nS99999-NOPE,失败,,\n")
    answer = _upload(finance, batch, bad)
    assert answer.status_code == 400
    errors = answer.context["errors"]
    assert [(row, column) for row, column, _reason in errors] == [(3, "transaction"), (4, "reference")]
    assert "S99999-NOPE" in text(answer)
    assert set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {"settled"}  # nothing written
    good = f"付款参考号,状态,流水号,原因\n{pa.number},成功,TX1,\n{pb.number},失败,,账户名不符\n"
    assert _upload(finance, batch, good).status_code == 302
    pa.refresh_from_db(), pb.refresh_from_db()
    assert (pa.state, pa.paid_reference, pb.state, pb.failure) == ("paid", "TX1", "failed", "账户名不符")
    finance.post(f"/money/statements/{pb.number}/retry/")
    pb.refresh_from_db()
    assert pb.state == "settled"


def test_results_as_xlsx(clients, brand, live):
    from openpyxl import Workbook
    from django.core.files.uploadedfile import SimpleUploadedFile

    run = settled(brand, live)
    clients[OWNER].post(f"/money/runs/{run.pk}/approve/", run_confirm(run))
    clients[OWNER].post("/money/batches/", batch_confirm(brand.org))
    batch = PayoutBatch.objects.for_org(brand.org).get()
    book = Workbook()
    sheet = book.active
    sheet.append(["reference", "status", "transaction"])
    for s in Statement.objects.for_org(brand.org):
        sheet.append([s.number, "success", f"T-{s.pk}"])
    out = io.BytesIO()
    book.save(out)
    upload = SimpleUploadedFile("results.xlsx", out.getvalue())
    assert clients[OWNER].post(f"/money/batches/{batch.pk}/results/", {"results": upload}).status_code == 302
    assert set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {"paid"}


def test_team_leadership_shows_the_refusal(clients, brand):
    top = Team.objects.create(org=brand.org, name="华东区")
    shop = Team.objects.create(org=brand.org, name="静安店", parent=top)
    brand.live(promoters=("PL",))
    finance = clients[FINANCE]
    assert finance.post(f"/money/teams/{top.pk}/", {f"team-{top.pk}-leader": "PL"}).status_code == 302
    answer = finance.post(f"/money/teams/{shop.pk}/", {f"team-{shop.pk}-leader": "PL", f"team-{shop.pk}-parent": top.pk})
    assert answer.status_code == 400
    assert "同一个人不能同时负责本团队和上级团队" in text(answer)
    answer = finance.post(f"/money/teams/{shop.pk}/", {f"team-{shop.pk}-leader": "NOPE"})
    assert answer.status_code == 400 and "No promoter" in text(answer) or "推广员" in text(answer)
    shop.refresh_from_db()
    assert shop.leader_id is None


def test_money_settings_and_audit_log(clients, brand):
    owner = clients[OWNER]
    assert owner.post("/money/settings/", {"refund_window_days": "-1"}).status_code == 400
    assert owner.post("/money/settings/", {"refund_window_days": "3", "withhold_tax": "on"}).status_code == 302
    brand.org.refresh_from_db()
    assert (brand.org.refund_window_days, brand.org.withhold_tax) == (3, True)
    owner.post("/money/promoters/PA/adjust/", {"amount": "1", "reason": "x"})  # 404: no such promoter yet
    page = owner.get("/money/audit/")
    assert page.status_code == 200
    actions = [e.action for e in page.context["page_obj"]]
    assert actions[0] == "money.settings"


def test_the_promoter_sees_pending_then_settled_amounts(clients, brand, live):
    from django.test import Client
    from liveloop.money import payouts

    enrolment = Enrolment.objects.for_org(brand.org).get(programme__live=live, promoter__code="PA")
    phone = Client()
    page = phone.get(own_page_url(enrolment))
    assert page.context["money"]["balances"]["pending"] == 600
    assert "¥6.00" in text(page)
    run = settled(brand, live)
    payouts.approve(brand.org, None, Statement.objects.for_org(brand.org).filter(run=run))
    page = phone.get(own_page_url(enrolment))
    money = page.context["money"]
    assert money["balances"] == {"pending": 0, "frozen": 0, "settled": 600, "paid": 0}
    assert [(line.shown, line.amount) for line in money["lines"]] == [(live.title, 600)]
    assert "已结算" in text(page) or "Settled" in text(page)


def test_money_forms_need_the_csrf_token(brand, live):
    from django.test import Client

    member = Member.objects.for_org(brand.org).filter(role=FINANCE).first()
    if member is None:
        from liveloop.orgs.services import add_member
        member = add_member(brand.org, "csrf-finance", FINANCE)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    assert client.post(f"/money/lives/{live.public_id}/settle/").status_code == 403
    assert not SettlementRun.objects.for_org(brand.org).exists()
    page = text(client.get("/money/"))
    assert page.count('name="csrfmiddlewaretoken"') >= 2  # the plan choice and the settle button


def test_a_plan_is_chosen_for_an_upcoming_live_on_the_overview(clients, brand, live):
    upcoming = brand.live(title="下周专场", promoters=("PA",))
    other = Plan.objects.create(org=brand.org, name="高佣", rules=Plan.objects.for_org(brand.org).get().rules)
    page = text(clients[FINANCE].get("/money/"))
    assert f"/money/lives/{upcoming.public_id}/plan/" in page
    clients[FINANCE].post(f"/money/lives/{upcoming.public_id}/plan/", {"plan": other.pk})
    from liveloop.money.plans import plan_for
    assert plan_for(brand.org, upcoming) == other
    assert AuditEntry.objects.for_org(brand.org).filter(action="plan.choose").exists()
