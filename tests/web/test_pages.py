"""Operator pages: sign-in, the lives list, a live's figures and promoters, CSV, language."""
import ast
import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import translation

from liveloop.analytics.exports import PROMOTER_COLUMNS
from liveloop.analytics.queries import promoter_rows
from liveloop.api.lives import PromoterRow
from liveloop.lives.models import Account, Live
from liveloop.actions.lives import cancel_live, end_live, start_live
from liveloop.orgs.models import Member, Organisation
from liveloop.orgs.services import add_member, create_org, orgs_of
from liveloop.actions.promoters import NewPromoter, enrol
from liveloop.web.templatetags.figures import yuan
from tests.actors import EVENING, event

UNATTRIBUTED = "自然流量（未归因）"
ORGANIC = UNATTRIBUTED  # one label for the organic row everywhere (issue 19), shown apart from the promoters


def organic_cells(html):
    """The live page's organic row (its own <tbody>, before the promoters'), as cell texts."""
    body = html.split('<tbody class="organic">', 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", body, re.S)]


def page(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def body_rows(html):
    """The promoter table's (or else the first table's) body rows, as lists of cell texts."""
    if '<table class="data promoters">' in html:
        html = html.split('<table class="data promoters">', 1)[1]
    tbody = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", tbody, re.S)]


# Sign-in

def test_login_page_renders(client, db):
    html = page(client, "/login/")
    assert 'name="username"' in html and 'name="password"' in html
    assert "csrfmiddlewaretoken" in html
    assert "登录" in html


def test_sign_in_lands_on_the_lives_list(client, brand):
    add_member(brand.org, "ops", Member.OPERATOR, password="s3cret-enough")
    response = client.post("/login/", {"username": "ops", "password": "s3cret-enough"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "直播" in page(client, "/")


def test_wrong_password_is_refused(client, brand):
    add_member(brand.org, "ops", Member.OPERATOR, password="s3cret-enough")
    response = client.post("/login/", {"username": "ops", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


@pytest.mark.parametrize("url", ["/", "/lives/Lanything/", "/lives/Lanything/promoters.csv"])
def test_anonymous_is_sent_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_logout_is_a_post(owner):
    assert owner.get("/logout/").status_code == 405
    response = owner.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert owner.get("/").status_code == 302


def test_a_user_without_organisation_is_told_so(client, db):
    client.force_login(get_user_model().objects.create_user("drifter"))
    response = client.get("/")
    assert response.status_code == 403
    assert "还没有加入任何组织" in response.content.decode()


# Lives list

def test_lives_list_shows_own_lives_only(owner, brand, outsider):
    live = brand.live(title="山茶集双十二预热", promoters=["A", "B"])
    outsider.live(title="别家的秘密直播")
    brand.send([event("r1", "reservation", live.public_id, "V1", promoter="A"),
                event("r2", "reservation", live.public_id, "V2")])
    html = page(owner, "/")
    assert "山茶集双十二预热" in html and "别家的秘密直播" not in html
    assert f"/lives/{live.public_id}/" in html
    assert "2026-11-20 20:00" in html  # 12:00 UTC shown in Asia/Shanghai
    assert "预告中" in html
    cells = body_rows(html)[0]
    assert cells[-2:] == ["2", "2"]  # promoters enrolled, reservations held


def test_lives_list_puts_upcoming_first_then_recent(owner, brand):
    old = brand.live(title="上周直播", announced_at=EVENING - timedelta(days=7))
    start_live(old, at=EVENING - timedelta(days=7))
    end_live(old, at=EVENING - timedelta(days=7, hours=-2))
    dropped = brand.live(title="取消的直播", announced_at=EVENING - timedelta(days=1))
    cancel_live(dropped)
    later = brand.live(title="下周直播", announced_at=EVENING + timedelta(days=14))
    soon = brand.live(title="明天直播", announced_at=EVENING + timedelta(days=7))
    on_air = brand.live(title="正在直播", announced_at=EVENING + timedelta(days=20))
    start_live(on_air, at=EVENING)
    html = page(owner, "/")
    order = [html.index(live.title) for live in (on_air, soon, later, dropped, old)]
    assert order == sorted(order)
    assert "直播中" in html and "已结束" in html and "已取消" in html


def test_the_session_chooses_among_several_organisations(owner, brand, outsider):
    add_member(outsider.org, "owner", Member.VIEWER)
    brand.live(title="山茶集的直播")
    outsider.live(title="别家的直播")
    assert owner.post("/org/", {"org": outsider.org.pk}).status_code == 302
    html = page(owner, "/")
    assert "别家的直播" in html and "山茶集的直播" not in html
    # Once no longer a member, the stale choice falls back to an organisation still open.
    Member.objects.filter(org=outsider.org).delete()
    html = page(owner, "/")
    assert "山茶集的直播" in html and "别家的直播" not in html


def _member(org, username, role):
    add_member(org, username, role, password="another-long-pass")
    client = Client()
    client.force_login(Member.objects.get(org=org, user__username=username).user)
    return client


def test_an_agency_member_switches_between_client_brands(db, brand):
    agency, _ = create_org("星河服务商", kind=Organisation.AGENCY)
    client_a, _ = create_org("客户甲", agency=agency)
    client_b, _ = create_org("客户乙", agency=agency)
    Account.objects.create(org=client_b, name="乙的号")
    staff = _member(agency, "agent", Member.OPERATOR)
    html = page(staff, "/")
    switcher = html.split('id="org-select"', 1)[1].split("</select>", 1)[0]
    for org in (agency, client_a, client_b):
        assert f'value="{org.pk}"' in switcher
    assert f'value="{brand.org.pk}"' not in switcher
    staff.post("/org/", {"org": client_b.pk})
    assert staff.post("/lives/new/", {"account": Account.objects.get(org=client_b).pk, "title": "乙的直播",
                                      "announced_at": "2027-12-01T20:00", "cap": "1000", "mode": "first_touch",
                                      "binding_days": "30"}).status_code == 302
    assert Live.objects.get(title="乙的直播").org == client_b
    # A brand's own member sees only that brand: no switcher at all.
    own = _member(client_a, "brand-only", Member.OWNER)
    html = page(own, "/")
    assert 'id="org-select"' not in html and "客户乙" not in html
    assert own.post("/org/", {"org": client_b.pk}).status_code == 302
    assert "客户甲" in page(own, "/") and "客户乙" not in page(own, "/")


def test_a_role_held_in_the_brand_itself_wins_over_the_agencys(db):
    """orgs_of reads each organisation's role in the same statement: own membership first, else
    the agency's role in its client brands."""
    agency, _ = create_org("星河服务商", kind=Organisation.AGENCY)
    client_a, _ = create_org("客户甲", agency=agency)
    client_b, _ = create_org("客户乙", agency=agency)
    staff = _member(agency, "agent", Member.VIEWER)
    add_member(client_a, "agent", Member.OWNER)
    roles = {org.pk: org.member_role for org in orgs_of(Member.objects.get(org=agency).user)}
    assert roles == {agency.pk: Member.VIEWER, client_a.pk: Member.OWNER, client_b.pk: Member.VIEWER}
    new_live = {"account": "", "title": "x", "announced_at": "2027-12-01T20:00", "cap": "1000",
                "mode": "first_touch", "binding_days": "30"}
    staff.post("/org/", {"org": client_b.pk})
    assert staff.post("/lives/new/", new_live).status_code == 403
    staff.post("/org/", {"org": client_a.pk})
    assert staff.post("/lives/new/", new_live).status_code != 403


def test_orgs_of_reads_whole_organisations_by_name_and_none_of_anothers(db):
    """orgs_of is written out in SQL (the room polls every two seconds): its organisations are
    the ORM's, field for field (times aware, booleans as booleans), in name order, and hold
    nobody else's organisation."""
    agency, _ = create_org("星河服务商", kind=Organisation.AGENCY)
    client_b, _ = create_org("乙客户", agency=agency)
    client_a, _ = create_org("甲客户", agency=agency)
    stranger, _ = create_org("别家")
    Organisation.objects.filter(pk=client_a.pk).update(withhold_tax=True, payout_ceiling=123_456)
    add_member(stranger, "someone-else", Member.OWNER)
    user = add_member(agency, "agent", Member.OPERATOR).user
    found = orgs_of(user)
    expected = list(Organisation.objects.filter(pk__in=[agency.pk, client_a.pk, client_b.pk]).order_by("name"))
    assert [org.pk for org in found] == [org.pk for org in expected]
    fields = [field.attname for field in Organisation._meta.concrete_fields]
    assert ([[getattr(org, name) for name in fields] for org in found]
            == [[getattr(org, name) for name in fields] for org in expected])
    assert all(org.created_at.tzinfo is not None for org in found)
    assert {org.member_role for org in found} == {Member.OPERATOR}
    assert orgs_of(add_member(stranger, "owner-only", Member.VIEWER).user) == [stranger]
    assert orgs_of(AnonymousUser()) == []


def test_switching_to_a_foreign_organisation_is_ignored(owner, brand, outsider):
    brand.live(title="山茶集的直播")
    outsider.live(title="别家的直播")
    owner.post("/org/", {"org": outsider.org.pk})
    owner.post("/org/", {"org": "not-a-number"})
    html = page(owner, "/")
    assert "山茶集的直播" in html and "别家的直播" not in html


# A live

def test_live_page_shows_the_figures(owner, brand):
    live = brand.live(promoters=["A", "B"])
    L = live.public_id
    answer = brand.send([
        event("e1", "reservation", L, "V1", promoter="A"),
        event("e2", "reservation", L, "V2"),
        event("e3", "room_enter", L, "V1"),
        event("e4", "order_paid", L, "V1", order="O1", amount=12900),
        event("e5", "order_paid", L, "V3", order="O2", amount=123456789),
        event("e6", "order_refund", L, "V1", order="O1", amount=4900),
        event("e7", "online", L, "acct", count=4321),
    ]).json()
    assert answer["accepted"] == 7
    html = page(owner, f"/lives/{L}/")
    assert live.title in html and brand.account.name in html
    assert "2026-11-20 20:00" in html
    for text in ("¥129.00", "¥49.00", "¥80.00", "¥1,234,567.89", "¥1,234,696.89", "¥1,234,647.89", "4,321"):
        assert text in html, text
    rows = {cells[0]: cells for cells in body_rows(html)}
    assert rows["A"][:3] == ["A", "推广员A", ""]
    assert rows["A"][3:10] == ["1", "1", "1", "1", "¥129.00", "¥49.00", "¥80.00"]
    organic = organic_cells(html)
    assert organic[0].startswith(ORGANIC) and UNATTRIBUTED not in rows
    assert organic[1:7] == ["1", "0", "1", "1", "¥1,234,567.89", "¥0.00"]
    assert "已失效" not in html


def test_live_page_flags_lapsed_reservations(owner, brand):
    live = brand.live()
    start_live(live, at=EVENING + timedelta(hours=2))
    html = page(owner, f"/lives/{live.public_id}/")
    assert "已失效" in html and "直播中" in html


@pytest.fixture
def ranked(brand):
    """A live whose promoters P1…P3 hold 1, 3 and 2 reservations, in two teams."""
    live = brand.live()
    enrol(live.programme, [NewPromoter(name="一号", code="P1", team="杭州门店"),
                           NewPromoter(name="二号", code="P2", team="杭州门店"),
                           NewPromoter(name="三号", code="P3", team="上海门店")])
    held = {"P1": 1, "P2": 3, "P3": 2}
    brand.send([event(f"{code}-{n}", "reservation", live.public_id, f"{code}-V{n}", promoter=code)
                for code, count in held.items() for n in range(count)])
    return live


def codes(html):
    return [cells[0] for cells in body_rows(html) if cells[0] != UNATTRIBUTED]


def test_sort_by_any_column_both_ways(owner, ranked):
    url = f"/lives/{ranked.public_id}/"
    assert codes(page(owner, url)) == ["P2", "P3", "P1"]  # default: most reservations first
    assert codes(page(owner, url, sort="reservations")) == ["P1", "P3", "P2"]
    assert codes(page(owner, url, sort="-code")) == ["P3", "P2", "P1"]
    # Teams and names by pinyin: 杭州 hangzhou < 上海 shanghai, then code; 二 er < 三 san < 一 yi.
    assert codes(page(owner, url, sort="team")) == ["P1", "P2", "P3"]
    assert codes(page(owner, url, sort="name")) == ["P2", "P3", "P1"]
    assert codes(page(owner, url, sort="nonsense")) == ["P2", "P3", "P1"]


def test_clicking_the_sorted_header_toggles_it(owner, ranked):
    html = page(owner, f"/lives/{ranked.public_id}/", sort="-reservations", page="1")
    links = dict(re.findall(r'href="\?sort=([-\w]+)">([^<▲▼]+)', html))
    assert links["reservations"].strip() == "预约"   # sorted descending: a click makes it ascending
    assert links["code"].strip() == "编号"           # text starts A→Z
    assert links["-gmv"].strip() == "成交额"         # figures start biggest first
    assert 'aria-sort="descending"' in html
    html = page(owner, f"/lives/{ranked.public_id}/", sort="reservations")
    assert "?sort=-reservations" in html and 'aria-sort="ascending"' in html


def test_filter_by_team(owner, ranked):
    url = f"/lives/{ranked.public_id}/"
    html = page(owner, url, team="杭州门店")
    assert codes(html) == ["P2", "P1"]
    assert UNATTRIBUTED not in [cells[0] for cells in body_rows(html)] and 'class="organic"' not in html
    assert '<option value="杭州门店" selected>' in html and '<option value="上海门店">' in html
    assert codes(page(owner, url, team="杭州门店", sort="name")) == ["P2", "P1"]  # 二号 er < 一号 yi
    assert "这场直播的该团队还没有推广员" in page(owner, url, team="没有这个门店")


def test_pagination_fifty_a_page(owner, brand):
    live = brand.live()
    enrol(live.programme, [NewPromoter(name=f"推广员{n}", code=f"C{n:03d}") for n in range(1, 61)])
    url = f"/lives/{live.public_id}/"
    first = page(owner, url, sort="code")
    # Fifty promoters a page; the organic row is apart (its own tbody), not one of the fifty.
    assert len(body_rows(first)) == 50 and organic_cells(first)[0].startswith(ORGANIC)
    assert codes(first)[0] == "C001" and codes(first)[-1] == "C050"
    assert "共 2 页" in first and "page=2" in first and "共 60 位推广员" in first
    second = page(owner, url, sort="code", page=2)
    assert codes(second) == [f"C{n:03d}" for n in range(51, 61)]
    assert "sort=code" in re.search(r'href="([^"]*)" rel="prev"', second).group(1)


def test_another_organisations_live_is_not_found(owner, outsider):
    theirs = outsider.live()
    assert owner.get(f"/lives/{theirs.public_id}/").status_code == 404
    assert owner.get(f"/lives/{theirs.public_id}/promoters.csv").status_code == 404
    assert owner.get("/lives/Lnosuchlive/").status_code == 404


def read_csv(response):
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_page_has_the_rows_of_promoter_rows(owner, brand, ranked):
    from django.utils import translation

    from liveloop.analytics.exports import MONEY_COLUMNS, XLSX_HEADERS, yuan_text

    url = f"/lives/{ranked.public_id}/promoters.csv"
    response = owner.get(url, {"sort": "code", "team": "杭州门店"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f"{ranked.public_id}-promoters.csv" in response["Content-Disposition"]
    with translation.override(response["Content-Language"]):
        expected = [{str(XLSX_HEADERS[c]): yuan_text(row[c]) if c in MONEY_COLUMNS
                     else "" if row[c] is None else str(row[c]) for c in PROMOTER_COLUMNS}
                    for row in promoter_rows(ranked, sort="code", team="杭州门店")]
    assert read_csv(response) == expected
    # The page's file is for people; the API keeps its machine format (English keys, fen).
    whole = owner.get(url)
    api = brand.api.get(f"/api/v1/lives/{ranked.public_id}/promoters", {"format": "csv"})
    assert api.content.decode("utf-8").startswith("\ufeffpromoter,name,team,")
    assert whole.content != api.content
    assert len(read_csv(whole)) == 4


def test_exports_are_complete_past_one_page(owner, brand):
    live = brand.live()
    enrol(live.programme, [NewPromoter(name=f"推广员{n}", code=f"C{n:03d}") for n in range(120)])
    sheet = openpyxl.load_workbook(io.BytesIO(owner.get(f"/lives/{live.public_id}/promoters.xlsx").content)).active
    assert sheet.max_row == 1 + 121
    assert len(promoter_rows(live)) == 121


def test_csv_columns_are_the_api_row():
    assert PROMOTER_COLUMNS == tuple(PromoterRow.model_fields)


def test_names_stay_escaped(owner, brand):
    live = brand.live(title="<b>直播</b>")
    enrol(live.programme, [NewPromoter(name="<script>alert(1)</script>", code="X1",
                                       team='"><img src=x>')])
    html = page(owner, f"/lives/{live.public_id}/")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x>" not in html and "<b>直播</b>" not in html
    assert "&lt;b&gt;直播&lt;/b&gt;" in page(owner, "/")


# Formatting

@pytest.mark.parametrize("fen, text", [
    (0, "¥0.00"), (5, "¥0.05"), (99, "¥0.99"), (100, "¥1.00"), (12900, "¥129.00"),
    (-5, "-¥0.05"), (-12900, "-¥129.00"), (1234500, "¥12,345.00"),
    (100000000, "¥1,000,000.00"), (-123456789012, "-¥1,234,567,890.12"),
    (9223372036854775807, "¥92,233,720,368,547,758.07"),
])
def test_yuan(fen, text):
    assert yuan(fen) == text


@pytest.mark.parametrize("bad", [129.0, Decimal("129"), "12900", None])
def test_yuan_refuses_anything_but_integer_fen(bad):
    with pytest.raises(TypeError):
        yuan(bad)


# Language

def test_chinese_by_default_english_after_switch(owner, brand):
    live = brand.live()
    html = page(owner, f"/lives/{live.public_id}/")
    assert 'lang="zh-Hans"' in html and "推广员" in html and "退款" in html and "English" in html
    response = owner.post("/i18n/setlang/", {"language": "en", "next": f"/lives/{live.public_id}/"})
    assert response.status_code == 302 and response["Location"] == f"/lives/{live.public_id}/"
    html = page(owner, f"/lives/{live.public_id}/")
    assert 'lang="en"' in html and "Promoters" in html and "Refunded" in html
    assert "Natural traffic (unattributed)" in html and "Scheduled" in html and "推广员" not in html
    owner.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "推广员" in page(owner, f"/lives/{live.public_id}/")


def test_login_page_switches_language_too(client, db):
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    html = page(client, "/login/")
    assert "Sign in" in html and "Username" in html


PO_LINE = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) (".*")$')


def po_entries(path):
    """The entries of a .po file as dicts keyed msgctxt/msgid/msgid_plural/msgstr/msgstr[n],
    continuation lines joined; the header (empty msgid) left out."""
    entries, current, field = [], {}, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current.get("msgid"):
                assert not current.get("fuzzy"), f"fuzzy entry in the catalogue: {current['msgid']}"
                entries.append(current)
            current, field = {}, None
        elif line.startswith("#,") and "fuzzy" in line:
            current["fuzzy"] = True
        elif match := PO_LINE.match(line):
            field = match.group(1)
            current[field] = ast.literal_eval(match.group(2))  # C string literals read the same in Python
        elif line.startswith('"') and field:
            current[field] += ast.literal_eval(line)
    return entries


def test_every_string_is_translated_and_compiled():
    po = Path(__file__).resolve().parents[2] / "liveloop/locale/zh_Hans/LC_MESSAGES/django.po"
    entries = po_entries(po)
    assert len(entries) > 40
    with translation.override("zh-hans"):
        for entry in entries:
            msgid, context = entry["msgid"], entry.get("msgctxt")
            # gettext reads the compiled .mo: a mismatch means compilemessages was not run.
            if "msgid_plural" in entry:
                assert entry.get("msgstr[0]"), f"untranslated: {msgid}"
                plural = entry["msgid_plural"]
                got = (translation.npgettext(context, msgid, plural, 1) if context
                       else translation.ngettext(msgid, plural, 1))
                assert got == entry["msgstr[0]"], msgid
            else:
                assert entry.get("msgstr"), f"untranslated: {msgid}"
                got = translation.pgettext(context, msgid) if context else translation.gettext(msgid)
                assert got == entry["msgstr"], msgid


def test_an_english_browser_still_gets_chinese_until_the_switch(client, db):
    # Operators' phones may be set to English; Chinese stays the default unless chosen.
    html = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "登录" in html
