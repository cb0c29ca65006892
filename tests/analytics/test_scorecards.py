"""Agency scorecards (analytics.scorecards, web.scorecards): a month of every client brand per
account, subtotals and total equal to the lives' own summaries, cut in the agency's zone; read
by the agency's members only; CSV and XLSX exports carry the same figures."""
import csv
import io
import re
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from liveloop.analytics.models import PromoterStats
from liveloop.analytics.queries import live_summary
from liveloop.analytics.scorecards import ACCOUNT, BRAND, TOTAL, conversion, month_bounds, scorecard
from liveloop.lives.models import Account
from liveloop.actions.lives import create_live, end_live, start_live
from liveloop.orgs.models import Member, Organisation
from liveloop.orgs.services import add_member, create_org
from liveloop.actions.promoters import NewPromoter, enrol

NOVEMBER = date(2026, 11, 1)
UTC = dt_timezone.utc


def at(*args):
    return datetime(*args, tzinfo=UTC)


class Agency:
    """星河服务商 with three client brands: 甲 (two accounts), 乙 (one), 丙 (an account, no lives)."""

    def __init__(self):
        self.org, _ = create_org("星河服务商", kind=Organisation.AGENCY)
        self.a, _ = create_org("客户甲", agency=self.org)
        self.b, _ = create_org("客户乙", agency=self.org)
        self.c, _ = create_org("客户丙", agency=self.org)
        self.a1 = Account.objects.create(org=self.a, name="甲旗舰号")
        self.a2 = Account.objects.create(org=self.a, name="甲门店号")
        self.b1 = Account.objects.create(org=self.b, name="乙官方号")
        self.c1 = Account.objects.create(org=self.c, name="丙官方号")
        self.n = 0

    def live(self, account, announced_at, *, promoters=(), ended=False, **unattributed):
        self.n += 1
        live = create_live(account.org, account=account, title=f"直播{self.n}", announced_at=announced_at)
        if promoters:
            enrol(live.programme, [NewPromoter(name=f"推广员{code}", code=code) for code in promoters])
        stats = PromoterStats.objects.filter(live=live)
        stats.filter(promoter__isnull=True).update(**unattributed)
        for k, row in enumerate(stats.filter(promoter__isnull=False).order_by("pk"), start=1):
            # Distinct figures per promoter, so a sum that drops a row shows.
            PromoterStats.objects.filter(pk=row.pk).update(reservations=10 * k, entered=7 * k, buyers=k,
                                                           gmv=1_990 * k, refunded=100 * (k - 1), captures=k)
        if ended:
            start_live(live, at=announced_at)
            end_live(live, at=announced_at + timedelta(hours=2))
        return live


@pytest.fixture
def agency(db):
    return Agency()


@pytest.fixture
def november(agency, outsider):
    """甲: three November lives over two accounts (edges of the month in Shanghai) and one in
    October and one in December; 乙: one November live, one October; 丙: none."""
    g = agency
    lives = {
        # 2026-11-01 00:30 in Shanghai (still 31 October in UTC).
        "a1_first": g.live(g.a1, at(2026, 10, 31, 16, 30), promoters=("P1", "P2"), ended=True,
                           reservations=50, entered=120, buyers=9, gmv=88_800, refunded=1_000, captures=4),
        # 2026-11-30 23:59 in Shanghai.
        "a1_last": g.live(g.a1, at(2026, 11, 30, 15, 59), reservations=30, entered=40, buyers=3, gmv=15_000),
        "a2": g.live(g.a2, at(2026, 11, 12, 12), promoters=("Q1",), ended=True,
                     reservations=5, entered=9, buyers=1, gmv=2_500, captures=1),
        "b1": g.live(g.b1, at(2026, 11, 20, 12), reservations=70, entered=0, buyers=0),
        # 2026-10-31 23:59 and 2026-12-01 00:00 in Shanghai: outside November.
        "a1_october": g.live(g.a1, at(2026, 10, 31, 15, 59), reservations=999, entered=999, buyers=99, gmv=9_999),
        "a1_december": g.live(g.a1, at(2026, 11, 30, 16, 0), reservations=777, entered=77, buyers=7, gmv=7_777),
        "b1_october": g.live(g.b1, at(2026, 10, 10, 12), ended=True, reservations=11, entered=22, buyers=2, gmv=3_300),
    }
    # Another organisation's live in the same month is nobody's business here.
    foreign = outsider.live(title="别家的直播", announced_at=at(2026, 11, 20, 12))
    PromoterStats.objects.filter(live=foreign).update(reservations=12_345, entered=500, gmv=1_000_000)
    return lives


def summed(lives):
    sums = {}
    for live in lives:
        for name, value in live_summary(live).items():
            if name in ("reservations", "entered", "buyers", "gmv", "net", "captures"):
                sums[name] = sums.get(name, 0) + value
    return sums


def figures(row):
    return {name: row[name] for name in ("reservations", "entered", "buyers", "gmv", "net", "captures")}


def by_key(rows):
    return {(row["level"], row["brand"] and row["brand"].name, row["account"] and row["account"].name): row
            for row in rows}


def test_figures_per_account_brand_and_total_are_the_sums_of_the_lives_summaries(agency, november):
    rows = scorecard(agency.org, NOVEMBER)
    # By name in code point order (丙 < 乙 < 甲), the same on every database's collation.
    assert [(r["level"], r["brand"] and r["brand"].name, r["account"] and r["account"].name) for r in rows] == [
        (ACCOUNT, "客户丙", "丙官方号"), (BRAND, "客户丙", None),
        (ACCOUNT, "客户乙", "乙官方号"), (BRAND, "客户乙", None),
        (ACCOUNT, "客户甲", "甲旗舰号"), (ACCOUNT, "客户甲", "甲门店号"), (BRAND, "客户甲", None),
        (TOTAL, None, None),
    ]
    rows = by_key(rows)
    lv = november
    expected = {
        (ACCOUNT, "客户甲", "甲旗舰号"): [lv["a1_first"], lv["a1_last"]],
        (ACCOUNT, "客户甲", "甲门店号"): [lv["a2"]],
        (BRAND, "客户甲", None): [lv["a1_first"], lv["a1_last"], lv["a2"]],
        (ACCOUNT, "客户乙", "乙官方号"): [lv["b1"]],
        (BRAND, "客户乙", None): [lv["b1"]],
        (TOTAL, None, None): [lv["a1_first"], lv["a1_last"], lv["a2"], lv["b1"]],
    }
    for key, lives in expected.items():
        assert figures(rows[key]) == summed(lives), key
        assert rows[key]["lives"] == len(lives), key
    ended = ((ACCOUNT, "客户甲", "甲旗舰号"), (BRAND, "客户甲", None), (TOTAL, None, None))
    assert [rows[key]["ended"] for key in ended] == [1, 2, 2]
    # The brand without lives is listed, with zeros and no conversion.
    for key in ((ACCOUNT, "客户丙", "丙官方号"), (BRAND, "客户丙", None)):
        assert rows[key]["lives"] == rows[key]["reservations"] == rows[key]["gmv"] == 0
        assert rows[key]["conversion"] is None
    # 乙's only live had nobody enter: "—", not 0% nor a division error.
    assert rows[(BRAND, "客户乙", None)]["conversion"] is None
    total = rows[(TOTAL, None, None)]
    assert total["conversion"] == conversion(total["buyers"], total["entered"])
    assert total["reservations"] < 12_345  # the outsider's live is not counted


def test_conversion_is_exact_pooled_and_rounded_half_up():
    assert conversion(1, 3) == Decimal("33.33")
    assert conversion(2, 3) == Decimal("66.67")
    assert conversion(1, 800) == Decimal("0.13")  # 0.125 rounds up, as no float would promise
    assert conversion(5, 0) is None
    assert conversion(0, 7) == Decimal("0.00")


def test_month_boundaries_are_cut_in_the_agencys_zone(agency, november):
    start, end = month_bounds(NOVEMBER, "Asia/Shanghai")
    assert (start, end) == (at(2026, 10, 31, 16), at(2026, 11, 30, 16))
    assert month_bounds(date(2026, 12, 5), "UTC") == (at(2026, 12, 1), at(2027, 1, 1))
    def a1(month):
        row = by_key(scorecard(agency.org, month))[(ACCOUNT, "客户甲", "甲旗舰号")]
        return row["lives"], row["reservations"]

    # Shanghai: November holds the 00:30 live (50 + 10 + 20) and the 23:59 one (30).
    assert a1(NOVEMBER) == (2, 110)
    assert a1(date(2026, 10, 1)) == (1, 999)
    assert a1(date(2026, 12, 1)) == (1, 777)
    # In UTC the 00:30 live falls on 31 October and the 23:59/00:00 pair both in November.
    agency.org.timezone = "UTC"
    agency.org.save()
    assert a1(NOVEMBER) == (2, 30 + 777)
    assert a1(date(2026, 10, 1)) == (2, 80 + 999)
    assert a1(date(2026, 12, 1)) == (0, 0)


def test_one_aggregate_query_however_many_brands(agency, november, django_assert_max_num_queries):
    for n in range(5):
        brand, _ = create_org(f"客户{n}号", agency=agency.org)
        account = Account.objects.create(org=brand, name="官方号")
        agency.live(account, at(2026, 11, 15, 12), reservations=n)
    # The brands, their accounts, the figures: three queries, not one per brand.
    with django_assert_max_num_queries(3):
        rows = scorecard(agency.org, NOVEMBER)
    assert by_key(rows)[(TOTAL, None, None)]["lives"] == 4 + 5


# The page

def client_of(org, username, role):
    add_member(org, username, role)
    client = Client()
    client.force_login(Member.objects.get(org=org, user__username=username).user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def text(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:300])
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


URL = reverse("web:scorecards")


def test_the_agencys_viewer_reads_the_month(agency, november):
    viewer = client_of(agency.org, "agency-viewer", Member.VIEWER)
    page = text(viewer.get(URL + "?month=2026-11"))
    # 甲旗舰号: 50 + 10 + 20 + 30 reservations; GMV 88,800 + 1,990 + 3,980 + 15,000 fen, refunds
    # 1,000 + 0 + 100.
    assert "客户甲 甲旗舰号 2 1 110 " in page
    assert "¥1,097.70 ¥1,086.70" in page
    assert "客户丙 丙官方号 0 0 0 0 0 ¥0.00 ¥0.00 — 0" in page
    assert "Total 4 2" in page
    assert "Download CSV" not in page  # a viewer may read, not export
    assert viewer.get(reverse("web:scorecards_csv") + "?month=2026-11").status_code == 403


def test_the_default_month_is_the_last_full_one_in_the_agencys_zone(agency, november, monkeypatch):
    # 1 December 00:30 in Shanghai is still 30 November in UTC: the last full month is November.
    monkeypatch.setattr(timezone, "now", lambda: at(2026, 11, 30, 16, 30))
    response = client_of(agency.org, "agent", Member.OPERATOR).get(URL)
    assert 'name="month" value="2026-11"' in response.content.decode()
    assert "Total 4 2" in text(response)


def test_a_client_brands_owner_gets_404(agency, november):
    own = client_of(agency.a, "brand-owner", Member.OWNER)
    assert own.get(URL).status_code == 404
    assert own.get(reverse("web:scorecards_csv")).status_code == 404
    assert own.get(reverse("web:scorecards_xlsx")).status_code == 404
    assert "Scorecards" not in text(own.get("/"))


def test_an_outsider_gets_404(agency, november, outsider):
    assert client_of(outsider.org, "someone-else", Member.OWNER).get(URL).status_code == 404
    # Another agency's member sees their own (empty) agency, never this one's brands.
    other, _ = create_org("别家服务商", kind=Organisation.AGENCY)
    page = text(client_of(other, "other-agent", Member.OWNER).get(URL + "?month=2026-11"))
    assert "客户甲" not in page and "Total 0 0" in page
    anonymous = Client().get(URL)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_from_a_client_brand_the_page_is_still_the_agencys(agency, november):
    agent = client_of(agency.org, "agent", Member.OPERATOR)
    assert "Scorecards" in text(agent.get("/"))  # the header's link
    agent.post("/org/", {"org": agency.b.pk})
    page = text(agent.get(URL + "?month=2026-11"))
    assert "星河服务商" in page and "客户甲 甲门店号 1 1" in page


def test_exports_carry_the_pages_figures(agency, november):
    finance = client_of(agency.org, "agency-finance", Member.FINANCE)
    rows = scorecard(agency.org, NOVEMBER)
    response = finance.get(reverse("web:scorecards_csv") + "?month=2026-11")
    assert response.status_code == 200
    assert 'filename="' + agency.org.slug + '-scorecard-2026-11.csv"' in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    # For people: the page's language (this client reads English), subtotals labelled, money in yuan.
    assert lines[0][:3] == ["Brand", "Account", "Lives"]
    assert len(lines) == 1 + len(rows)
    labels = {"brand": "Subtotal", "total": "Total"}
    for line, row in zip(lines[1:], rows):
        brand, account, lives, ended, reservations, entered, buyers, gmv, net, conversion, captures = line
        assert brand == (row["brand"].name if row["brand"] else "")
        assert account == labels.get(row["level"], row["account"].name if row["account"] else "")
        assert [int(v) for v in (lives, ended, reservations, entered, buyers, captures)] == \
            [row[n] for n in ("lives", "ended", "reservations", "entered", "buyers", "captures")]
        assert (gmv, net) == (f"{row['gmv'] // 100}.{row['gmv'] % 100:02d}", f"{row['net'] // 100}.{row['net'] % 100:02d}")
        assert conversion == ("" if row["conversion"] is None else f"{row['conversion']}%")

    response = finance.get(reverse("web:scorecards_xlsx") + "?month=2026-11")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][:3] == ("Brand", "Account", "Lives")
    assert len(cells) == 1 + len(rows)
    for values, row in zip(cells[1:], rows):
        assert values[2:7] == (row["lives"], row["ended"], row["reservations"], row["entered"], row["buyers"])
        assert Decimal(str(values[7])) * 100 == row["gmv"] and Decimal(str(values[8])) * 100 == row["net"]
        assert values[9] is None if row["conversion"] is None else Decimal(str(values[9])) * 100 == row["conversion"]
        assert values[10] == row["captures"]
    assert cells[-1][1] == "Total"
