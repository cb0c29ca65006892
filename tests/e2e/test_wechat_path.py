"""Inside WeChat, against the emulator: a promoter scans the recruit QR, logs in with WeChat,
loses their link and gets their page back on a new phone by logging in again; a viewer opens an
invite, logs in silently, reserves through the mini-program (its report sent as WeChat's
mini-program would send it), and the operator sees the confirmed reservation for that promoter."""
import json
import re
import urllib.parse
import urllib.request

import pytest
from django.urls import reverse

from liveloop.integrations.models import WechatIdentity
from liveloop.promoters.models import Enrolment
from tests.actors import recruit_token, upcoming_live
from tests.e2e.browser import PHONE, look, operator_page
from tests.integrations.wxflow import WX_UA, connect, wx_login_code

# The emulator fixture is tests/conftest.py's; like the integration tests, start from no cached
# access token.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("fresh_tokens")]

WECHAT_PHONE = {**PHONE, "user_agent": WX_UA}


def as_wechat_user(contexts, emulator, user, path):
    """A phone whose WeChat user is `user` (the emulator's cookie) opening `path` in WeChat."""
    page = contexts.page(WECHAT_PHONE)
    target = urllib.parse.quote(contexts.base_url + path, safe="")
    page.goto(f"{emulator.base_url}/emulator/become?user={user}&next={target}")
    page.wait_for_load_state("load")
    return page


def test_wechat_login_lost_link_and_a_confirmed_reservation(contexts, brand, emulator):
    connect(brand.org, emulator)
    emulator.store.users.ensure("amy", nickname="林小满")
    live = upcoming_live(brand)
    join = reverse("phone:join", args=[recruit_token(live)])

    # The promoter scans the recruit QR inside WeChat: WeChat asks once, the name is filled in.
    promoter = as_wechat_user(contexts, emulator, "amy", join)
    look(promoter, "wechat-join")
    assert promoter.get_by_label("Your name").input_value() == "林小满"
    promoter.get_by_label("Mobile number").fill("138 0013 8000")
    promoter.get_by_role("button", name="Join").click()
    promoter.wait_for_url(re.compile(r"/me/"))
    own = promoter.url
    assert promoter.get_by_text("Hello, 林小满").is_visible()
    enrolment = Enrolment.objects.for_org(brand.org).select_related("promoter").get(programme__live=live)
    assert WechatIdentity.objects.for_org(brand.org).get().promoter == enrolment.promoter

    # The link is lost with the old phone. On a new phone the same WeChat user scans the QR again.
    again = as_wechat_user(contexts, emulator, "amy", join)
    again.wait_for_url(re.compile(r"/me/"))
    look(again, "wechat-own-page-new-phone")
    assert again.url.split("#")[0] == own.split("#")[0] and again.get_by_text("Hello, 林小满").is_visible()

    # A viewer opens the invite inside WeChat: logged in silently, no page in between.
    invite = reverse("phone:invite", args=[live.public_id, enrolment.promoter.code])
    viewer = as_wechat_user(contexts, emulator, "vera", invite)
    assert viewer.url.split("#")[0].endswith(invite)
    look(viewer, "wechat-invite")
    viewer.get_by_role("button", name="Reserve the live").click()
    # The button opens the mini-program by its URL Link (the emulator shows what WeChat would
    # hand the mini-program's page).
    viewer.wait_for_url(re.compile(r"/emulator/urllink/"))
    link = json.loads(viewer.locator("body").inner_text())
    query = dict(urllib.parse.parse_qsl(link["query"]))
    assert link["path"] == "pages/reserve/reserve" and query["f"].startswith("sph")

    # The mini-program reserved on Channels and reports it with a fresh wx.login code.
    report = urllib.request.Request(
        contexts.base_url + reverse("phone:mp_report"), method="POST",
        data=json.dumps({"ticket": query["t"], "code": wx_login_code(emulator, "vera"),
                         "outcome": "reserved", "noticeId": "notice-1"}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(report, timeout=15) as answer:
        assert json.loads(answer.read()) == {"recorded": True, "duplicate": False}

    # The operator sees one reservation, confirmed on Channels, for that promoter.
    desk = operator_page(contexts, brand.org)
    desk.goto(reverse("web:live", args=[live.public_id]))
    look(desk, "operator-live-confirmed")
    row = desk.locator("#confirmed tbody tr").filter(has_text="林小满")
    assert row.locator("td").inner_text().strip() == "1"
