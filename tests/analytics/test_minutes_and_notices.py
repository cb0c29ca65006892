"""The per-minute figures, the recruit code, disabled promoters and the cancel notices."""
from datetime import timedelta

from liveloop.analytics.models import LiveMinute
from liveloop.analytics.queries import live_summary
from liveloop.actions.lives import cancel_live
from liveloop.notify.models import Notice
from liveloop.promoters.models import Enrolment, JoinCode
from liveloop.rules.attribution import FIGURES
from tests.actors import EVENING, event


def test_minutes_add_up_to_the_live_and_sit_in_the_minute_of_at(brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    first, later = EVENING + timedelta(seconds=5), EVENING + timedelta(minutes=7, seconds=59)
    brand.send([event("r1", "reservation", L, "V1", promoter="A", at=first),
                event("r2", "reservation", L, "V2", at=first),
                event("e1", "room_enter", L, "V1", at=later),
                event("o1", "order_paid", L, "V1", order="O1", amount=12900, at=later),
                event("f1", "order_refund", L, "V1", order="O1", amount=900, at=later)])
    rows = {row.minute: row for row in LiveMinute.objects.for_org(brand.org).filter(live=live)}
    assert set(rows) == {EVENING, EVENING + timedelta(minutes=7)}
    assert rows[EVENING].reservations == 2
    assert (rows[EVENING + timedelta(minutes=7)].gmv, rows[EVENING + timedelta(minutes=7)].refunded) == (12900, 900)
    summary = live_summary(live)
    for figure in FIGURES:
        assert sum(getattr(row, figure) for row in rows.values()) == summary[figure]


def test_a_live_gets_a_recruit_code_for_many_people(brand):
    live = brand.live()
    code = JoinCode.objects.for_org(brand.org).get(programme__live=live)
    assert not code.single_use and len(code.token) >= 16


def test_a_disabled_promoter_is_no_longer_credited(brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    brand.send([event("r1", "reservation", L, "V1", promoter="A")])
    Enrolment.objects.for_org(brand.org).update(active=False)
    body = brand.send([event("r2", "reservation", L, "V2", promoter="A")]).json()
    assert body["accepted"] == 1 and body["notes"][0]["id"] == "r2"
    assert live_summary(live)["reservations"] == 2


def test_cancelling_queues_one_notice_per_reserver(brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    brand.send([event("r1", "reservation", L, "V1", promoter="A"), event("r2", "reservation", L, "V2"),
                event("r3", "reservation", L, "V3"), event("c3", "reservation_cancel", L, "V3")])
    cancel_live(live, at=EVENING - timedelta(hours=2))
    notices = Notice.objects.for_org(brand.org).filter(live=live)
    assert sorted(notices.values_list("recipient", flat=True)) == ["V1", "V2"]
    assert set(notices.values_list("kind", "state")) == {(Notice.LIVE_CANCELLED, Notice.QUEUED)}
    assert live_summary(live)["reservations"] == 0


def test_the_rooms_traffic_per_minute_adds_entries_and_exits_and_keeps_the_highest_sample(brand):
    live = brand.live()
    L = live.public_id
    at = EVENING + timedelta(seconds=10)
    brand.send([event("e1", "room_enter", L, "V1", at=at), event("e2", "room_enter", L, "V1", at=at),
                event("l1", "room_leave", L, "V1", at=at), event("o1", "online", L, "acct", count=50, at=at)])
    brand.send([event("e3", "room_enter", L, "V2", at=at), event("o2", "online", L, "acct", count=40, at=at)])
    row = LiveMinute.objects.for_org(brand.org).get(live=live, minute=EVENING)
    assert (row.room_enters, row.room_leaves, row.online_peak) == (3, 1, 50)
    assert row.entered == 2  # distinct viewers, unlike room_enters


def test_showed_up_counts_reservers_at_their_first_entry(brand):
    from liveloop.analytics.models import LiveStats

    live = brand.live()
    L = live.public_id
    brand.send([event("r1", "reservation", L, "V1"), event("r2", "reservation", L, "V2"),
                event("e1", "room_enter", L, "V1"), event("e1b", "room_enter", L, "V1"),
                event("e3", "room_enter", L, "V3"),            # walked in without a reservation
                event("r3", "reservation", L, "V3")])          # reserved after entering: not a show-up
    assert LiveStats.objects.for_org(brand.org).get(live=live).showed_up == 1
