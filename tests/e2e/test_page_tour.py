"""Every page, in Chinese as people first see it: the accessibility basics and a screenshot."""
from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from liveloop.actions.lives import end_live, start_live
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment, JoinCode, Programme
from tests.actors import EVENING, event
from tests.e2e.browser import PHONE, look, operator_page

pytestmark = pytest.mark.e2e


def soon() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)


def test_operator_pages(contexts, brand, outsider):
    foreign = outsider.live()
    live = brand.live(announced_at=soon(), promoters=["A", "B"])
    brand.send([event("r1", "reservation", live.public_id, "V1", promoter="A", at=datetime.now(timezone.utc))])
    ended = brand.live(title="上周专场", announced_at=EVENING, promoters=["A"])
    start_live(ended, at=EVENING)
    end_live(ended, at=EVENING + timedelta(hours=2))
    desk = operator_page(contexts, brand.org, language="zh-hans")
    pages = {
        "operator-lives": reverse("web:lives"),
        "operator-calendar": reverse("web:calendar"),
        "operator-new-live": reverse("web:new_live"),
        "operator-edit-live": reverse("web:edit_live", args=[live.public_id]),
        "operator-cancel-live": reverse("web:cancel_live", args=[live.public_id]),
        "operator-programme": reverse("web:programme", args=[live.public_id]),
        "operator-ended-live": reverse("web:live", args=[ended.public_id]),
        "operator-settings": reverse("web:settings"),
    }
    for name, url in pages.items():
        response = desk.goto(url)
        assert response.status == 200, (name, response.status)
        look(desk, f"{name}-zh")
    # A live of another organisation is not found, in the browser too.
    assert desk.goto(reverse("web:live", args=[foreign.public_id])).status == 404


def test_phone_pages_that_refuse_or_redirect(contexts, brand):
    live = brand.live(announced_at=soon(), promoters=["A"])
    phone = contexts.page(PHONE, language="zh-hans")

    Programme.objects.for_org(brand.org).filter(live=live).update(is_open=False)
    token = JoinCode.objects.for_org(brand.org).get(programme__live=live).token
    assert phone.goto(reverse("phone:join", args=[token])).status == 410
    look(phone, "phone-join-closed-zh")

    assert phone.goto(reverse("phone:me")).status == 200  # no cookie yet: says how to get in
    look(phone, "phone-no-cookie-zh")

    assert phone.goto(reverse("phone:me_link", args=["not-a-signed-value"])).status == 404
    look(phone, "phone-link-invalid-zh")

    ended = brand.live(title="已结束的专场", announced_at=EVENING, promoters=["A"])
    start_live(ended, at=EVENING)
    end_live(ended, at=EVENING + timedelta(hours=2))
    assert phone.goto(reverse("phone:invite", args=[ended.public_id, "A"])).status == 410
    look(phone, "phone-invite-closed-zh")

    enrolment = Enrolment.objects.for_org(brand.org).get(programme__live=ended)
    assert phone.goto(own_page_url(enrolment)).status == 200
    look(phone, "phone-own-page-ended-zh")
