"""Issue 19, guard rails: a new live announced for a time already gone is refused with a reason
(API 422 by field, the form beside the field); an edit may keep a past time only unchanged."""
from datetime import datetime, timedelta, timezone

import pytest

from liveloop.lives.models import Live
from liveloop.rules.dates import PAST_GRACE, PastTimeError, check_not_past
from tests.actors import EVENING

pytestmark = pytest.mark.django_db

API = "/api/v1"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def create(tenant, at):
    return tenant.api.post(f"{API}/lives", {"title": "过去的直播", "account": tenant.account.pk, "announced_at": at},
                           content_type="application/json")


def test_the_rule_refuses_the_past_beyond_a_short_grace():
    assert check_not_past(NOW - PAST_GRACE, NOW) == NOW - PAST_GRACE  # "now", typed a moment ago
    with pytest.raises(PastTimeError):
        check_not_past(NOW - PAST_GRACE - timedelta(seconds=1), NOW)
    with pytest.raises(PastTimeError):
        check_not_past(datetime(2020, 1, 1, tzinfo=timezone.utc), NOW)
    # An edit keeps its own past time (to the minute the form shows), but may not move to another.
    kept = datetime(2026, 11, 20, 12, 0, 42, tzinfo=timezone.utc)
    assert check_not_past(kept.replace(second=0), NOW, unchanged_from=kept)
    with pytest.raises(PastTimeError):
        check_not_past(kept + timedelta(minutes=1), NOW, unchanged_from=kept)


@pytest.mark.parametrize("at", ["2020-01-01T20:00:00+08:00", "2026-01-01T00:00:00Z"])
def test_the_api_refuses_a_new_live_in_the_past_by_field(brand, at):
    answer = create(brand, at)
    assert answer.status_code == 422, answer.content
    detail, = answer.json()["detail"]
    assert detail["loc"][-1] == "announced_at" and "in the past" in detail["msg"]
    assert not Live.objects.filter(org=brand.org).exists()


def test_the_api_accepts_now_and_later(brand):
    now = datetime.now(timezone.utc)
    assert create(brand, (now - timedelta(minutes=1)).isoformat()).status_code == 201
    assert create(brand, (now + timedelta(days=1)).astimezone(timezone(timedelta(hours=8))).isoformat()
                  ).status_code == 201


def test_the_new_live_form_refuses_a_past_time_beside_the_field(brand, owner):
    answer = owner.post("/lives/new/", {"account": brand.account.pk, "title": "二〇二〇年的直播",
                                        "announced_at": "2020-01-01T20:00", "cap": 10, "mode": "first_touch",
                                        "binding_days": 30})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "这个时间已经过去：新直播请选择现在或以后的时间。" in page
    assert not Live.objects.filter(org=brand.org).exists()


def test_an_edit_keeps_a_past_time_unchanged_but_cannot_move_to_another(brand, owner):
    live = brand.live()  # announced for EVENING, now past
    assert live.announced_at == EVENING
    kept = owner.post(f"/lives/{live.public_id}/edit/", {"title": "改个标题", "announced_at": "2026-11-20T20:00"})
    assert kept.status_code == 302
    live.refresh_from_db()
    assert (live.title, live.announced_at) == ("改个标题", EVENING)
    moved = owner.post(f"/lives/{live.public_id}/edit/", {"title": "又改", "announced_at": "2026-11-19T20:00"})
    assert moved.status_code == 400 and "这个时间已经过去" in moved.content.decode()
    live.refresh_from_db()
    assert (live.title, live.announced_at) == ("改个标题", EVENING)
