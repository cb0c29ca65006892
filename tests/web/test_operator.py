"""Operator pages of issue 3: creating and cancelling lives, the calendar, the live page's funnel,
search, roll-ups and Excel export, the programme page, settings, and who may do what."""
import csv
import io
import re
import zipfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from liveloop.analytics.queries import account_rollup, live_summary, promoter_rows, team_rollup
from liveloop.lives.models import Account, Live
from liveloop.actions.lives import start_live
from liveloop.notify.models import Notice
from liveloop.orgs.models import ApiKey, Member, Organisation
from liveloop.orgs.services import add_member
from liveloop.promoters.links import sign_enrolment
from liveloop.promoters.models import Enrolment, JoinCode, Promoter, Team
from liveloop.actions.promoters import NewPromoter, enrol
from tests.actors import EVENING, event, html_of, member_client, rows_of, text

FIGS = ("reservations", "entered", "buyers", "orders", "gmv", "refunded", "net", "follows", "captures")


# Creating a live

def live_form(brand, **changes):
    data = {"account": brand.account.pk, "title": "年货节直播", "announced_at": "2027-12-20T19:30",
            "preview_url": "https://channels.weixin.qq.com/preview/abc", "cap": "500",
            "mode": "last_touch", "binding_days": "14"}
    data.update(changes)
    return data


def test_create_a_live_with_the_form(en, brand):
    form = html_of(en.get("/lives/new/"))
    assert 'type="datetime-local"' in form and "First touch" in form and "Last touch" in form
    assert 'value="1000"' in form and 'value="30"' in form  # cap and binding days by default
    response = en.post("/lives/new/", live_form(brand))
    live = Live.objects.get(org=brand.org, title="年货节直播")
    assert response.status_code == 302 and response["Location"] == f"/lives/{live.public_id}/programme/"
    # 19:30 in Asia/Shanghai is 11:30 UTC.
    assert live.announced_at == datetime(2027, 12, 20, 11, 30, tzinfo=timezone.utc)
    assert live.preview_url == "https://channels.weixin.qq.com/preview/abc"
    programme = live.programme
    assert (programme.cap, programme.mode, programme.binding_days, programme.is_open) == (500, "last_touch", 14, True)
    assert JoinCode.objects.filter(programme=programme, single_use=False).count() == 1
    assert "2027-12-20 19:30" in html_of(en.get(f"/lives/{live.public_id}/"))


def test_the_form_reads_the_time_in_the_organisations_zone(en, brand):
    Organisation.objects.filter(pk=brand.org.pk).update(timezone="Asia/Tokyo")
    en.post("/lives/new/", live_form(brand))
    live = Live.objects.get(org=brand.org)
    assert live.announced_at == datetime(2027, 12, 20, 10, 30, tzinfo=timezone.utc)


def test_the_form_shows_each_error_beside_its_field(en, brand, outsider):
    response = en.post("/lives/new/", live_form(brand, title="  ", cap="0", binding_days="400",
                                                  preview_url="javascript:alert(1)", mode="random",
                                                  announced_at="tomorrow", account=outsider.account.pk))
    html = html_of(response, 400)
    for field in ("account", "title", "announced_at", "preview_url", "cap", "mode", "binding_days"):
        block = re.search(rf'<label for="id_{field}">.*?</div>\s*</div>', html, re.S).group(0)
        assert 'class="errors"' in block, field
    assert "Ensure this value is less than or equal to 365." in html
    assert not Live.objects.filter(org=brand.org).exists()
    # What was typed stays in the form.
    assert 'value="400"' in html


def test_cap_above_a_thousand_is_refused(en, brand):
    html = html_of(en.post("/lives/new/", live_form(brand, cap="1001")), 400)
    assert "Ensure this value is less than or equal to 1000." in html


def test_edit_a_scheduled_live_but_not_one_on_air(en, brand):
    live = brand.live()
    assert 'value="2026-11-20T20:00"' in html_of(en.get(f"/lives/{live.public_id}/edit/"))
    # Its past time may be kept as it is; a move goes to now or later (issue 19).
    response = en.post(f"/lives/{live.public_id}/edit/", {"title": "改名了", "announced_at": "2026-11-20T20:00",
                                                         "preview_url": "https://example.com/p"})
    assert response.status_code == 302
    live.refresh_from_db()
    assert (live.title, live.preview_url) == ("改名了", "https://example.com/p")
    assert live.announced_at == EVENING
    response = en.post(f"/lives/{live.public_id}/edit/", {"title": "改名了", "announced_at": "2027-11-21T20:00",
                                                         "preview_url": "https://example.com/p"})
    assert response.status_code == 302
    live.refresh_from_db()
    assert live.announced_at == datetime(2027, 11, 21, 12, 0, tzinfo=timezone.utc)
    start_live(live, at=EVENING + timedelta(days=1))
    en.post(f"/lives/{live.public_id}/edit/", {"title": "又改", "announced_at": "2026-11-22T20:00"})
    live.refresh_from_db()
    assert live.title == "改名了"


# Cancelling

def test_cancel_asks_first_then_queues_a_notice_per_reserver(en, brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    brand.send([event("r1", "reservation", L, "V1", promoter="A"), event("r2", "reservation", L, "V2"),
                event("r3", "reservation", L, "V3"), event("c3", "reservation_cancel", L, "V3")])
    assert "Cancel the live" in html_of(en.get(f"/lives/{L}/"))
    confirm = text(html_of(en.get(f"/lives/{L}/cancel/")))
    assert "2 people hold a reservation: they will be notified" in confirm
    live.refresh_from_db()
    assert live.state == "scheduled"  # asking is not doing
    response = en.post(f"/lives/{L}/cancel/")
    assert response.status_code == 302 and response["Location"] == f"/lives/{L}/"
    live.refresh_from_db()
    assert live.state == "cancelled"
    assert Notice.objects.filter(live=live).count() == 2
    page = text(html_of(en.get(f"/lives/{L}/")))
    assert "This live was cancelled" in page and "2 notices queued" in page
    assert "Cancel the live" not in page
    assert live_summary(live)["reservations"] == 0
    # A second cancel is refused without harm.
    en.post(f"/lives/{L}/cancel/")
    assert Notice.objects.filter(live=live).count() == 2


# Calendar

def test_the_calendar_puts_lives_on_their_local_day(en, brand):
    brand.live(title="二十号的直播")  # 12:00 UTC = 20:00 in Shanghai on the 20th
    brand.live(title="跨日的直播", announced_at=datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc))
    html = html_of(en.get("/calendar/", {"month": "2026-11"}))

    def day(date):
        return re.search(rf'data-date="{date}">(.*?)</td>', html, re.S).group(1)
    assert "二十号的直播" in day("2026-11-20") and "20:00" in day("2026-11-20")
    assert "跨日的直播" not in day("2026-11-30")
    assert "跨日的直播" in day("2026-12-01") and "01:00" in day("2026-12-01")  # the grid's last week
    assert 'href="?month=2026-10"' in html and 'href="?month=2026-12"' in html
    december = html_of(en.get("/calendar/", {"month": "2026-12"}))
    assert "跨日的直播" in december and "二十号的直播" not in december
    for odd in ("garbage", "2026-13", "9999-12", "0001-01", "2026-11-05"):  # this month instead
        assert 'class="calendar"' in html_of(en.get("/calendar/", {"month": odd})), odd


# The live page

def test_funnel_rates_and_the_empty_funnel(en, brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    empty = text(html_of(en.get(f"/lives/{L}/")))
    assert "→ —" in empty
    brand.send([event(f"r{n}", "reservation", L, f"V{n}", promoter="A") for n in range(3)]
               + [event(f"e{n}", "room_enter", L, f"V{n}") for n in range(2)]
               + [event("o1", "order_paid", L, "V0", order="O1", amount=100)])
    funnel = re.search(r'<ol class="funnel">(.*?)</ol>', html_of(en.get(f"/lives/{L}/")), re.S).group(1)
    assert re.findall(r"→ ([\d.]+%|—)", funnel) == ["66.7%", "50.0%"]


@pytest.fixture
def shop(brand):
    """A live with promoters in two stores (with regions) and one without, and some sales."""
    Team.objects.create(org=brand.org, name="杭州门店", region="浙江")
    Team.objects.create(org=brand.org, name="上海门店", region="上海")
    live = brand.live()
    enrol(live.programme, [NewPromoter(name="王小明", code="PA1", team="杭州门店"),
                           NewPromoter(name="李红", code="PA2", team="杭州门店"),
                           NewPromoter(name="Alice", code="PB1", team="上海门店"),
                           NewPromoter(name="独行侠", code="PX9")])
    L = live.public_id
    brand.send([
        event("r1", "reservation", L, "V1", promoter="PA1"),
        event("r2", "reservation", L, "V2", promoter="PA2"),
        event("r3", "reservation", L, "V3", promoter="PB1"),
        event("r4", "reservation", L, "V4", promoter="PX9"),
        event("r5", "reservation", L, "V5"),
        event("e1", "room_enter", L, "V1"), event("e3", "room_enter", L, "V3"),
        event("o1", "order_paid", L, "V1", order="O1", amount=12900),
        event("o2", "order_paid", L, "V3", order="O2", amount=5905),
        event("o3", "order_paid", L, "V9", order="O3", amount=100),
        event("f1", "order_refund", L, "V1", order="O1", amount=900),
    ])
    return live


def codes_in(html):
    return [row[0] for row in rows_of(html, "promoters") if row[0].startswith("P")]


def test_search_by_code_or_name_any_case(en, shop):
    url = f"/lives/{shop.public_id}/"
    assert codes_in(html_of(en.get(url, {"q": "pa", "sort": "code"}))) == ["PA1", "PA2"]
    assert codes_in(html_of(en.get(url, {"q": "alice"}))) == ["PB1"]
    assert codes_in(html_of(en.get(url, {"q": "小明"}))) == ["PA1"]
    html = html_of(en.get(url, {"q": "nobody"}))
    assert codes_in(html) == [] and "No promoter matches the search." in html
    # Search and team filter together, and the search box keeps its text.
    html = html_of(en.get(url, {"q": "p", "team": "上海门店"}))
    assert codes_in(html) == ["PB1"] and 'value="p"' in html
    assert "Natural traffic" not in rows_of(html, "promoters")[0][0]


def test_htmx_gets_only_the_table(en, shop):
    url = f"/lives/{shop.public_id}/"
    fragment = html_of(en.get(url, {"q": "PA", "sort": "code"}, HTTP_HX_REQUEST="true",
                              HTTP_HX_TARGET="promoter-table"))
    assert fragment.lstrip().startswith('<div id="promoter-table"')
    assert "<html" not in fragment and "<h1>" not in fragment and 'class="figures"' not in fragment
    assert codes_in(fragment) == ["PA1", "PA2"]
    # The form's hidden sort follows the table's new sort out of band.
    assert 'id="promoter-sort" hx-swap-oob="true"' in fragment and 'value="code"' in fragment
    # Another element's htmx request, or a history restore, gets the whole page.
    whole = html_of(en.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="something-else"))
    assert "<html" in whole
    restore = html_of(en.get(url, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"))
    assert "<html" in restore and 'hx-swap-oob' not in restore


def test_team_rollup_adds_up_to_the_live(en, shop):
    rollup = team_rollup(shop)
    summary = live_summary(shop)
    rows = rollup["teams"] + [rollup["no_team"], rollup["unattributed"]]
    for figure in FIGS:
        assert sum(row[figure] for row in rows) == summary[figure], figure
    by_team = {row["team"]: row for row in rollup["teams"]}
    assert by_team["杭州门店"]["promoters"] == 2 and by_team["杭州门店"]["region"] == "浙江"
    assert (by_team["杭州门店"]["reservations"], by_team["杭州门店"]["net"]) == (2, 12000)
    assert (rollup["no_team"]["promoters"], rollup["no_team"]["reservations"]) == (1, 1)
    assert (rollup["unattributed"]["reservations"], rollup["unattributed"]["gmv"]) == (1, 100)
    table = rows_of(html_of(en.get(f"/lives/{shop.public_id}/")), "teams")
    assert table[0][:6] == ["杭州门店", "浙江", "2", "2", "1", "1"]
    assert table[0][-3:] == ["¥120.00", "0", "0"]
    assert [row[0] for row in table] == ["杭州门店", "上海门店", "No team", "Natural traffic (unattributed)"]


def test_account_rollup_sums_each_accounts_lives(en, brand, shop):
    other = Account.objects.create(org=brand.org, name="山茶集二号")
    second = brand.live(title="二号的直播")
    Live.objects.filter(pk=second.pk).update(account=other)
    brand.send([event("x1", "order_paid", second.public_id, "W1", order="X1", amount=300)])
    rows = {row["name"]: row for row in account_rollup(brand.org)}
    main = rows[brand.account.name]
    assert main["lives"] == 1 and main["net"] == 12900 + 5905 + 100 - 900 and main["reservations"] == 5
    assert (rows["山茶集二号"]["lives"], rows["山茶集二号"]["gmv"], rows["山茶集二号"]["buyers"]) == (1, 300, 1)
    # A time range keeps only lives announced inside it.
    later = account_rollup(brand.org, since=EVENING + timedelta(days=1))
    assert all(row["lives"] == 0 and row["gmv"] == 0 for row in later)
    table = rows_of(html_of(en.get("/")), "accounts")
    assert table[0][:3] == [brand.account.name, "1", "5"]
    assert ["山茶集二号", "1", "0", "0", "1", "1", "¥3.00", "¥0.00", "¥3.00", "0", "0"] in table


def test_xlsx_has_the_csv_rows_with_chinese_headers(owner, shop):
    Promoter.objects.filter(code="PX9").update(name="=HYPERLINK(\"http://x\")")
    url = f"/lives/{shop.public_id}/promoters"
    response = owner.get(url + ".xlsx", {"sort": "code"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f"{shop.public_id}-promoters.xlsx" in response["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("编号", "姓名", "门店/团队", "预约", "进房", "成交人数", "订单", "成交额", "退款", "净额",
                       "关注", "沉淀私域", "本人预约", "疑似刷单预约")
    text_csv = owner.get(url + ".csv", {"sort": "code"}).content.decode()[1:]
    expected = list(csv.DictReader(io.StringIO(text_csv)))
    assert len(rows) - 1 == len(expected) == 5
    # The page's CSV carries the same Chinese headers, and yuan as two-decimal text.
    for got, want in zip(rows[1:], expected):
        assert (got[0] or "") == want["编号"]
        assert got[3:7] == tuple(int(want[c]) for c in ("预约", "进房", "成交人数", "订单"))
        for index, column in ((7, "成交额"), (8, "退款"), (9, "净额")):
            assert Decimal(str(got[index])) == Decimal(want[column])
    assert rows[1][1] == "自然流量（未归因）"
    assert Decimal(str(rows[1 + [r["编号"] for r in expected].index("PB1")][7])) == Decimal("59.05")
    # Written as the exact decimal text, never a binary float's expansion.
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        assert "<v>59.05</v>" in book.read("xl/worksheets/sheet1.xml").decode()
    assert sheet["H2"].number_format == "#,##0.00"
    hostile = next(row for row in sheet.iter_rows() if row[0].value == "PX9")
    assert hostile[1].data_type == "s" and hostile[1].value.startswith("=HYPERLINK")


# The programme page

def test_programme_page_shows_the_recruit_code_and_the_count(en, brand):
    live = brand.live(promoters=["A", "B", "C"], cap=10)
    html = html_of(en.get(f"/lives/{live.public_id}/programme/"))
    token = JoinCode.objects.get(programme=live.programme, single_use=False).token
    assert f"http://testserver/join/{token}/" in html
    assert re.search(r'<img class="qr recruit-qr" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]+"[^>]*alt="[^"]+"', html)
    assert "3 / 10" in html
    assert [row[0] for row in rows_of(html, "enrolments")] == ["A", "B", "C"]
    assert "@media print" in (settings.BASE_DIR / "liveloop/web/static/web/liveloop.css").read_text()


def test_close_and_reopen_recruiting(en, brand):
    live = brand.live()
    url = f"/lives/{live.public_id}/programme/recruiting/"
    assert en.post(url, {"open": "0"}).status_code == 302
    live.programme.refresh_from_db()
    assert live.programme.is_open is False
    assert "Reopen recruiting" in html_of(en.get(f"/lives/{live.public_id}/programme/"))
    fragment = html_of(en.post(url, {"open": "1"}, HTTP_HX_REQUEST="true"))
    assert fragment.startswith('<section class="card recruiting') and "Close recruiting" in fragment
    live.programme.refresh_from_db()
    assert live.programme.is_open is True


def test_one_person_codes_create_list_and_revoke(en, brand):
    live = brand.live()
    base = f"/lives/{live.public_id}/programme/"
    response = en.post(base + "codes/", {"count": "3"})
    assert response.status_code == 302
    codes = list(JoinCode.objects.filter(programme=live.programme, single_use=True).order_by("pk"))
    assert len(codes) == 3
    used, unused = codes[0], codes[1]
    promoter = enrol(live.programme, [NewPromoter(name="受邀的人", code="INV1")])[0]
    JoinCode.objects.filter(pk=used.pk).update(used_by=promoter, used_at=EVENING)
    html = html_of(en.get(base))
    for code in codes:
        assert f"http://testserver/join/{code.token}/" in html
    assert "Used by 受邀的人 (INV1)" in html and html.count("Unused") == 2
    fragment = html_of(en.post(base + f"codes/{unused.pk}/revoke/", HTTP_HX_REQUEST="true"))
    assert fragment.startswith(f'<tr id="code-{unused.pk}"') and "Revoked" in fragment
    unused.refresh_from_db()
    assert unused.revoked_at is not None
    # A used code stays as a record.
    en.post(base + f"codes/{used.pk}/revoke/")
    used.refresh_from_db()
    assert used.revoked_at is None
    # The recruit code is not a one-person code: not revocable here.
    recruit = JoinCode.objects.get(programme=live.programme, single_use=False)
    assert en.post(base + f"codes/{recruit.pk}/revoke/").status_code == 404


@pytest.mark.parametrize("count", ["0", "51", "many"])
def test_one_person_codes_count_is_checked(en, brand, count):
    live = brand.live()
    html = html_of(en.post(f"/lives/{live.public_id}/programme/codes/", {"count": count}), 400)
    assert 'class="errors"' in html
    assert not JoinCode.objects.filter(programme=live.programme, single_use=True).exists()


def test_disable_and_enable_a_promoter(en, brand):
    live = brand.live(promoters=["A", "B"])
    L = live.public_id
    url = f"/lives/{L}/programme/promoters/A/active/"
    fragment = html_of(en.post(url, {"active": "0"}, HTTP_HX_REQUEST="true"))
    assert 'class="disabled"' in fragment and "Enable" in fragment
    enrolment = Enrolment.objects.get(programme=live.programme, promoter__code="A")
    assert enrolment.active is False and enrolment.disabled_at is not None
    brand.send([event("r1", "reservation", L, "V1", promoter="A")])
    rows = {row["promoter"]: row for row in promoter_rows(live)}
    assert rows["A"]["reservations"] == 0 and rows[None]["reservations"] == 1
    html = html_of(en.get(f"/lives/{L}/programme/"))
    assert re.search(r'<tr id="enrolment-\d+" class="disabled">\s*<td>A</td>', html)
    assert "1 of them is disabled." in text(html)
    en.post(url, {"active": "1"})
    brand.send([event("r2", "reservation", L, "V2", promoter="A")])
    rows = {row["promoter"]: row for row in promoter_rows(live)}
    assert rows["A"]["reservations"] == 1


def test_own_page_links_are_for_those_who_manage_lives(en, brand):
    live = brand.live(promoters=["A"])
    enrolment = Enrolment.objects.get(programme=live.programme)
    link = reverse("phone:me_link", args=[sign_enrolment(enrolment)])
    assert f"http://testserver{link}" in html_of(en.get(f"/lives/{live.public_id}/programme/"))
    viewer = member_client(brand.org, "watcher", Member.VIEWER)
    assert link not in html_of(viewer.get(f"/lives/{live.public_id}/programme/"))


def test_enrolled_list_search_and_htmx(en, brand):
    live = brand.live()
    enrol(live.programme, [NewPromoter(name="张三", code="Z1"), NewPromoter(name="李四", code="L1")])
    fragment = html_of(en.get(f"/lives/{live.public_id}/programme/", {"q": "张"},
                              HTTP_HX_REQUEST="true", HTTP_HX_TARGET="enrolments"))
    assert fragment.startswith('<div id="enrolments"') and "<html" not in fragment
    assert [row[0] for row in rows_of(fragment, "enrolments")] == ["Z1"]


# Settings

def test_owner_adds_a_member_who_can_sign_in(en, brand):
    response = en.post("/settings/members/", {"username": "xiaomei", "password": "long-enough-pw",
                                              "role": "finance"})
    assert response.status_code == 302
    assert Member.objects.get(org=brand.org, user__username="xiaomei").role == "finance"
    assert Client().login(username="xiaomei", password="long-enough-pw")
    html = html_of(en.post("/settings/members/", {"username": "xiaomei", "password": "long-enough-pw",
                                                  "role": "viewer"}), 400)
    assert "This username is taken." in html
    assert Member.objects.get(org=brand.org, user__username="xiaomei").role == "finance"
    html = html_of(en.post("/settings/members/", {"username": "short", "password": "123", "role": "owner"}), 400)
    assert "too short" in html


def test_an_existing_account_elsewhere_cannot_be_taken_over(en, brand, outsider):
    add_member(outsider.org, "theirs", Member.OWNER, password="their-own-password")
    en.post("/settings/members/", {"username": "theirs", "password": "hijacked-password", "role": "owner"})
    assert Client().login(username="theirs", password="their-own-password")
    assert not Member.objects.filter(org=brand.org, user__username="theirs").exists()


def test_roles_change_but_the_last_owner_stays(en, brand):
    me = Member.objects.get(org=brand.org, user__username="owner")
    en.post(f"/settings/members/{me.pk}/role/", {"role": "viewer"})
    en.post(f"/settings/members/{me.pk}/remove/")
    me.refresh_from_db()
    assert me.role == "owner"
    assert "last owner" in html_of(en.get("/settings/"))
    other = add_member(brand.org, "second", Member.OPERATOR, password="long-enough-pw")
    en.post(f"/settings/members/{other.pk}/role/", {"role": "owner"})
    other.refresh_from_db()
    assert other.role == "owner"
    en.post(f"/settings/members/{me.pk}/role/", {"role": "finance"})  # two owners: now allowed
    me.refresh_from_db()
    assert me.role == "finance"
    second = Client()
    second.force_login(other.user)
    second.post(f"/settings/members/{me.pk}/remove/")
    assert not Member.objects.filter(pk=me.pk).exists()
    second.post(f"/settings/members/{other.pk}/remove/")
    assert Member.objects.filter(pk=other.pk).exists()


def test_api_key_shown_once_then_only_its_prefix_and_revocable(en, brand):
    response = en.post("/settings/keys/", {"name": "小程序商城"})
    html = html_of(response)
    secret = re.search(r'value="(ll_[^"]+)"', html).group(1)
    assert response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(org=brand.org, name="小程序商城")
    assert key.prefix == secret[:10]
    listing = html_of(en.get("/settings/"))
    assert secret not in listing and key.prefix in listing
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/lives").status_code == 200
    fragment = html_of(en.post(f"/settings/keys/{key.pk}/revoke/", HTTP_HX_REQUEST="true"))
    assert fragment.startswith(f'<tr id="key-{key.pk}"') and "Revoked" in fragment
    assert api.get("/api/v1/lives").status_code == 401
    assert brand.api.get("/api/v1/lives").status_code == 200  # the other key still works


def test_time_zone_change_changes_displayed_times(en, brand):
    live = brand.live()
    assert "2026-11-20 20:00" in html_of(en.get(f"/lives/{live.public_id}/"))
    html = html_of(en.get("/settings/"))
    options = re.findall(r'<option value="([^"]+)"', html.split('name="timezone"', 1)[1].split("</select>")[0])
    assert options[0] == "Asia/Shanghai" and "Asia/Tokyo" in options
    assert en.post("/settings/timezone/", {"timezone": "Asia/Tokyo"}).status_code == 302
    assert "2026-11-20 21:00" in html_of(en.get(f"/lives/{live.public_id}/"))
    assert "Times are shown in Tokyo." in html_of(en.get("/"))  # the zone by its name
    html_of(en.post("/settings/timezone/", {"timezone": "Mars/Olympus"}), 400)
    brand.org.refresh_from_db()
    assert brand.org.timezone == "Asia/Tokyo"


# Who may do what

POSTS = [
    ("/lives/new/", {}),
    ("/lives/{L}/edit/", {"title": "x", "announced_at": "2027-12-01T20:00"}),
    ("/lives/{L}/cancel/", {}),
    ("/lives/{L}/programme/recruiting/", {"open": "0"}),
    ("/lives/{L}/programme/codes/", {"count": "2"}),
    ("/lives/{L}/programme/codes/{code}/revoke/", {}),
    ("/lives/{L}/programme/promoters/A/active/", {"active": "0"}),
    ("/settings/members/", {"username": "newbie", "password": "long-enough-pw", "role": "owner"}),
    ("/settings/members/{member}/role/", {"role": "viewer"}),
    ("/settings/members/{member}/remove/", {}),
    ("/settings/keys/", {"name": "sneaky"}),
    ("/settings/keys/{key}/revoke/", {}),
    ("/settings/timezone/", {"timezone": "UTC"}),
]


@pytest.fixture
def stage(brand, owner):
    live = brand.live(promoters=["A"])
    code = JoinCode.objects.create(org=brand.org, programme=live.programme, single_use=True)
    owner_member = Member.objects.get(org=brand.org, user__username="owner")
    key = ApiKey.objects.get(org=brand.org)
    return {"L": live.public_id, "code": code.pk, "member": owner_member.pk, "key": key.pk, "live": live}


def snapshot(brand, live):
    live.refresh_from_db()
    return (live.title, live.state, live.programme.is_open,
            JoinCode.objects.filter(programme=live.programme).count(),
            JoinCode.objects.filter(revoked_at__isnull=False).count(),
            list(Enrolment.objects.values_list("active", flat=True)),
            sorted(Member.objects.filter(org=brand.org).values_list("user__username", "role")),
            list(ApiKey.objects.filter(org=brand.org).values_list("name", "revoked_at")),
            Organisation.objects.get(pk=brand.org.pk).timezone)


@pytest.mark.parametrize("url, data", POSTS)
def test_a_viewer_gets_403_on_every_post(brand, stage, url, data):
    viewer = member_client(brand.org, "watcher", Member.VIEWER)
    before = snapshot(brand, stage["live"])
    response = viewer.post(url.format(**stage), data)
    assert response.status_code == 403
    assert "Your role does not allow this" in response.content.decode()
    assert snapshot(brand, stage["live"]) == before


@pytest.mark.parametrize("url, data", [p for p in POSTS if p[0].startswith("/settings/")])
def test_an_operator_cannot_change_settings(brand, stage, url, data):
    operator = member_client(brand.org, "ops", Member.OPERATOR)
    assert operator.post(url.format(**stage), data).status_code == 403


def test_a_viewer_sees_no_buttons_and_cannot_export(brand, stage):
    viewer = member_client(brand.org, "watcher", Member.VIEWER)
    L = stage["L"]
    for url in ("/", "/calendar/", f"/lives/{L}/", f"/lives/{L}/programme/", "/settings/"):
        html = html_of(viewer.get(url))
        for words in ("New live", "Cancel the live", "Close recruiting", "Create codes", "Disable",
                      "Add member", "Create key", "Download CSV"):
            assert words not in html, (url, words)
    assert viewer.get(f"/lives/{L}/cancel/").status_code == 403
    assert viewer.get("/lives/new/").status_code == 403
    assert viewer.get(f"/lives/{L}/promoters.csv").status_code == 403
    assert viewer.get(f"/lives/{L}/promoters.xlsx").status_code == 403


def test_an_operator_manages_lives(brand, stage):
    operator = member_client(brand.org, "ops", Member.OPERATOR)
    assert operator.post(f"/lives/{stage['L']}/programme/recruiting/", {"open": "0"}).status_code == 302
    assert operator.get(f"/lives/{stage['L']}/promoters.xlsx").status_code == 200
    assert "API keys" not in html_of(operator.get("/settings/"))


@pytest.mark.parametrize("url, method", [
    ("/lives/{L}/programme/", "get"), ("/lives/{L}/promoters.xlsx", "get"), ("/lives/{L}/cancel/", "get"),
    ("/lives/{L}/edit/", "get"), ("/lives/{L}/cancel/", "post"), ("/lives/{L}/programme/recruiting/", "post"),
    ("/lives/{L}/programme/codes/", "post"), ("/lives/{L}/programme/codes/{code}/revoke/", "post"),
    ("/lives/{L}/programme/promoters/A/active/", "post"),
    ("/settings/members/{member}/role/", "post"), ("/settings/members/{member}/remove/", "post"),
    ("/settings/keys/{key}/revoke/", "post"),
])
def test_another_organisations_objects_are_not_found(owner, outsider, url, method):
    live = outsider.live(promoters=["A"])
    code = JoinCode.objects.create(org=outsider.org, programme=live.programme, single_use=True)
    member = add_member(outsider.org, "theirs", Member.OWNER)
    key = ApiKey.objects.get(org=outsider.org)
    target = url.format(L=live.public_id, code=code.pk, member=member.pk, key=key.pk)
    response = getattr(owner, method)(target, {"open": "0", "count": "1", "active": "0", "role": "viewer"})
    assert response.status_code == 404
    live.programme.refresh_from_db()
    assert live.state == "scheduled" and live.programme.is_open
    assert Member.objects.filter(pk=member.pk, role="owner").exists()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_script_in_titles_and_teams_is_text_everywhere(en, brand):
    Account.objects.filter(pk=brand.account.pk).update(name="<script>alert('acct')</script>")
    live = brand.live(title="<script>alert('title')</script>")
    enrol(live.programme, [NewPromoter(name="<script>alert('name')</script>", code="X1",
                                       team="<script>alert('team')</script>")])
    L = live.public_id
    for url in ("/", "/calendar/?month=2026-11", f"/lives/{L}/", f"/lives/{L}/programme/",
                f"/lives/{L}/cancel/", f"/lives/{L}/edit/"):
        html = html_of(en.get(url))
        assert "<script>alert(" not in html, url
        assert "&lt;script&gt;alert(" in html, url


def test_operator_pages_speak_chinese_by_default(owner, brand):
    # Reads the merged catalogue (liveloop/locale/pending/operator.po → django.po).
    form = html_of(owner.get("/lives/new/"))
    assert "首次触达" in form and "最后触达" in form and "推广员人数上限" in form
    live = brand.live()
    assert "招募二维码" in html_of(owner.get(f"/lives/{live.public_id}/programme/"))
    settings_page = html_of(owner.get("/settings/"))
    assert "所有者" in settings_page and "只读成员" in settings_page and "成员与角色" in settings_page
