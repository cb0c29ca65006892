"""What the phone layouts and the Chinese pages rest on, checked without a browser (the browser
walk is tests/e2e/test_walk.py): time zones named in the page's language, the room's names cut
with the whole name in a title, and order events named in words on the ledger."""
from django.test import Client
from django.utils.html import escape

from liveloop.money.plans import save_plan
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from liveloop.web.room import top_rows_html
from tests.money.conftest import ended_live


def signed_in(org, language: str) -> Client:
    member = add_member(org, f"layout-{language}", Member.OWNER)
    client = Client()
    client.force_login(member.user)
    client.cookies["django_language"] = language
    return client


def test_time_zones_are_named_in_the_pages_language(brand):
    zh = signed_in(brand.org, "zh-hans").get("/settings/").content.decode()
    assert '<option value="Asia/Tokyo">东京</option>' in zh
    assert '<option value="UTC">协调世界时（零时区）</option>' in zh
    assert '<option value="Asia/Shanghai" selected>上海（北京时间）</option>' in zh
    en = signed_in(brand.org, "en").get("/settings/").content.decode()
    assert '<option value="Asia/Tokyo">Asia/Tokyo</option>' in en


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
