"""The live room: concurrency per minute, the window, top lists, conversion and the polled page."""
import json
import re
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from liveloop.analytics.realtime import WINDOW_MINUTES, conversion, minutes, top_promoters, top_teams, window
from liveloop.analytics.queries import live_summary
from liveloop.actions.lives import cancel_live, end_live, start_live
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from liveloop.actions.promoters import NewPromoter, enrol
from tests.actors import EVENING, event

START = EVENING


def on_air(brand, promoters=(), **kwargs):
    live = brand.live(promoters=promoters, **kwargs)
    start_live(live, at=START)
    return live


def at(minute, second=10):
    return START + timedelta(minutes=minute, seconds=second)


def test_the_window_is_the_whole_live_when_shorter_than_an_hour_and_the_last_hour_after(brand):
    live = on_air(brand)
    assert window(live, now=at(9, 59)) == (START, START + timedelta(minutes=9))
    first, last = window(live, now=at(150))
    assert (first, last) == (START + timedelta(minutes=150 - WINDOW_MINUTES + 1), START + timedelta(minutes=150))
    end_live(live, at=at(20))
    # Over: the window ends where the live ended, whatever the clock says.
    assert window(live, now=at(500)) == (START, START + timedelta(minutes=20))


def test_concurrency_is_the_online_sample_of_the_minute(brand):
    live = on_air(brand)
    L = live.public_id
    brand.send([event("n1", "online", L, "acct", count=120, at=at(0)),
                event("n2", "online", L, "acct", count=340, at=at(1)),
                event("n3", "online", L, "acct", count=310, at=at(1, 40)),
                event("e1", "room_enter", L, "V1", at=at(1))])
    rows = minutes(live, now=at(1, 50))
    assert [(m.concurrent, m.sampled) for m in rows] == [(120, True), (340, True)]


def test_without_samples_concurrency_is_the_running_sum_of_enters_minus_leaves(brand):
    live = on_air(brand)
    L = live.public_id
    brand.send([event("e1", "room_enter", L, "V1", at=at(0)), event("e2", "room_enter", L, "V2", at=at(0)),
                event("e3", "room_enter", L, "V3", at=at(2)), event("l1", "room_leave", L, "V1", at=at(3)),
                event("e1b", "room_enter", L, "V1", at=at(4))])
    rows = minutes(live, now=at(5))
    assert [m.concurrent for m in rows] == [2, 2, 3, 2, 3, 3]
    assert not any(m.sampled for m in rows)


def test_the_running_sum_never_shows_below_zero_and_is_not_reset_by_clamping(brand):
    live = on_air(brand)
    L = live.public_id
    # Two viewers were inside before anyone counted: their exits come without an entry.
    brand.send([event("l1", "room_leave", L, "V1", at=at(0)), event("l2", "room_leave", L, "V2", at=at(0)),
                event("e3", "room_enter", L, "V3", at=at(1)), event("e4", "room_enter", L, "V4", at=at(2)),
                event("e5", "room_enter", L, "V5", at=at(2)), event("e6", "room_enter", L, "V6", at=at(3))])
    assert [m.concurrent for m in minutes(live, now=at(3))] == [0, 0, 1, 2]


def test_a_sample_minute_wins_and_the_minutes_around_it_keep_the_running_sum(brand):
    live = on_air(brand)
    L = live.public_id
    brand.send([event("e1", "room_enter", L, "V1", at=at(0)), event("e2", "room_enter", L, "V2", at=at(0)),
                event("e3", "room_enter", L, "V3", at=at(1)), event("n1", "online", L, "acct", count=900, at=at(1)),
                event("l1", "room_leave", L, "V1", at=at(2))])
    rows = minutes(live, now=at(3))
    assert [(m.concurrent, m.sampled) for m in rows] == [(2, False), (900, True), (2, False), (2, False)]


def test_the_running_sum_counts_from_the_start_of_the_live_not_of_the_window(brand):
    live = on_air(brand)
    L = live.public_id
    brand.send([event("e1", "room_enter", L, "V1", at=at(0)), event("e2", "room_enter", L, "V2", at=at(0)),
                event("e3", "room_enter", L, "V3", at=at(30)), event("l1", "room_leave", L, "V1", at=at(100))])
    rows = minutes(live, now=at(119))
    assert len(rows) == WINDOW_MINUTES and rows[0].at == START + timedelta(minutes=60)
    assert rows[0].concurrent == 3 and rows[-1].concurrent == 2


def test_gaps_are_filled_with_zero_and_the_figures_per_minute_are_what_was_sent(brand):
    live = on_air(brand, promoters=["A"])
    L = live.public_id
    brand.send([event("e1", "room_enter", L, "V1", promoter="A", at=at(0)),
                event("e2", "room_enter", L, "V2", at=at(0)),
                event("o1", "order_paid", L, "V1", order="O1", amount=12900, at=at(0)),
                event("e3", "room_enter", L, "V3", at=at(3)),
                event("o2", "order_paid", L, "V3", order="O2", amount=5050, at=at(3, 20)),
                event("o3", "order_paid", L, "V1", order="O3", amount=1, at=at(3, 50))])
    rows = minutes(live, now=at(4))
    assert [(m.entered, m.orders, m.gmv) for m in rows] == [
        (2, 1, 12900), (0, 0, 0), (0, 0, 0), (1, 2, 5051), (0, 0, 0)]
    assert [m.at for m in rows] == [START + timedelta(minutes=n) for n in range(5)]
    assert [m.label for m in rows] == ["20:00", "20:01", "20:02", "20:03", "20:04"]  # Shanghai


def test_conversion_is_showed_up_over_reservations(brand):
    live = brand.live()
    L = live.public_id
    brand.send([event(f"r{n}", "reservation", L, f"V{n}", at=START - timedelta(hours=1)) for n in range(4)])
    start_live(live, at=START)
    brand.send([event("e0", "room_enter", L, "V0", at=at(1)), event("e0b", "room_enter", L, "V0", at=at(2)),
                event("e9", "room_enter", L, "V9", at=at(2))])  # V9 never reserved
    result = conversion(live, live_summary(live))
    assert (result["showed_up"], result["reservations"], str(result["rate"])) == (1, 4, "25.0")
    assert conversion(brand.live(title="空"), {"reservations": 0})["rate"] is None


def test_top_promoters_by_gmv_then_entered_and_top_teams(brand):
    live = on_air(brand)
    L = live.public_id
    enrol(live.programme, [NewPromoter(name="甲", code="A", team="东区"), NewPromoter(name="乙", code="B", team="西区"),
                           NewPromoter(name="丙", code="C", team="西区"), NewPromoter(name="丁", code="D", team="北区"),
                           NewPromoter(name="戊", code="E")])
    sends = [event("eA", "room_enter", L, "VA", promoter="A", at=at(1)),
             event("oA", "order_paid", L, "VA", order="OA", amount=5000, at=at(1)),
             event("eB", "room_enter", L, "VB", promoter="B", at=at(1)),
             event("oB", "order_paid", L, "VB", order="OB", amount=5000, at=at(1)),
             event("eB2", "room_enter", L, "VB2", promoter="B", at=at(1)),
             event("eC", "room_enter", L, "VC", promoter="C", at=at(1)),
             event("oC", "order_paid", L, "VC", order="OC", amount=9000, at=at(1))]
    brand.send(sends)
    # D brought nobody: not on the board. E has no team: ranked, but in no team.
    assert [row["code"] for row in top_promoters(live)] == ["C", "B", "A"]
    assert [(row["team"], row["gmv"], row["entered"]) for row in top_teams(live)] == [
        ("西区", 14000, 3), ("东区", 5000, 1)]
    assert len(top_promoters(live, limit=2)) == 2


def _page(client, live, data=False):
    return client.get(reverse("web:room_data" if data else "web:room", args=[live.public_id]))


def test_the_data_block_polls_every_two_seconds_on_air_and_stops_when_ended(brand, owner):
    live = brand.live(promoters=["A"])
    start_live(live, at=timezone.now() - timedelta(minutes=3))
    body = _page(owner, live, data=True).content.decode()
    url = reverse("web:room_data", args=[live.public_id])
    assert f'hx-get="{url}" hx-trigger="every 2s" hx-swap="outerHTML"' in body
    page = _page(owner, live).content.decode()
    assert 'hx-trigger="every 2s"' in page and 'data-room-chart="room-concurrency-option"' in page
    end_live(live)
    ended = _page(owner, live, data=True).content.decode()
    assert 'id="room-data"' in ended and "hx-trigger" not in ended and "hx-get" not in ended


def test_before_the_live_the_room_asks_less_often_and_a_cancelled_live_not_at_all(brand, owner):
    live = brand.live()
    assert 'hx-trigger="every 10s"' in _page(owner, live, data=True).content.decode()
    cancel_live(live)
    assert "hx-trigger" not in _page(owner, live, data=True).content.decode()


def test_the_page_shows_the_figures_and_the_charts_carry_the_minutes(brand, owner):
    live = on_air(brand, promoters=["A"])
    L = live.public_id
    brand.send([event("e1", "room_enter", L, "V1", promoter="A", at=at(0)),
                event("o1", "order_paid", L, "V1", order="O1", amount=123456, at=at(2)),
                event("n1", "online", L, "acct", count=4321, at=at(2))])
    end_live(live, at=at(3))
    body = _page(owner, live).content.decode()
    assert "¥1,234.56" in body and "4,321" in body
    option = json.loads(re.search(r'id="room-concurrency-option"[^>]*>(.*?)</script>', body, re.S).group(1))
    assert option["xAxis"]["data"] == ["20:00", "20:01", "20:02", "20:03"]
    assert option["series"][0]["data"] == [1, 1, 4321, 1]
    flow = json.loads(re.search(r'id="room-flow-option"[^>]*>(.*?)</script>', body, re.S).group(1))
    assert [series["data"] for series in flow["series"]] == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1235, 0]]


def test_a_promoter_name_with_markup_is_escaped(brand, owner):
    live = on_air(brand)
    L = live.public_id
    enrol(live.programme, [NewPromoter(name="<script>alert(1)</script>", code="X", team="<b>队</b>")])
    brand.send([event("e1", "room_enter", L, "V1", promoter="X", at=at(0))])
    body = _page(owner, live, data=True).content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>队</b>" not in body and "&lt;b&gt;队&lt;/b&gt;" in body


def test_the_data_block_is_seven_statements(brand, owner, django_assert_num_queries):
    """The 2-second poll: the session, the user, the organisations with the member's role, the
    live, and room()'s three reads — nothing per promoter, minute or template variable (on
    PostgreSQL every statement is a round trip; docs/performance.md "The room's data request")."""
    live = on_air(brand, promoters=["A", "B"])
    L = live.public_id
    brand.send([event("e1", "room_enter", L, "V1", promoter="A", at=at(0)),
                event("o1", "order_paid", L, "V1", order="O1", amount=1000, at=at(1))])
    _page(owner, live, data=True)
    with django_assert_num_queries(7):
        response = _page(owner, live, data=True)
    assert response.status_code == 200 and "¥10.00" in response.content.decode()


def test_another_organisations_live_is_not_found(brand, outsider, owner):
    theirs = on_air(outsider)
    assert _page(owner, theirs).status_code == 404
    assert _page(owner, theirs, data=True).status_code == 404


def test_every_member_may_watch_the_room_and_strangers_sign_in_first(brand):
    live = on_air(brand)
    add_member(brand.org, "watcher", Member.VIEWER, password="another-long-pass")
    viewer = Client()
    assert viewer.login(username="watcher", password="another-long-pass")
    assert _page(viewer, live).status_code == 200 and _page(viewer, live, data=True).status_code == 200
    assert _page(Client(), live, data=True).status_code == 302


def test_the_live_page_links_to_the_room_on_air_and_as_a_replay_after(brand, owner, settings):
    owner.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    live = brand.live()
    room = reverse("web:room", args=[live.public_id])
    assert room not in owner.get(reverse("web:live", args=[live.public_id])).content.decode()
    start_live(live, at=START)
    assert room in owner.get(reverse("web:live", args=[live.public_id])).content.decode()
    end_live(live, at=at(30))
    page = owner.get(reverse("web:live", args=[live.public_id])).content.decode()
    assert room in page and "Live room (replay)" in page
