"""Issue 19 items 2 and 3: Chinese pages speak Chinese — no English words, raw codes, fen shown
as yuan or times in another zone — and the same pages in English are still English.

The audit log keeps its machine rows and is put into words at display time; payout results,
passwords, form errors, the ledger's payee, the settlement refusal, the trends column and the
organic row are each checked on the page a person sees."""
import re
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from liveloop.money.models import PayoutBatch, Plan, SettlementRun, Statement
from liveloop.money.plans import save_plan
from liveloop.money.settlement import settle_live
from liveloop.orgs import audit
from liveloop.orgs.models import AuditEntry, Member
from liveloop.promoters.models import Promoter, Team
from tests.actors import batch_confirm, ended_live, run_confirm

pytestmark = pytest.mark.django_db

OWNER, FINANCE = Member.OWNER, Member.FINANCE


def text(response) -> str:
    return response.content.decode()


def body(response) -> str:
    """The page's <main> (the header holds the language switch, which says "English")."""
    page = text(response)
    match = re.search(r"<main.*?</main>", page, re.S)
    return match.group(0) if match else page


def english(client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def table_text(response, css_class) -> str:
    """The visible text of the table with this class: tags stripped, so attribute values
    (ISO times in datetime="…") are not mistaken for what a person reads."""
    match = re.search(rf'<table class="data {css_class}">.*?</table>', text(response), re.S)
    assert match, css_class
    return re.sub(r"<[^>]+>", " ", match.group(0))


# 1. The audit log ----------------------------------------------------------------------------

def money_story(clients, brand, live):
    """The money actions a finance member takes in a week, all through the pages."""
    finance = clients[FINANCE]
    assert finance.post("/money/plans/new/", {"name": "阶梯方案", "tiers": "3000, 6\n, 8", "reservation_bounty": "0.50",
                                              "override_levels": "0"}).status_code == 302
    stepped = Plan.objects.for_org(brand.org).get(name="阶梯方案")
    assert finance.post(f"/money/plans/{stepped.pk}/", {"name": "阶梯方案", "rate_percent": "12.5",
                                                        "override_levels": "0"}).status_code == 302
    assert finance.post(f"/money/lives/{live.public_id}/settle/").status_code == 302
    run = SettlementRun.objects.for_org(brand.org).get(live=live)
    assert finance.post(f"/money/runs/{run.pk}/approve/", run_confirm(run)).status_code == 302
    assert finance.post("/money/batches/", batch_confirm(brand.org)).status_code == 302
    assert finance.post("/money/promoters/PA/adjust/", {"amount": "-12.50", "reason": "扣回重复奖励",
                                                        "key": uuid.uuid4().hex}).status_code == 302
    assert finance.post("/money/settings/", {"refund_window_days": "3", "withhold_tax": "on"}).status_code == 302
    return run


def test_the_audit_log_reads_as_chinese_sentences_with_yuan(clients, brand, live):
    run = money_story(clients, brand, live)
    audit.record(brand.org, None, "member.sign_in_failed", "money-owner", address="203.0.113.9", locked=True)
    page = clients[OWNER].get("/money/audit/")
    assert page.status_code == 200
    shown = table_text(page, "audit")
    for words in ("批准结算单", "创建打款批次", "结算直播", "保存佣金方案", "台账调整", "修改结算设置", "登录失败",
                  "系统", "直播《上周专场》", "方案《阶梯方案》", "推广员PA（PA）",
                  f"2 张结算单，合计 ¥9.33（结算记录 {run.pk}）",  # the run's statements and total in yuan
                  "-¥12.50，原因：扣回重复奖励",
                  "新建方案《阶梯方案》", "¥3,000.00 以内 6%", "以上 8%", "每个预约奖励：¥0.50",
                  "净额费率：无 → 12.5%", "阶梯费率：¥3,000.00 以内 6%，以上 8% → 无", "每个预约奖励：¥0.50 → ¥0.00",
                  "退款期：7 天 → 3 天", "代扣劳务报酬个税：否 → 是", "来自 203.0.113.9；登录已被锁定"):
        assert words in shown, words
    # No machine codes, no Python dicts, no fen, no English.
    for raw in ("statement.approve", "settlement.run", "rate_bps", "_fen", "{'", "system", "None", "True",
                "933", "run=", "total="):
        assert raw not in shown, raw
    words = re.sub(r"money-\w+", "", shown)  # the members' usernames are names, not English
    assert not re.search(r"[A-Za-z]{4,}", words), re.findall(r"[A-Za-z]{4,}", words)
    # The stored rows are unchanged: machine format for tools.
    row = AuditEntry.objects.for_org(brand.org).get(action="settlement.run")
    assert row.detail["total"] == 933 and row.target == f"live {live.public_id}"


def test_the_audit_log_in_english(clients, brand, live):
    money_story(clients, brand, live)
    shown = table_text(english(clients[OWNER]).get("/money/audit/"), "audit")
    for words in ("Approve statement", "Settle live", "live “上周专场”", "Rate on net: none → 12.5%",
                  "refund window: 7 days → 3 days"):
        assert words in shown, words
    assert "批准" not in shown and "；" not in shown


def test_old_rows_and_unknown_actions_render_without_crashing(clients, brand, outsider):
    """Rows as the demo wrote them before (the issue's examples), an action this code does not
    know, a known action of an unexpected shape, and a target naming another organisation's plan."""
    theirs = save_plan(outsider.org, None, name="别家的秘密方案", fields={"rate_bps": 900})
    AuditEntry.objects.create(org=brand.org, actor="system", action="settlement.run", target="live L4scqn6gt",
                              detail={"run": 3, "plan": "标准方案", "statements": 708, "total": 2304698})
    AuditEntry.objects.create(org=brand.org, actor="system", action="plan.save", target="plan 1",
                              detail={"name": "标准方案", "before": None, "default": True,
                                      "after": {"rate_bps": None, "tiers": [[300000, 600], [None, 800]],
                                                "reservation_bounty_fen": 0, "new_buyer_bounty_fen": 200,
                                                "effective_view_bounty_fen": 0, "effective_view_cap": None,
                                                "cap_fen": None, "override_bps": [200],
                                                "allow_self_purchase": False}})
    AuditEntry.objects.create(org=brand.org, actor="ops", action="promoter.merged", target="promoter PX",
                              detail={"amount": 150, "flags": [True, None]})
    AuditEntry.objects.create(org=brand.org, actor="ops", action="settlement.run", target="live Lnope",
                              detail={"run": "x"})
    AuditEntry.objects.create(org=brand.org, actor="ops", action="promoter.disabled", target="promoter PX",
                              detail={"live": "Lnope"})
    AuditEntry.objects.create(org=brand.org, actor="ops", action="promoter.link_reissued", target="promoter PX",
                              detail={})
    AuditEntry.objects.create(org=brand.org, actor="ops", action="plan.archive", target=f"plan {theirs.pk}",
                              detail="not a dict")
    page = clients[OWNER].get("/money/audit/")
    assert page.status_code == 200
    shown = table_text(page, "audit")
    for words in ("合计 ¥23,046.98", "708 张结算单", "¥3,000.00 以内 6%", "每个新买家奖励：¥2.00", "团队奖励：2%",
                  "设为本组织默认方案", "推广员：其他变更", "金额：¥1.50", "是、无", "停用推广员", "直播 Lnope",
                  "重发推广员链接"):
        assert words in shown, words
    assert "别家的秘密方案" not in text(page)  # another organisation's plan is never named
    assert 'href="/promoters/PX/"' in text(page)  # a promoter's target links to their page
    assert "{'" not in shown and "promoter.merged" not in shown


# 2. Payout results -----------------------------------------------------------------------------

def batch_of_two(clients, brand, live):
    run = settle_live(brand.org, live)
    finance = clients[FINANCE]
    assert finance.post(f"/money/runs/{run.pk}/approve/", run_confirm(run)).status_code == 302
    assert finance.post("/money/batches/", batch_confirm(brand.org)).status_code == 302
    batch = PayoutBatch.objects.for_org(brand.org).get()
    pa, pb = (Statement.objects.for_org(brand.org).get(run=run, promoter__code=code) for code in ("PA", "PB"))
    return batch, pa, pb


def upload(client, batch, csv_text: str):
    return client.post(f"/money/batches/{batch.pk}/results/",
                       {"results": SimpleUploadedFile("results.csv", csv_text.encode("utf-8"), "text/csv")})


def test_results_errors_are_chinese_with_the_pages_column_names(clients, brand, live):
    batch, pa, pb = batch_of_two(clients, brand, live)
    answer = upload(clients[FINANCE], batch, f"商户订单号,转账状态,微信支付单号\nS99999-PXXXXXX,成功,TX9\n"
                                             f"{pa.number},已完成,\n{pb.number},转账中,\n")
    assert answer.status_code == 400
    shown = table_text(answer, "results-errors")
    assert f"“S99999-PXXXXXX”不在打款批次 {batch.number} 中" in shown
    assert "成功的行须填写支付渠道的流水号" in shown
    assert "“转账中”：支付渠道尚未处理完这笔付款" in shown
    cells = re.findall(r"<td>([^<]*)</td>", text(answer))
    assert {"付款参考号", "流水号", "状态"} <= set(cells), cells  # the column as the page names it
    assert not re.search(r"\b(reference|transaction|status|is not in batch)\b", shown)
    assert set(Statement.objects.for_org(brand.org).values_list("state", flat=True)) == {"settled"}
    english_answer = upload(english(clients[FINANCE]), batch, f"reference,status\nS99999-PXXXXXX,success\n")
    assert "is not in batch" in table_text(english_answer, "results-errors")
    assert "Payment reference" in table_text(english_answer, "results-errors")


@pytest.mark.parametrize("paid_word, failed_word", [("已完成", "已退回"), ("支付成功", "失败"), ("SUCCESS", "FAIL"),
                                                    ("转账成功", "退汇")])
def test_results_accept_the_status_words_of_chinese_payment_files(clients, brand, live, paid_word, failed_word):
    batch, pa, pb = batch_of_two(clients, brand, live)
    answer = upload(clients[FINANCE], batch, f"商家明细单号,明细状态,微信明细单号,失败原因\n"
                                             f"{pa.number},{paid_word},1000000001,\n{pb.number},{failed_word},,姓名不符\n")
    assert answer.status_code == 302, table_text(answer, "results-errors")
    pa.refresh_from_db(), pb.refresh_from_db()
    assert (pa.state, pa.paid_reference, pb.state, pb.failure) == ("paid", "1000000001", "failed", "姓名不符")


def test_an_unknown_status_word_lists_the_accepted_ones_in_chinese(clients, brand, live):
    batch, pa, _pb = batch_of_two(clients, brand, live)
    shown = table_text(upload(clients[FINANCE], batch, f"付款参考号,状态\n{pa.number},不知道\n"), "results-errors")
    assert "“不知道”既不是成功" in shown and "已完成" in shown and "已退回" in shown
    missing = table_text(upload(clients[FINANCE], batch, "单号,状态\nX,成功\n"), "results-errors")
    assert "缺少“付款参考号”列" in missing and "商户订单号" in missing


# 3. Password rules, 5. form errors ---------------------------------------------------------------

def test_password_rules_are_chinese_on_the_member_form(clients, brand):
    answer = clients[OWNER].post("/settings/members/", {"username": "新同事", "password": "abc12", "role": "operator"})
    assert answer.status_code == 400
    errors = " ".join(answer.context["member_form"].errors["password"])
    assert "密码太短：至少需要 8 个字符。" in errors, errors
    assert not re.search(r"[A-Za-z]{3,}", errors), errors
    assert 'value="新同事"' in text(answer)  # what was typed is kept
    english_errors = english(clients[OWNER]).post(
        "/settings/members/", {"username": "x2", "password": "abc12", "role": "operator"}).context["member_form"].errors
    assert "too short" in " ".join(english_errors["password"])


def test_django_messages_end_with_a_chinese_full_stop(clients, brand, live):
    finance = clients[FINANCE]
    answer = finance.post("/money/promoters/PA/adjust/", {"amount": "12345678901.55", "reason": "x", "key": uuid.uuid4().hex})
    assert answer.status_code == 400
    errors = answer.context["form"].errors["amount"]
    assert errors == ["总共不能超过 12 位数字。"], errors
    answer = finance.post("/money/plans/new/", {"name": "新方案", "cap": "1.005", "override_levels": "0"})
    assert answer.context["form"].errors["cap"] == ["小数不能超过 2 位。"]
    assert not re.search(r"[\u4e00-\u9fff]\.", body(answer))  # no English full stop after Chinese anywhere


@pytest.mark.parametrize("tiers, words", [
    ("10000, 5\n5000, 8\n, 9", "第 2 行：每档上限（元）须高于上一档。"),
    ("10000, 5\n, 8\n20000, 9", "第 2 行：只有最后一档不设上限。"),
    ("10000, 5\n20000, 8", "第 2 行：最后一档不设上限"),
])
def test_tier_errors_speak_of_yuan(clients, brand, tiers, words):
    answer = clients[FINANCE].post("/money/plans/new/", {"name": "阶梯", "tiers": tiers, "override_levels": "0"})
    assert answer.status_code == 400
    errors = " ".join(answer.context["form"].errors["tiers"])
    assert words in errors and "分" not in errors, errors
    assert "10000, 5" in text(answer)  # the typed tiers are kept
    assert not Plan.objects.for_org(brand.org).exists()


def test_the_team_refusal_is_chinese_without_ids(clients, brand):
    top = Team.objects.create(org=brand.org, name="华东区")
    shop = Team.objects.create(org=brand.org, name="静安店", parent=top)
    brand.live(promoters=("PL",))
    finance = clients[FINANCE]
    assert finance.post(f"/money/teams/{shop.pk}/", {f"team-{shop.pk}-leader": "PL",
                                                     f"team-{shop.pk}-parent": top.pk}).status_code == 302
    answer = finance.post(f"/money/teams/{top.pk}/", {f"team-{top.pk}-leader": "", f"team-{top.pk}-parent": shop.pk})
    assert answer.status_code == 400
    assert "上级团队不能是本团队，也不能是它的下级团队" in text(answer)
    assert "ancestor" not in text(answer)


# 4. The ledger's payee -------------------------------------------------------------------------

def test_the_ledger_names_the_payment_method_not_the_openid(clients, brand, live):
    Promoter.objects.for_org(brand.org).filter(code="PA").update(openid="oDemoShopSharer000000000001")
    page = clients[FINANCE].get("/money/promoters/PA/")
    shown = body(page)
    assert "收款账户 微信零钱" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", shown))
    assert "WeChat" not in shown and "oDemoSh" not in shown
    assert "WeChat change" in body(english(clients[FINANCE]).get("/money/promoters/PA/"))


def test_the_ledgers_carry_lines_are_in_words(clients, brand, live):
    """Settlement stores a carry's reason as machine text; the ledger says it in the page's language."""
    from liveloop.money.models import Entry
    from liveloop.money.settlement import CARRIED_FROM, CARRIED_TO

    pa = Promoter.objects.for_org(brand.org).get(code="PA")
    Entry.objects.create(org=brand.org, promoter=pa, kind=Entry.CARRY, amount=300, reason=CARRIED_TO)
    Entry.objects.create(org=brand.org, promoter=pa, kind=Entry.CARRY, amount=-300, reason=CARRIED_FROM + "S00001-PA")
    Entry.objects.create(org=brand.org, promoter=pa, kind=Entry.ADJUSTMENT, amount=1, reason="carried from 手写")
    shown = table_text(clients[FINANCE].get("/money/promoters/PA/"), "ledger")
    assert "结转到下一张结算单" in shown and "由结算单 S00001-PA 结转" in shown
    assert "carried from 手写" in shown  # a person's own words are shown as typed
    assert "carried to" not in shown


# 6. One time zone a page: the organisation's ------------------------------------------------------

@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_the_settlement_refusal_and_the_window_end_show_one_zone(clients, brand, plan, zone):
    brand.org.timezone = zone
    brand.org.save(update_fields=["timezone"])
    recent = ended_live(brand, title="昨天专场", days=1)
    opens = (recent.ended_at + timedelta(days=brand.org.refund_window_days)).astimezone(ZoneInfo(zone))
    local = f"{opens:%Y-%m-%d %H:%M}"
    page = clients[OWNER].get("/money/")
    shown = re.sub(r"<[^>]+>", " ", body(page))
    assert f"退款期未过：{local} 后可结算" in shown
    assert shown.count(local) == 2  # the column and the refusal: the same moment, the same text
    assert "UTC" not in shown
    flash = clients[OWNER].post(f"/money/lives/{recent.public_id}/settle/", follow=True)
    assert f"退款期未过：{local} 后可结算" in text(flash) and "UTC" not in body(flash)
    assert f"settle after {local}" in body(english(clients[OWNER]).get("/money/"))


def test_a_batch_number_carries_the_organisations_day(clients, brand, live):
    from liveloop.money import payouts

    run = settle_live(brand.org, live)
    assert clients[FINANCE].post(f"/money/runs/{run.pk}/approve/", run_confirm(run)).status_code == 302
    late_evening_utc = datetime(2026, 12, 2, 17, 30, tzinfo=timezone.utc)  # 01:30 on the 3rd in Shanghai
    assert payouts.create_batch(brand.org, None, now=late_evening_utc).number == "P20261203-0001"


def test_the_rotated_keys_grace_is_shown_in_the_organisations_zone(owner, brand):
    from liveloop.orgs.models import ApiKey

    key = ApiKey.objects.for_org(brand.org).get()
    page = owner.post(f"/settings/keys/{key.pk}/rotate/")
    assert page.status_code == 200
    key.refresh_from_db()
    shown = re.sub(r"<[^>]+>", " ", body(page))
    assert timezone_text(key.expires_at, brand.org) in shown and "UTC" not in shown


def timezone_text(moment, org) -> str:
    return f"{moment.astimezone(ZoneInfo(org.timezone)):%Y-%m-%d %H:%M}"


# 7. The trends column, 8. one organic label ---------------------------------------------------------

def test_the_trends_and_report_name_the_on_air_time(clients, brand, live):
    from liveloop.events.ingest import ingest
    from tests.actors import event

    assert ingest(brand.org, [event("r1", "reservation", live.public_id, "v9", at=live.started_at, promoter="PA")]).accepted
    day = f"{live.started_at.astimezone(ZoneInfo(brand.org.timezone)):%Y-%m-%d}"  # the form reads local days
    trends = clients[OWNER].get("/trends/", {"since": day, "until": day})
    header = re.search(r"<table class=\"data trends\">.*?</thead>", text(trends), re.S).group(0)
    assert "开播时间" in header and "直播中" not in header
    report = body(clients[OWNER].get(f"/lives/{live.public_id}/report/"))
    assert "直播时间" in report and "直播中" not in re.search(r'<p class="meta">.*?</p>', report, re.S).group(0)
    assert "Start time" in text(english(clients[OWNER]).get("/trends/", {"since": day, "until": day}))


def test_one_organic_label_on_pages_and_downloads(clients, brand, live):
    import csv
    import io

    label = "自然流量（未归因）"
    live_page = body(clients[OWNER].get(f"/lives/{live.public_id}/"))
    report = body(clients[OWNER].get(f"/lives/{live.public_id}/report/"))
    exported = clients[OWNER].get(f"/lives/{live.public_id}/promoters.csv").content.decode("utf-8-sig")
    for shown in (live_page, report):
        assert label in shown
        assert shown.count("自然流量") == shown.count(label), "another wording of the organic row"
        assert "无推广员" not in shown
    assert [row[1] for row in csv.reader(io.StringIO(exported)) if label in row], "the export names the row alike"
    assert "Natural traffic (unattributed)" in body(english(clients[OWNER]).get(f"/lives/{live.public_id}/"))


# Every finance page, in Chinese, after a week's work ------------------------------------------------

ALLOWED_LATIN = {"CSV", "XLSX", "API"}  # file formats and the API are called so in Chinese too


def visible_words(response) -> set:
    """Latin words a person reads in the page's <main>: tags, scripts and attributes removed."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body(response), flags=re.S)
    return set(re.findall(r"[A-Za-z_][A-Za-z_./]{2,}", re.sub(r"<[^>]+>", " ", html))) - ALLOWED_LATIN


def test_no_english_or_raw_codes_on_the_finance_pages(clients, brand, live):
    finance = clients[FINANCE]
    Promoter.objects.for_org(brand.org).filter(code="PA").update(openid="oDemoShopSharer000000000001", name="张三")
    Team.objects.create(org=brand.org, name="静安店", leader=Promoter.objects.for_org(brand.org).get(code="PB"))
    money_story(clients, brand, live)
    assert clients[OWNER].post("/settings/timezone/", {"timezone": "Asia/Tokyo"}).status_code == 302
    run = SettlementRun.objects.for_org(brand.org).get()
    statement = Statement.objects.for_org(brand.org).order_by("number").first()
    batch = PayoutBatch.objects.for_org(brand.org).get()
    plan = Plan.objects.for_org(brand.org).order_by("pk").first()
    usernames = {f"money-{role}" for role in (OWNER, FINANCE, Member.OPERATOR, Member.VIEWER)}
    for url in ("/money/", "/money/settings/", "/money/plans/", "/money/plans/new/", f"/money/plans/{plan.pk}/",
                f"/money/runs/{run.pk}/", f"/money/statements/{statement.number}/", "/money/batches/",
                f"/money/batches/{batch.pk}/", "/money/promoters/PA/", f"/money/promoters/PA/lives/{live.public_id}/",
                "/money/teams/", "/money/audit/", "/settings/"):
        response = finance.get(url)
        assert response.status_code == 200, url
        # Usernames and order numbers (here made of the live's id) are data, not words.
        data = usernames | {live.public_id}
        words = {w for w in visible_words(response) if not any(w in name for name in data)}
        assert not words, (url, sorted(words))
        # Quoted examples of what to type (“上限元, 费率%”) may hold ASCII punctuation.
        shown = re.sub(r"“[^”]*”", "", re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body(response))))
        assert not re.search(r"[\u4e00-\u9fff] \(", shown), (url, re.findall(r".{8}[\u4e00-\u9fff] \(.{8}", shown))
        assert not re.search(r"[\u4e00-\u9fff）][:.;,](\s|$)", shown), (url, re.findall(r".{12}[\u4e00-\u9fff）][:.;,]\s", shown))
    audit_shown = table_text(finance.get("/money/audit/"), "audit")
    assert "北京时间 → 东京" in audit_shown
    settings_page = clients[OWNER].get("/settings/")
    assert 'value="Asia/Tokyo" selected>东京' in text(settings_page)  # the option's value stays the zone's code
    assert "时间按 东京 时区显示" in text(settings_page) and "Asia/" not in re.sub(r'value="[^"]*"', "", text(settings_page))
    assert "每场公域观众上限：100,000" in text(finance.get("/settings/"))  # read-only for finance


def test_the_command_line_gives_the_password_rules_in_english_only(brand):
    from click.testing import CliRunner

    from liveloop.cli import main

    result = CliRunner().invoke(main, ["user", "create", "ops", brand.org.slug, "--password-stdin"], input="abc12\n")
    assert result.exit_code != 0
    assert "too short" in result.output and not re.search(r"[\u4e00-\u9fff]", result.output), result.output


def test_the_live_form_names_the_zone_by_its_name(owner, brand):
    brand.org.timezone = "Asia/Tokyo"
    brand.org.save(update_fields=["timezone"])
    page = owner.post("/lives/new/", {"title": "", "announced_at": "nonsense"})
    assert page.status_code == 400
    shown = re.sub(r"<[^>]+>", " ", body(page))
    assert "按 东京 时区" in shown and "Asia/" not in shown


def test_the_planner_settings_refusal_uses_chinese_punctuation(owner, brand):
    page = owner.post("/settings/planner/", {"public_match_percent": "-1", "public_match_cap": "x"}, follow=True)
    assert [str(m) for m in page.context["messages"]] == [
        "每个预约匹配的公域观众（%）：确保该值大于或等于0；每场公域观众上限：输入整数。"]


def test_the_trends_file_and_the_reservations_chart_name_the_zone(clients, brand, live):
    from liveloop.events.ingest import ingest
    from tests.actors import event

    assert ingest(brand.org, [event("r1", "reservation", live.public_id, "v9", at=live.started_at, promoter="PA")]).accepted
    day = f"{live.started_at.astimezone(ZoneInfo(brand.org.timezone)):%Y-%m-%d}"  # the form reads local days
    exported = clients[OWNER].get("/trends/trends.csv", {"since": day, "until": day}).content.decode("utf-8-sig")
    assert "开播时间（北京时间）" in exported.splitlines()[0].split(",")
    page = body(clients[OWNER].get(f"/lives/{live.public_id}/"))
    assert "（北京时间）" in page and "Asia/Shanghai" not in page


def test_a_failure_without_a_reason_shows_no_english_word(clients, brand, live):
    batch, pa, pb = batch_of_two(clients, brand, live)
    assert upload(clients[FINANCE], batch, f"付款参考号,状态,流水号\n{pa.number},成功,TX1\n{pb.number},失败,\n").status_code == 302
    pb.refresh_from_db()
    assert (pb.state, pb.failure) == ("failed", "")
    Statement.objects.for_org(brand.org).filter(pk=pb.pk).update(failure="failed")  # as stored before
    for url in (f"/money/statements/{pb.number}/", f"/money/runs/{pb.run_id}/", f"/money/batches/{batch.pk}/"):
        shown = re.sub(r"<[^>]+>", " ", body(clients[FINANCE].get(url)))
        assert "打款失败" in shown and "failed" not in shown, url


def test_results_naming_another_organisations_statement_change_nothing_of_theirs(clients, brand, outsider, live):
    """An attacker (or a wrong file) names another brand's statement: refused in Chinese as not in
    this batch, and that brand's statement is untouched — its number reveals nothing either."""
    theirs_plan = save_plan(outsider.org, None, name="别家方案", fields={"rate_bps": 1000}, make_default=True)
    assert theirs_plan.pk
    their_live = ended_live(outsider, title="别家专场")
    their_run = settle_live(outsider.org, their_live)
    from liveloop.money import payouts

    payouts.approve(outsider.org, None, their_run.statements.all())
    their_statement = their_run.statements.order_by("number").first()
    batch, pa, _pb = batch_of_two(clients, brand, live)
    answer = upload(clients[FINANCE], batch, f"付款参考号,状态,流水号\n{their_statement.number},成功,TX-EVIL\n")
    assert answer.status_code == 400
    assert f"“{their_statement.number}”不在打款批次 {batch.number} 中" in table_text(answer, "results-errors")
    their_statement.refresh_from_db()
    assert (their_statement.state, their_statement.paid_reference) == ("settled", "")
    assert not AuditEntry.objects.for_org(outsider.org).filter(action="statement.paid").exists()


def test_any_stored_detail_reads_as_words_and_never_crashes(brand):
    """Whatever shape a row's detail has (older code, another action, hand-edited), the page
    puts it into words: no exception, no Python dict or list syntax."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    from liveloop.web.audit import ACTIONS, describe

    # Texts without brackets or quotes, so any "{'" or "['" on the page could only be a repr.
    words = st.text(alphabet="abz_金额 .-0", max_size=12)
    leaves = st.none() | st.booleans() | st.integers(-10**12, 10**12) | words | st.floats(allow_nan=False)
    values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
                          max_leaves=8)
    actions = st.sampled_from(sorted(ACTIONS) + ["promoter.merged", "nothing", ""])
    targets = st.sampled_from(["", "live Lnope", "plan 99", "plan x", "promoter PX", "promoter a/b", "team 静安店",
                               "organisation", "S1", "S/1", "plan 99999999999999999999"])

    @settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(actions, targets, st.dictionaries(words, values, max_size=4) | values)
    def check(action, target, detail):
        entry = AuditEntry(org=brand.org, actor="system", action=action, target=target, detail=detail,
                           at=datetime(2026, 12, 1, tzinfo=timezone.utc))
        from django.utils import translation

        with translation.override("zh-hans"):
            [row] = describe(brand.org, [entry])
        assert isinstance(row.detail, str) and isinstance(row.action, str)
        assert "{'" not in row.detail and "['" not in row.detail

    check()
