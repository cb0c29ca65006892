"""Matrix roll-ups: a selection of lives by account, store and region, the page and its exports."""
import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import pytest
from django.test import Client

from liveloop.analytics.matrix import (lives_by_ids, lives_in_week, lives_on_day, matrix, table_rows,
                                       week_of)
from liveloop.analytics.queries import live_summary
from liveloop.lives.models import Account
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from liveloop.promoters.models import Team
from liveloop.actions.promoters import NewPromoter, enrol
from tests.actors import event

FRIDAY_EVENING = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)  # Fri 20:00 Shanghai
FRIDAY_LATE = datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)    # Fri 23:30 Shanghai, 15:30 UTC
SATURDAY_EVENING = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
FRIDAY = date(2026, 11, 20)
FIGURES = ("reservations", "entered", "buyers", "orders", "gmv", "refunded", "net")


def at(live, minutes):
    return live.announced_at + timedelta(minutes=minutes)


@pytest.fixture
def chain(brand):
    """Two accounts, three stores in two regions (and a promoter with no store), three lives
    over two days. 杭州西湖店 works all three lives, 广州天河店 the last two."""
    org = brand.org
    stores_account = Account.objects.create(org=org, name="山茶集 门店号")
    Team.objects.create(org=org, name="杭州西湖店", region="华东")
    Team.objects.create(org=org, name="上海静安店", region="华东")
    Team.objects.create(org=org, name="广州天河店", region="华南")
    first = brand.live(title="周五晚场", announced_at=FRIDAY_EVENING)
    enrol(first.programme, [NewPromoter(name="西湖一", code="H1", team="杭州西湖店"),
                            NewPromoter(name="静安一", code="S1", team="上海静安店"),
                            NewPromoter(name="散客推广", code="N1")])
    late = brand.live(title="周五夜场", announced_at=FRIDAY_LATE)
    late.account = stores_account
    late.save(update_fields=["account"])
    enrol(late.programme, [NewPromoter(name="西湖二", code="H2", team="杭州西湖店"),
                           NewPromoter(name="天河一", code="G1", team="广州天河店")])
    saturday = brand.live(title="周六晚场", announced_at=SATURDAY_EVENING)
    enrol(saturday.programme, [NewPromoter(name="西湖一", code="H1"), NewPromoter(name="天河一", code="G1")])
    A, B, C = first.public_id, late.public_id, saturday.public_id
    answer = brand.send([
        event("a1", "reservation", A, "V1", at(first, 1), promoter="H1"),
        event("a2", "reservation", A, "V2", at(first, 1), promoter="H1"),
        event("a3", "room_enter", A, "V1", at(first, 2)),
        event("a4", "order_paid", A, "V1", at(first, 3), order="A-O1", amount=10000),
        event("a5", "reservation", A, "V3", at(first, 1), promoter="S1"),
        event("a6", "room_enter", A, "V3", at(first, 2)),
        event("a7", "order_paid", A, "V3", at(first, 3), order="A-O2", amount=5000),
        event("a8", "order_refund", A, "V3", at(first, 4), order="A-O2", amount=1000),
        event("a9", "reservation", A, "V4", at(first, 1), promoter="N1"),
        event("a10", "room_enter", A, "V5", at(first, 2)),
        event("a11", "order_paid", A, "V5", at(first, 3), order="A-O3", amount=2000),
        event("b1", "reservation", B, "W1", at(late, 1), promoter="H2"),
        event("b2", "room_enter", B, "W1", at(late, 2)),
        event("b3", "order_paid", B, "W1", at(late, 3), order="B-O1", amount=3000),
        event("b4", "reservation", B, "W2", at(late, 1), promoter="G1"),
        event("b5", "reservation", B, "W3", at(late, 1), promoter="G1"),
        event("b6", "room_enter", B, "W2", at(late, 2)),
        event("c1", "reservation", C, "X1", at(saturday, 1), promoter="H1"),
        event("c2", "room_enter", C, "X1", at(saturday, 2)),
        event("c3", "order_paid", C, "X1", at(saturday, 3), order="C-O1", amount=7000),
        event("c4", "room_enter", C, "X2", at(saturday, 2)),
    ]).json()
    assert answer["accepted"] == 21, answer
    return first, late, saturday


def figures(row):
    return tuple(row[name] for name in FIGURES)


def by_name(rows):
    return {row["name"]: row for row in rows}


def summed(lives):
    summaries = [live_summary(live) for live in lives]
    return tuple(sum(summary[name] for summary in summaries) for name in FIGURES)


def column_sums(rows):
    return tuple(sum(row[name] for row in rows) for name in FIGURES)


# The roll-up

def test_grouping_sums(brand, chain):
    result = matrix(brand.org, list(chain))
    assert result["lives"] == 3
    accounts = by_name(result["accounts"])
    assert (accounts["山茶集 官方号"]["lives"], *figures(accounts["山茶集 官方号"])) == \
        (2, 5, 5, 4, 4, 24000, 1000, 23000)
    assert (accounts["山茶集 门店号"]["lives"], *figures(accounts["山茶集 门店号"])) == \
        (1, 3, 2, 1, 1, 3000, 0, 3000)
    assert accounts["山茶集 官方号"]["conversion"] == Decimal("80.0")

    stores = by_name(result["stores"])
    assert [row["name"] for row in result["stores"][:3]] == ["杭州西湖店", "上海静安店", "广州天河店"]
    assert (stores["杭州西湖店"]["lives"], *figures(stores["杭州西湖店"])) == (3, 4, 3, 3, 3, 20000, 0, 20000)
    assert (stores["上海静安店"]["lives"], *figures(stores["上海静安店"])) == (1, 1, 1, 1, 1, 5000, 1000, 4000)
    assert (stores["广州天河店"]["lives"], *figures(stores["广州天河店"])) == (2, 2, 1, 0, 0, 0, 0, 0)
    assert stores["广州天河店"]["region"] == "华南"
    assert stores["广州天河店"]["conversion"] == Decimal("0.0")
    no_store, unattributed = result["stores"][-2:]
    assert no_store["kind"] == "no_store" and figures(no_store) == (1, 0, 0, 0, 0, 0, 0)
    assert no_store["conversion"] is None  # nobody entered: no rate, not 0%
    assert unattributed["kind"] == "unattributed"
    assert (unattributed["lives"], *figures(unattributed)) == (3, 0, 2, 1, 1, 2000, 0, 2000)

    regions = by_name(result["regions"])
    assert (regions["华东"]["lives"], *figures(regions["华东"])) == (3, 5, 4, 4, 4, 25000, 1000, 24000)
    assert (regions["华南"]["lives"], *figures(regions["华南"])) == (2, 2, 1, 0, 0, 0, 0, 0)
    assert [row["kind"] for row in result["regions"][-2:]] == ["no_region", "unattributed"]

    total = result["total"]
    assert (total["lives"], *figures(total)) == (3, 8, 7, 5, 5, 27000, 1000, 26000)
    assert total["conversion"] == Decimal("71.4")  # 5 / 7, half up at one decimal


def test_every_table_adds_up_to_the_lives_summaries(brand, chain):
    for selection in (list(chain), chain[:2], chain[1:], [chain[2]]):
        result = matrix(brand.org, selection)
        expected = summed(selection)
        assert figures(result["total"]) == expected
        for table in ("accounts", "stores", "regions"):
            assert column_sums(result[table]) == expected, table


def test_an_empty_selection_is_all_zero(brand, chain):
    result = matrix(brand.org, lives_on_day(brand.org, date(2026, 11, 1)))
    assert result["lives"] == 0
    assert result["accounts"] == result["stores"] == result["regions"] == []
    assert figures(result["total"]) == (0,) * 7 and result["total"]["conversion"] is None


# Selections in the organisation's zone

def test_day_selection_counts_a_late_live_on_its_local_day(brand, chain):
    first, late, saturday = chain
    # 00:30 Shanghai on Friday is Thursday 16:30 UTC: Friday's live, not Thursday's.
    early = brand.live(title="周五凌晨", announced_at=datetime(2026, 11, 19, 16, 30, tzinfo=timezone.utc))
    assert set(lives_on_day(brand.org, FRIDAY)) == {early, first, late}
    assert set(lives_on_day(brand.org, FRIDAY - timedelta(days=1))) == set()
    assert set(lives_on_day(brand.org, FRIDAY + timedelta(days=1))) == {saturday}


def test_week_runs_monday_to_sunday_in_the_org_zone(brand, chain):
    assert week_of(FRIDAY) == (date(2026, 11, 16), date(2026, 11, 22))
    monday_early = brand.live(title="周一凌晨", announced_at=datetime(2026, 11, 15, 16, 30, tzinfo=timezone.utc))
    next_monday = brand.live(title="下周一凌晨", announced_at=datetime(2026, 11, 22, 16, 30, tzinfo=timezone.utc))
    week = set(lives_in_week(brand.org, date(2026, 11, 22)))
    assert week == {monday_early, *chain}
    assert next_monday in set(lives_in_week(brand.org, date(2026, 11, 23)))


def test_day_follows_the_org_time_zone(brand, chain):
    brand.org.timezone = "UTC"
    brand.org.save(update_fields=["timezone"])
    early = brand.live(title="UTC 周四深夜", announced_at=datetime(2026, 11, 19, 16, 30, tzinfo=timezone.utc))
    assert early in set(lives_on_day(brand.org, FRIDAY - timedelta(days=1)))
    assert early not in set(lives_on_day(brand.org, FRIDAY))


def test_selections_never_reach_another_organisation(brand, outsider, chain):
    foreign = outsider.live(title="别家同日直播", announced_at=FRIDAY_EVENING, promoters=["Z"])
    outsider.send([event("z1", "reservation", foreign.public_id, "Q1", promoter="Z")])
    ids = [foreign.public_id, chain[0].public_id, "Lnonexist"]
    assert list(lives_by_ids(brand.org, ids)) == [chain[0]]
    assert foreign not in set(lives_on_day(brand.org, FRIDAY))
    assert matrix(brand.org, [foreign, chain[0]])["lives"] == 1
    assert figures(matrix(brand.org, lives_by_ids(brand.org, ids))["total"]) == summed([chain[0]])


# The page

def test_page_shows_the_three_tables_for_a_day(owner, brand, chain):
    response = owner.get("/matrix/", {"mode": "day", "date": "2026-11-20"})
    html = response.content.decode()
    for text in ("杭州西湖店", "上海静安店", "广州天河店", "华东", "华南", "山茶集 门店号", "周五夜场",
                 "¥130.00", "¥190.00"):  # Friday: 杭州 GMV ¥100 + ¥30; net ¥200 − ¥10
        assert text in html, text
    # Saturday's live is only offered in the picker, neither linked nor counted.
    assert f"/lives/{chain[2].public_id}/" not in html
    assert response.context["selected_lives"] == list(chain[:2])
    assert html.count('<tfoot>') == 3


def test_page_defaults_to_this_week(owner, brand, chain):
    response = owner.get("/matrix/")
    assert response.status_code == 200
    assert response.context["chosen"].mode == "week"


def test_page_ignores_foreign_live_ids(owner, brand, outsider, chain):
    foreign = outsider.live(title="别家同日直播", announced_at=FRIDAY_EVENING)
    response = owner.get("/matrix/", {"mode": "lives", "lives": [foreign.public_id, chain[2].public_id]})
    html = response.content.decode()
    assert "别家同日直播" not in html and "周六晚场" in html
    assert response.context["result"]["lives"] == 1


def test_viewer_can_read_but_not_export(brand, chain):
    add_member(brand.org, "watcher", Member.VIEWER, password="another-long-pass")
    client = Client()
    client.force_login(Member.objects.get(org=brand.org, user__username="watcher").user)
    assert client.get("/matrix/").status_code == 200
    assert client.get("/matrix/matrix.csv").status_code == 403


@pytest.mark.parametrize("url", ["/matrix/", "/matrix/matrix.csv", "/matrix/matrix.xlsx"])
def test_anonymous_is_sent_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


# Exports

def test_xlsx_has_the_same_numbers(owner, brand, chain):
    response = owner.get("/matrix/matrix.xlsx", {"mode": "week", "date": "2026-11-18"})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert len(book.worksheets) == 3
    result = matrix(brand.org, list(chain))
    for sheet, table in zip(book.worksheets, ("accounts", "stores", "regions")):
        rows = list(sheet.iter_rows(values_only=True))[1:]
        expected = table_rows(result, table)
        assert [row[0] for row in rows] == [row["name"] for row in expected]
        offset = 2 if table == "stores" else 1  # stores carry their region
        for cells, row in zip(rows, expected):
            assert cells[offset] == row["lives"]
            assert tuple(cells[offset + 1:offset + 5]) == figures(row)[:4]
            assert [Decimal(str(v)) for v in cells[offset + 5:offset + 8]] == \
                [Decimal(row[name]) / 100 for name in ("gmv", "refunded", "net")]
    total = list(book.worksheets[0].iter_rows(values_only=True))[-1]
    assert total[1:5] == (3, 8, 7, 5) and total[6] == 270 and total[-1] == 71.4


def test_csv_has_the_three_tables(owner, brand, chain):
    response = owner.get("/matrix/matrix.csv", {"mode": "day", "date": "2026-11-20"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="matrix-2026-11-20.csv"'
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    blocks = [block for block in "\n".join("\t".join(line) for line in lines).split("\n\n")]
    assert len(blocks) == 3
    friday = matrix(brand.org, chain[:2])["total"]
    for block in blocks:
        total = block.split("\n")[-1].split("\t")
        offset = 2 if len(total) == 11 else 1
        assert total[offset:offset + 5] == [str(friday["lives"]), *(str(v) for v in figures(friday)[:4])]
        assert total[offset + 5:offset + 8] == ["200.00", "10.00", "190.00"]


def test_names_that_look_like_formulas_stay_text(owner, brand, chain):
    Team.objects.filter(org=brand.org, name="上海静安店").update(name="=HYPERLINK(\"x\")")
    response = owner.get("/matrix/matrix.csv", {"mode": "day", "date": "2026-11-20"})
    assert "'=HYPERLINK" in response.content.decode("utf-8-sig")
    book = openpyxl.load_workbook(io.BytesIO(owner.get("/matrix/matrix.xlsx", {"mode": "day",
                                                                             "date": "2026-11-20"}).content))
    names = [row[0].value for row in book.worksheets[1].iter_rows(min_row=2)]
    assert '=HYPERLINK("x")' in names and book.worksheets[1]["A2"].data_type == "s"
