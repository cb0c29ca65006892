"""What the phone layouts and the Chinese pages rest on, checked without a browser (the browser
walk is tests/e2e/test_walk.py): time zones named in the page's language, the room's names cut
with the whole name in a title, and order events named in words on the ledger."""
from django.test import Client
from django.utils.html import escape

from liveloop.money.plans import save_plan
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from liveloop.web.room import top_rows_html
from tests.actors import ended_live


def signed_in(org, language: str) -> Client:
    member = add_member(org, f"layout-{language}", Member.OWNER)
    client = Client()
    client.force_login(member.user)
    client.cookies["django_language"] = language
    return client


def test_time_zones_are_named_in_the_pages_language(brand):
    zh = signed_in(brand.org, "zh-hans").get("/settings/").content.decode()
    assert '<option value="Asia/Tokyo">东京</option>' in zh
    assert '<option value="UTC">协调世界时</option>' in zh
    assert '<option value="Asia/Shanghai" selected>北京时间</option>' in zh
    en = signed_in(brand.org, "en").get("/settings/").content.decode()
    assert '<option value="Asia/Tokyo">Tokyo</option>' in en


def test_a_zone_outside_the_list_is_shown_as_its_id_and_a_foreign_value_is_refused(brand):
    brand.org.timezone = "Pacific/Auckland"
    brand.org.save(update_fields=["timezone"])
    zh = signed_in(brand.org, "zh-hans")
    assert '<option value="Pacific/Auckland" selected>Pacific/Auckland</option>' in zh.get("/settings/").content.decode()
    answer = zh.post("/settings/timezone/", {"timezone": "Mars/Olympus"})
    assert answer.status_code == 400 and "不在可用的选项中" in answer.content.decode()
    brand.org.refresh_from_db()
    assert brand.org.timezone == "Pacific/Auckland"


def test_room_rows_keep_the_whole_name_in_a_title_and_escape_it():
    name, team = '欧阳娜娜·山茶集首席体验官<script>', '上海市徐汇区"旗舰店"'
    promoters, teams = top_rows_html(
        [{"name": name, "code": "PA", "team": team, "gmv": 1_234_567, "entered": 3, "orders": 2}],
        [{"team": team, "gmv": 1_234_567, "entered": 3, "orders": 2}])
    assert f'<span class="name" title="{escape(name)}">{escape(name)}</span>' in promoters
    assert f'<span class="team-under" title="{escape(team)}" aria-hidden="true">{escape(team)}</span>' in promoters
    assert "<script>" not in promoters and "¥12,345.67" in promoters
    assert f'<th scope="row"><span class="name" title="{escape(team)}">{escape(team)}</span></th>' in teams


def test_the_ledger_names_order_events_in_words(brand):
    save_plan(brand.org, None, name="标准方案", fields={"rate_bps": 1000}, make_default=True)
    live = ended_live(brand)
    page = signed_in(brand.org, "zh-hans").get(f"/money/promoters/PA/lives/{live.public_id}/").content.decode()
    assert "订单支付" in page and "订单退款" in page
    assert "order_paid" not in page and "order_refund" not in page


def walk_checks(**overrides) -> "Checks":
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from tests.e2e.walk import ALWAYS_ALLOWED, Checks, catalogue_words

    known = datetime(2026, 11, 23, 11, 47, tzinfo=timezone.utc)  # 19:47 in Shanghai
    fields = dict(zone=ZoneInfo("Asia/Shanghai"), allowed=ALWAYS_ALLOWED | catalogue_words() | {"PA"},
                  fen={1_234_567}, instants=[known], started=datetime.now(timezone.utc))
    return Checks(**{**fields, **overrides})


def test_the_walks_text_check_passes_a_chinese_page_with_data_and_catalogue_words():
    checks = walk_checks()
    checks.text("推广员 PA 成交额 ¥12,345.67 · UV 价值 · 导出 CSV · 2026-11-23 19:47 · Liveloop · English", "page")
    assert checks.problems == []


def test_the_walks_text_check_finds_english_codes_fen_and_utc_times():
    checks = walk_checks()
    checks.text("操作 statement.approve total=1234567", "audit")
    checks.text("合计 1,234,567", "money")
    checks.text("退款期未过：2026-11-23 11:47 UTC 后可结算", "window")
    checks.text("开播 2026-11-23T11:47:00", "iso")
    checks.text("The password is too short", "form")
    found = "\n".join(checks.problems)
    assert "audit: English or raw codes outside the catalogue: ['statement.approve', 'total=1234567']" in found
    assert "money: amounts in fen shown as they are: ['1,234,567']" in found
    assert "window: a time marked UTC" in found and "window: 11:47 is a known event's time in UTC" in found
    assert "iso: a machine (ISO) time: 2026-11-23T11:47" in found
    assert "form: English or raw codes outside the catalogue: ['The', 'is', 'password', 'short', 'too']" in found


def test_a_code_holding_digits_or_the_letters_utc_is_not_an_amount_or_a_zone():
    checks = walk_checks(allowed={"SH0001234567", "ll_xUTCab"})
    checks.text("编号 SH0001234567 · 密钥 ll_xUTCab", "page")
    assert checks.problems == []
