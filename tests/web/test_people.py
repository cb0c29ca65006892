"""Issue 19, item 7: promoters as people — the directory across lives (search by name, pinyin,
code, store, phone and its last four digits; paging), the promoter's page (their lives with the
live pages' figures, commission from the ledger and statements, the actions, audited), and
tenancy (another organisation's promoter is a 404, never a row)."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from liveloop.analytics.queries import promoter_table
from liveloop.at_rest import reseal_rows
from liveloop.actions.lives import end_live, start_live
from liveloop.money import payouts
from liveloop.money.ledger import balances
from liveloop.money.models import Entry, Statement
from liveloop.money.plans import save_plan
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import AuditEntry, Member
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment, Promoter
from liveloop.actions.promoters import NewPromoter, enrol
from liveloop.web import queries
from liveloop.web.tables import DIRECTORY_COLUMNS, TEXT
from tests.actors import EVENING, event
from tests.actors import html_of, member_client, rows_of, text

PHONE = "13812345678"


@pytest.fixture
def people(brand):
    """Two lives. 张三 (P1, 一号店, phone …5678) joined both, 李四 (P2, 二号店) the first, 王五
    (P3, no store, no phone) the second; credited reservations, entries and orders in both."""
    first = brand.live(title="周一直播")
    second = brand.live(title="周三直播", announced_at=EVENING + timedelta(days=2))
    enrol(first.programme, [NewPromoter(name="张三", code="P1", phone=PHONE, team="一号店"),
                            NewPromoter(name="李四", code="P2", phone="13900001111", team="二号店")])
    enrol(second.programme, [NewPromoter(name="张三", code="P1"), NewPromoter(name="王五", code="P3")])
    one, three = first.public_id, second.public_id
    at2 = EVENING + timedelta(days=2, minutes=1)
    answer = brand.send([
        event("a1", "reservation", one, "V1", promoter="P1"),
        event("a2", "reservation", one, "V2", promoter="P1"),
        event("a3", "reservation", one, "V3", promoter="P2"),
        event("a4", "room_enter", one, "V1"),
        event("a5", "order_paid", one, "V1", order="O1", amount=12900),
        event("b1", "reservation", three, "V4", promoter="P1", at=at2),
        event("b2", "room_enter", three, "V4", at=at2),
        event("b3", "order_paid", three, "V4", order="O2", amount=5000, at=at2),
        event("b4", "reservation", three, "V5", promoter="P3", at=at2),
    ]).json()
    assert answer["accepted"] == 9, answer
    return first, second


def directory_codes(html):
    body = re.search(r'<table class="data directory">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return re.findall(r'href="/promoters/(\w+)/"', body)


def codes_for(org, search):
    return [p.code for p in queries.promoter_directory(org, search)]


# The directory

def test_one_row_per_person_with_figures_summed_over_their_lives(people, brand, en):
    first, second = people
    html = html_of(en.get("/promoters/"))
    assert directory_codes(html) == ["P2", "P3", "P1"]  # 李四 li, 王五 wang, 张三 zhang: pinyin order
    rows = {row[1]: row for row in rows_of(html, "directory")}
    # Name, code, phone (masked), store, lives, reservations, entered, orders, GMV, settled, paid.
    assert rows["P1"] == ["张三", "P1", "138****5678", "一号店", "2", "3", "2", "2", "¥179.00", "¥0.00", "¥0.00"]
    assert rows["P3"][2:6] == ["", "", "1", "1"]
    # The same sums as the two live pages' rows for the person.
    live_rows = [row for live in people for row in promoter_table(live) if row["promoter"] == "P1"]
    assert len(live_rows) == 2
    for index, key in ((5, "reservations"), (6, "entered"), (7, "orders")):
        assert int(rows["P1"][index]) == sum(row[key] for row in live_rows)
    assert sum(row["gmv"] for row in live_rows) == 17900
    assert "13812345678" not in html and "3 promoters" in text(html)


@pytest.mark.parametrize("search,codes", [
    ("张三", ["P1"]), ("李", ["P2"]),                 # the name
    ("zhangsan", ["P1"]), ("Zhang San", ["P1"]), ("wang", ["P3"]),  # its pinyin
    ("P2", ["P2"]), ("p3", ["P3"]),                   # the code, any case
    ("一号", ["P1"]), ("二号店", ["P2"]),               # the store
    ("13812345678", ["P1"]), ("+86 138-1234-5678", ["P1"]),  # the whole phone
    ("5678", ["P1"]), ("…5678", ["P1"]), ("尾号1111", ["P2"]), ("***1111", ["P2"]),  # its last four
    ("5679", []), ("1234", []), ("12345678", []), ("赵", []),
])
def test_search_by_each_key(people, brand, search, codes):
    assert codes_for(brand.org, search) == codes


def test_the_search_on_the_page(people, en):
    assert directory_codes(html_of(en.get("/promoters/", {"q": "5678"}))) == ["P1"]
    assert directory_codes(html_of(en.get("/promoters/", {"q": "zhang"}))) == ["P1"]
    html = html_of(en.get("/promoters/", {"q": "nobody"}))
    assert directory_codes(html) == [] and "No promoter matches the search." in html


def test_the_last_four_are_found_by_a_keyed_hash_not_stored_in_clear(people, brand):
    promoter = Promoter.objects.get(org=brand.org, code="P1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_hash, phone_tail_hash FROM promoters_promoter WHERE id = %s",
                       [promoter.pk])
        stored = cursor.fetchone()
    assert "5678" not in "".join(stored) and len(stored[2]) == 64 and stored[2] != stored[1]
    # The same last four in another organisation hash apart: a dump links nobody across tenants.
    other = Promoter.objects.create(org=brand_two(brand), code="P1", name="别人", phone="13700005678")
    assert other.phone_tail_hash != promoter.phone_tail_hash
    # Kept on a phone change (update_fields included), rebuilt by the migration's helper.
    promoter.phone = "13811112222"
    promoter.save(update_fields=["phone"])
    assert codes_for(brand.org, "2222") == ["P1"] and codes_for(brand.org, "5678") == []
    Promoter.objects.filter(pk=promoter.pk).update(phone_tail_hash="")
    assert codes_for(brand.org, "2222") == []
    reseal_rows(Promoter, ["phone"])
    assert codes_for(brand.org, "2222") == ["P1"]


def brand_two(brand):
    from liveloop.orgs.services import create_org
    return create_org("另一个品牌")[0]


def test_paging_with_a_page_jump_and_size(brand, en):
    live = brand.live(cap=1000)
    enrol(live.programme, [NewPromoter(name=f"推广员{i:03d}", code=f"P{i:03d}") for i in range(120)])
    html = html_of(en.get("/promoters/", {"sort": "code"}))
    assert directory_codes(html) == [f"P{i:03d}" for i in range(50)] and "120 promoters" in text(html)
    html = html_of(en.get("/promoters/", {"sort": "code", "per": "100", "page": "2"}))
    assert directory_codes(html) == [f"P{i:03d}" for i in range(100, 120)]
    jump = re.search(r'class="inline page-jump">(.*?)</form>', html, re.S).group(1)
    assert 'name="sort" value="code"' in jump and 'max="2"' in jump
    # Beyond the last page is the last page; a size not offered is the default.
    assert directory_codes(html_of(en.get("/promoters/", {"sort": "code", "page": "99"})))[0] == "P100"
    assert len(directory_codes(html_of(en.get("/promoters/", {"per": "100000"})))) == 50
    # Searches page too, and keep the search in the links.
    html = html_of(en.get("/promoters/", {"q": "推广员0", "sort": "-code", "page": "2"}))
    assert directory_codes(html) == [f"P{i:03d}" for i in range(49, -1, -1)]
    assert 'name="q" value="推广员0"' in re.search(r'class="inline page-jump">(.*?)</form>', html, re.S).group(1)


def test_sorted_by_a_figure(people, en):
    assert directory_codes(html_of(en.get("/promoters/", {"sort": "-reservations"}))) == ["P1", "P2", "P3"]
    assert directory_codes(html_of(en.get("/promoters/", {"sort": "-lives"}))) == ["P1", "P2", "P3"]
    assert directory_codes(html_of(en.get("/promoters/", {"sort": "gmv"})))[-1] == "P1"
    # Every column sorts, and the order agrees with the figures shown (ties by code).
    for column in DIRECTORY_COLUMNS:
        html = html_of(en.get("/promoters/", {"sort": f"-{column.key}"}))
        if column.kind != TEXT:
            index = [c.key for c in DIRECTORY_COLUMNS].index(column.key) + 1  # the phone is after the code
            shown = [float(row[index].replace("¥", "").replace(",", "")) for row in rows_of(html, "directory")]
            assert shown == sorted(shown, reverse=True), column.key
    # A sort the page does not offer falls back to names.
    assert directory_codes(html_of(en.get("/promoters/", {"sort": "phone"}))) == ["P2", "P3", "P1"]


def test_a_page_costs_the_same_queries_whatever_the_directory_size(brand, en):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    live = brand.live(cap=1000)
    enrol(live.programme, [NewPromoter(name=f"推广员{i:03d}", code=f"P{i:03d}") for i in range(10)])
    with CaptureQueriesContext(connection) as small:
        html_of(en.get("/promoters/"))
    enrol(live.programme, [NewPromoter(name=f"推广员{i:03d}", code=f"P{i:03d}") for i in range(10, 120)])
    with CaptureQueriesContext(connection) as large:
        html_of(en.get("/promoters/"))
    assert len(large.captured_queries) == len(small.captured_queries)


# Tenancy

def test_another_organisations_promoters_are_never_listed_or_opened(people, brand, outsider, en):
    live = outsider.live(title="别家直播")
    enrol(live.programme, [NewPromoter(name="别家推广员", code="Q9", phone="13600005678", team="别家门店")])
    for search in ("", "5678", "别家", "Q9", "13600005678", "biejia"):
        html = html_of(en.get("/promoters/", {"q": search}))
        body = re.search(r'<table class="data directory">(.*?)</table>', html, re.S).group(1)
        assert "别家" not in body and "Q9" not in directory_codes(html)
    assert en.get("/promoters/Q9/").status_code == 404
    assert en.post("/promoters/Q9/link/").status_code == 404
    assert en.post(f"/promoters/Q9/lives/{live.public_id}/active/", {"active": "0"}).status_code == 404
    # My promoter in their live, and their promoter in my live: 404 as well.
    assert en.post(f"/promoters/P1/lives/{live.public_id}/active/", {"active": "0"}).status_code == 404
    assert en.post(f"/promoters/Q9/lives/{people[0].public_id}/active/", {"active": "0"}).status_code == 404
    assert Enrolment.objects.filter(active=False).count() == 0


# The promoter's page

def live_rows(html):
    return {row[0]: row for row in rows_of(html, "promoter-lives")}


def test_the_page_shows_each_live_with_the_live_pages_figures(people, en):
    html = html_of(en.get("/promoters/P1/"))
    rows = live_rows(html)
    assert list(rows) == ["周三直播", "周一直播"]  # latest first
    for live in people:
        table_row, = [row for row in promoter_table(live) if row["promoter"] == "P1"]
        # Announced, state, then reservations, entered, buyers, orders, GMV, net.
        shown = rows[live.title][3:9]
        assert shown == [str(table_row["reservations"]), str(table_row["entered"]), str(table_row["buyers"]),
                         str(table_row["orders"]), f"¥{table_row['gmv'] / 100:,.2f}",
                         f"¥{table_row['net'] / 100:,.2f}"]
    assert "138****5678" in html and "一号店" in html and PHONE not in html


def test_commission_and_statements_from_the_ledger(brand, en):
    """A settled live: the page's balances are the ledger's, its row holds the ledger's sum for
    the live and names the statement; the directory's settled and paid are the statements'."""
    start = datetime.now(timezone.utc) - timedelta(days=30)
    live = brand.live(title="已结算直播", announced_at=start)
    enrol(live.programme, [NewPromoter(name="张三", code="P1", phone=PHONE)])
    save_plan(brand.org, None, name="默认方案", fields={"rate_bps": 1000}, make_default=True)
    start_live(live, start)
    brand.send([event("m1", "order_paid", live.public_id, "V1", order="O1", amount=50000, promoter="P1",
                      at=start + timedelta(minutes=5))])
    end_live(live, start + timedelta(hours=2))
    run = settle_live(brand.org, live)
    statement = run.statements.get()
    promoter = Promoter.objects.get(org=brand.org, code="P1")
    held = sum(Entry.objects.filter(promoter=promoter, live=live).values_list("amount", flat=True))
    assert held == statement.payable == 5000

    html = html_of(en.get("/promoters/P1/"))
    assert live_rows(html)["已结算直播"][9] == "¥50.00"
    assert statement.number in html and "Frozen" in text(html)
    assert balances(brand.org, promoter)["frozen"] == 5000
    figures = re.search(r'<dl class="figures balances">(.*?)</dl>', html, re.S).group(1)
    assert "¥50.00" in figures

    payouts.approve(brand.org, None, Statement.objects.filter(pk=statement.pk))
    row, = rows_of(html_of(en.get("/promoters/")), "directory")
    assert row[-2:] == ["¥50.00", "¥0.00"]
    payouts.mark_paid(brand.org, None, Statement.objects.get(pk=statement.pk), "WX-1")
    row, = rows_of(html_of(en.get("/promoters/")), "directory")
    assert row[-2:] == ["¥0.00", "¥50.00"]


def test_reissue_from_the_page_revokes_every_link_and_is_audited(people, brand, en):
    promoter = Promoter.objects.get(org=brand.org, code="P1")
    enrolment = Enrolment.objects.filter(promoter=promoter).first()
    old = own_page_url(enrolment)
    assert en.get(old).status_code == 200  # the link opens the page
    response = en.post("/promoters/P1/link/")
    assert response.status_code == 302 and response["Location"] == "/promoters/P1/"
    promoter.refresh_from_db()
    assert promoter.link_version == 2
    assert en.get(old).status_code == 404
    entry = AuditEntry.objects.get(org=brand.org, action="promoter.link_reissued")
    assert entry.target == "promoter P1" and entry.actor == "owner"
    # The page now shows the new links, one per live.
    html = html_of(en.get("/promoters/P1/"))
    for e in Enrolment.objects.filter(promoter=promoter):
        assert own_page_url(e) in html
    assert old not in html


def test_disable_and_enable_in_one_live_from_the_page_is_audited(people, brand, en):
    first, second = people
    url = f"/promoters/P1/lives/{first.public_id}/active/"
    assert en.post(url, {"active": "0"})["Location"] == "/promoters/P1/"
    states = dict(Enrolment.objects.filter(promoter__code="P1").values_list("programme__live__title", "active"))
    assert states == {"周一直播": False, "周三直播": True}
    assert "Enable" in live_rows(html_of(en.get("/promoters/P1/")))["周一直播"][-1]
    en.post(url, {"active": "0"})  # already disabled: nothing more to record
    en.post(url, {"active": "1"})
    assert Enrolment.objects.get(promoter__code="P1", programme__live=first).active
    actions = list(AuditEntry.objects.filter(org=brand.org).order_by("pk").values_list("action", "detail"))
    assert actions == [("promoter.disabled", {"live": first.public_id}),
                       ("promoter.enabled", {"live": first.public_id})]


def test_the_programme_page_audits_disabling_too(people, brand, en):
    first, _ = people
    en.post(f"/lives/{first.public_id}/programme/promoters/P2/active/", {"active": "0"})
    assert AuditEntry.objects.get(org=brand.org, action="promoter.disabled").target == "promoter P2"


@pytest.mark.parametrize("role", [Member.VIEWER, Member.FINANCE])
def test_who_cannot_manage_lives_sees_the_page_but_not_the_actions(people, brand, role):
    client = member_client(brand.org, f"m_{role}", role)
    html = html_of(client.get("/promoters/P1/"))
    assert "张三" in html and "Re-issue link" not in html and "Disable" not in html and "/me/" not in html
    assert client.post("/promoters/P1/link/").status_code == 403
    assert client.post(f"/promoters/P1/lives/{people[0].public_id}/active/", {"active": "0"}).status_code == 403
    assert Promoter.objects.get(org=brand.org, code="P1").link_version == 1
    assert not Enrolment.objects.filter(active=False).exists() and not AuditEntry.objects.exists()
    assert directory_codes(html_of(client.get("/promoters/"))) == ["P2", "P3", "P1"]


# Languages

def test_the_pages_in_chinese_use_the_catalogue(people, owner):
    for url in ("/promoters/", "/promoters/P1/", "/promoters/?q=nobody"):
        html = html_of(owner.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans"))
        shown = text(re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html, flags=re.S))
        shown += " ".join(re.findall(r'(?:title|placeholder|aria-label|data-confirm|alt)="([^"]*)"', html))
        # No English words outside the data (codes P1… are data, the header names the product,
        # the zone and the other language; the search box echoes what was typed).
        words = set(re.findall(r"\b[A-Za-z]{3,}\b", shown)) - {"Liveloop", "English", "Asia", "Shanghai", "nobody",
                                                                  "owner"}
        assert not words, (url, words)
    directory = text(html_of(owner.get("/promoters/", HTTP_ACCEPT_LANGUAGE="zh-hans")))
    assert "推广员" in directory and "已结算佣金" in directory and "参与直播" in directory
    page = text(html_of(owner.get("/promoters/P1/", HTTP_ACCEPT_LANGUAGE="zh-hans")))
    assert "重新生成链接" in page and "待结算" in page


def test_the_pages_in_english(people, en):
    directory = text(html_of(en.get("/promoters/")))
    assert "Lives joined" in directory and "Commission settled" in directory
    page = text(html_of(en.get("/promoters/P1/")))
    assert "Lives joined" in page and "Commission" in page and "Re-issue link" in page


# From the other pages

def test_the_live_and_programme_pages_link_to_the_person_and_search_the_last_four(people, en):
    first, _ = people
    html = html_of(en.get(f"/lives/{first.public_id}/", {"q": "5678"}))
    assert [row[0] for row in rows_of(html, "promoters")] == ["P1"]
    assert 'href="/promoters/P1/"' in html
    html = html_of(en.get(f"/lives/{first.public_id}/programme/", {"q": "尾号1111"}))
    assert [row[0] for row in rows_of(html, "enrolments")] == ["P2"] and 'href="/promoters/P2/"' in html
    assert 'href="/promoters/P1/"' in html_of(en.get("/money/promoters/P1/"))
