"""The live pages' hot reads (issue #7): the same answers as the ORM paths, in a fixed number of
queries whatever the size of the log."""
from datetime import timedelta

import pytest

from liveloop.analytics.queries import SORTABLE, _row, live_summary, promoter_rows, promoter_table
from liveloop.analytics.realtime import conversion, minutes, room, top_promoters, top_teams
from liveloop.actions.lives import start_live
from liveloop.actions.promoters import NewPromoter, enrol
from liveloop.rules.attribution import FIGURES
from tests.actors import EVENING, event

ROW_KEYS = ["promoter", "name", "team", *FIGURES, "net", "self_referrals", "suspect_reservations"]


def at(minute):
    return EVENING + timedelta(minutes=minute, seconds=10)


@pytest.fixture
def busy(brand):
    """A live on air for 90 minutes: promoters in teams and out of them, orders, a refund, and
    traffic before the room's 60-minute window."""
    live = brand.live()
    enrol(live.programme, [NewPromoter(name="甲", code="A", team="东区"), NewPromoter(name="乙", code="B", team="西区"),
                           NewPromoter(name="丙", code="C", team="西区"), NewPromoter(name="<丁>", code="D"),
                           NewPromoter(name="戊", code="E", team="北区")])
    start_live(live, at=EVENING)
    L = live.public_id
    brand.send([event("r1", "reservation", L, "V1", promoter="A", at=EVENING - timedelta(hours=2)),
                event("r2", "reservation", L, "V2", promoter="B", at=EVENING - timedelta(hours=2)),
                event("e1", "room_enter", L, "V1", promoter="A", at=at(1)),
                event("e2", "room_enter", L, "V2", promoter="B", at=at(2)),
                event("e3", "room_enter", L, "V3", promoter="C", at=at(3)),
                event("e4", "room_enter", L, "V4", at=at(4)),
                event("l4", "room_leave", L, "V4", at=at(5)),
                event("o1", "order_paid", L, "V1", order="O1", amount=12900, at=at(40)),
                event("o3", "order_paid", L, "V3", order="O3", amount=9900, at=at(70)),
                event("f3", "order_refund", L, "V3", order="O3", amount=9900, at=at(80)),
                event("e5", "room_enter", L, "V5", promoter="D", at=at(85)),
                event("n1", "online", L, "acct", count=42, at=at(86))])
    return live


def test_promoter_rows_are_the_orm_rows_in_every_order_and_filter(busy):
    for field in SORTABLE:
        for sort in (field, f"-{field}"):
            expected = [_row(values) for values in promoter_table(busy, sort=sort).queryset]
            assert promoter_rows(busy, sort=sort) == expected
            assert [list(row) for row in promoter_rows(busy, sort=sort)] == [ROW_KEYS] * 6
    assert [row["promoter"] for row in promoter_rows(busy, team="西区", sort="code")] == ["B", "C"]
    assert [row["promoter"] for row in promoter_rows(busy, search="<丁")] == ["D"]
    assert promoter_rows(busy, team="没有这个队") == []
    refunded = next(row for row in promoter_rows(busy) if row["promoter"] == "C")
    assert (refunded["gmv"], refunded["refunded"], refunded["net"]) == (9900, 9900, 0)
    table = promoter_table(busy, sort="-net")
    assert table[1:4] == promoter_rows(busy, sort="-net")[1:4] and list(table) == promoter_rows(busy, sort="-net")


def test_the_room_is_its_parts_in_three_queries(busy, django_assert_num_queries):
    now = at(86)
    with django_assert_num_queries(3):
        data = room(busy, now)
    summary = live_summary(busy)
    assert data["summary"] == summary and data["conversion"] == conversion(busy, summary)
    assert data["minutes"] == minutes(busy, now) and data["concurrent_now"] == 42
    assert data["promoters"] == top_promoters(busy) and data["teams"] == top_teams(busy)
    assert [row["code"] for row in data["promoters"]] == ["A", "C", "B", "D"]
    assert [(row["team"], row["promoters"], row["gmv"]) for row in data["teams"]] == [
        ("东区", 1, 12900), ("西区", 2, 9900)]
    # Traffic before the window (minutes 0–26): V1–V4 entered, V4 left; V5 at minute 85; a sample at 86.
    assert [m.concurrent for m in data["minutes"]][-6:] == [3, 3, 3, 3, 4, 42]


def test_the_per_promoter_table_and_the_summary_are_one_query_each(busy, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert len(promoter_rows(busy)) == 6
    with django_assert_num_queries(1):
        assert live_summary(busy)["gmv"] == 12900 + 9900
