"""The reservation made on WeChat Channels through the mini-program: the invite page's URL Link,
the mini-program's report with its code2Session identity, the confirmed reservation the
operator sees, and one person across the official account's, mini-program's and shop's ids."""
import json
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import Event
from liveloop.integrations.models import ShopLive, WechatIdentity
from liveloop.integrations.wechat import miniprogram, worker
from liveloop.integrations.wechat.emulator import order, pay_push
from liveloop.actions.lives import start_live
from liveloop.promoters.models import Promoter
from tests.actors import event
from tests.actors import CHANNELS_LIVE, post_push, sample
from tests.integrations.wxflow import FINDER, WX_UA, connect, log_in, wx_login_code


@pytest.fixture
def live(brand, emulator):
    connect(brand.org, emulator)
    return brand.live(announced_at=timezone.now() + timedelta(days=2), promoters=["A", "B"])


def invite_path(live, code="A"):
    return f"/i/{live.public_id}/{code}/"


def open_link(url: str) -> dict:
    """What WeChat would pass to the mini-program's page: the URL Link's path and query."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        link = json.loads(answer.read())
    return {"path": link["path"], **dict(urllib.parse.parse_qsl(link["query"]))}


def reserve_in_wechat(live, user, code="A"):
    """A viewer inside WeChat taps 预约 on the invite page: (client, the mini-program's query)."""
    client = Client()
    log_in(client, invite_path(live, code), user)
    response = client.post(invite_path(live, code), HTTP_USER_AGENT=WX_UA)
    assert response.status_code == 303, response.status_code
    return client, open_link(response["Location"])


def report(emulator, query, user, outcome="reserved", code=None):
    """The mini-program's report, as it sends it after wx.reserveChannelsLive."""
    body = {"ticket": query.get("t"), "code": code or wx_login_code(emulator, user), "outcome": outcome,
            "noticeId": "notice-1"}
    return Client().post("/wx/mp/report/", json.dumps(body), content_type="application/json")


def test_the_invite_button_opens_the_mini_program_by_a_url_link(live, emulator):
    _client, query = reserve_in_wechat(live, "vera")
    assert query["path"] == miniprogram.PAGE and query["f"] == FINDER and "enter" not in query
    assert set(sample("generate_urllink")["request"]) <= {"path", "query", "expire_type", "expire_interval"}
    ticket = miniprogram.read_ticket(query["t"])
    identity = WechatIdentity.objects.for_org(live.org).get()
    assert (ticket["l"], ticket["p"], ticket["v"]) == (live.public_id, "A", identity.openid)
    # The intended reservation is recorded at once, under the login's openid.
    assert Event.objects.for_org(live.org).get(type="reservation", source="relay").viewer == identity.openid


def test_a_viewers_url_link_is_made_once_and_cached(live, emulator):
    client, _query = reserve_in_wechat(live, "vera")
    client.post(invite_path(live), HTTP_USER_AGENT=WX_UA)
    assert emulator.store.calls.count("/wxa/generate_urllink") == 1


def test_the_mini_programs_report_records_a_confirmed_reservation(live, emulator, owner):
    _client, query = reserve_in_wechat(live, "vera")
    answer = report(emulator, query, "vera")
    assert answer.status_code == 200 and answer.json() == {"recorded": True, "duplicate": False}
    confirmed = Event.objects.for_org(live.org).get(source=miniprogram.SOURCE)
    oa = WechatIdentity.objects.for_org(live.org).get()
    assert confirmed.viewer == oa.openid and confirmed.attrs["confirmed"] is True
    assert confirmed.attrs["mp_openid"] != oa.openid and confirmed.attrs["unionid"] == oa.unionid
    # One reservation for promoter A: the intended one and the confirmed one are one person.
    a = Promoter.objects.for_org(live.org).get(code="A")
    assert PromoterStats.objects.for_org(live.org).get(live=live, promoter=a).reservations == 1
    assert miniprogram.confirmed_by_promoter(live) == {a.pk: 1}
    page = owner.get(f"/lives/{live.public_id}/").content.decode()
    assert "视频号" in page and 'id="confirmed"' in page


def test_reporting_again_is_a_duplicate_and_a_code_is_spent_once(live, emulator):
    _client, query = reserve_in_wechat(live, "vera")
    code = wx_login_code(emulator, "vera")
    assert report(emulator, query, "vera", code=code).json()["recorded"] is True
    replay = report(emulator, query, "vera", code=code)
    assert replay.status_code == 400 and "code" in replay.json()["errors"]
    again = report(emulator, query, "vera")
    assert again.json() == {"recorded": True, "duplicate": True}
    assert Event.objects.for_org(live.org).filter(source=miniprogram.SOURCE).count() == 1


def test_a_failed_or_cancelled_reservation_is_not_recorded(live, emulator):
    _client, query = reserve_in_wechat(live, "vera")
    for outcome in ("failed", "cancelled"):
        assert report(emulator, query, "vera", outcome=outcome).json()["recorded"] is False
    assert report(emulator, query, "vera", outcome="hacked").status_code == 400
    assert not Event.objects.for_org(live.org).filter(source=miniprogram.SOURCE).exists()


def test_a_forged_ticket_or_a_bad_body_is_refused_by_field(live, emulator, outsider):
    _client, query = reserve_in_wechat(live, "vera")
    forged = report(emulator, {"t": query["t"][:-2] + "xx"}, "vera")
    assert forged.status_code == 400 and "ticket" in forged.json()["errors"]
    # A ticket Liveloop signed for another organisation's live names that organisation, whose
    # mini-program (none) decides: nothing of ours is touched.
    other = outsider.live(promoters=["Z"])
    foreign = miniprogram.sign_ticket(other, "Z", "oSomeone_12345678")
    assert report(emulator, {"t": foreign}, "vera").status_code == 404
    bad = Client().post("/wx/mp/report/", "[1]", content_type="application/json")
    assert bad.status_code == 400 and "body" in bad.json()["errors"]
    no_code = Client().post("/wx/mp/report/", json.dumps({"ticket": query["t"]}), content_type="application/json")
    assert no_code.status_code == 400 and set(no_code.json()["errors"]) == {"code"}


def test_a_ticket_cannot_name_another_viewer_or_promoter(live, emulator):
    ticket = miniprogram.read_ticket(reserve_in_wechat(live, "vera")[1]["t"])
    assert ticket is not None
    tampered = miniprogram.sign_ticket(live, "A", "x")[:-1]
    assert miniprogram.read_ticket(tampered) is None
    assert miniprogram.read_ticket("eyJ2IjoidmljdGltIn0:bad") is None


def test_on_air_the_invite_page_offers_to_enter_the_live_room(live, emulator):
    start_live(live)
    client = Client()
    page = log_in(client, invite_path(live), "vera")
    assert "进入直播间" in page.content.decode()
    response = client.post(invite_path(live), HTTP_USER_AGENT=WX_UA)
    assert response.status_code == 303 and open_link(response["Location"])["enter"] == "1"
    assert not Event.objects.for_org(live.org).filter(type="reservation").exists()


def test_without_a_url_link_the_page_goes_on_as_before(live, emulator):
    client = Client()
    log_in(client, invite_path(live), "vera")
    emulator.store.scripted[:] = [(200, {"errcode": 85402, "errmsg": "invalid path"})] * 4
    response = client.post(invite_path(live), HTTP_USER_AGENT=WX_UA)
    assert response.status_code == 200  # the reserved page: recorded, and the .ics offered
    assert Event.objects.for_org(live.org).filter(type="reservation").count() == 1


def test_one_person_across_three_ids_is_credited_once(brand, live, emulator, shop):
    """Reserves through the mini-program (official-account openid + mini-program openid), enters
    the room (mini-program openid), buys in the shop (shop openid, pushed by the shop and fetched
    by the worker): one reservation, one entry, one buyer, all credited to one promoter."""
    _client, query = reserve_in_wechat(live, "vera", code="B")
    report(emulator, query, "vera")
    confirmed = Event.objects.for_org(live.org).get(source=miniprogram.SOURCE)
    mp_openid, unionid = confirmed.attrs["mp_openid"], confirmed.attrs["unionid"]
    start_live(live)
    answer = brand.send([event("enter-1", "room_enter", live.public_id, mp_openid, at=timezone.now())])
    assert answer.json()["accepted"] == 1
    # The shop knows the buyer by its own openid, and gives the unionid in the order detail.
    ShopLive.objects.create(org=brand.org, shop=shop, channels_live_id=CHANNELS_LIVE, live=live)
    paid_at = int(timezone.now().timestamp())
    detail = order("9001", "oShop_" + unionid[-20:], 12900, CHANNELS_LIVE, paid_at, unionid=unionid)
    emulator.store.orders["9001"] = detail
    assert post_push(Client(), shop, pay_push("gh_emulator", detail)).content == b"success"
    assert worker.process(client_options={"sleep": lambda seconds: None}).done == 1
    b = Promoter.objects.for_org(live.org).get(code="B")
    row = PromoterStats.objects.for_org(live.org).get(live=live, promoter=b)
    assert (row.reservations, row.entered, row.buyers, row.gmv) == (1, 1, 1, 12900)
    organic = PromoterStats.objects.for_org(live.org).get(live=live, promoter=None)
    assert (organic.reservations, organic.entered, organic.buyers) == (0, 0, 0)
    # The log alone gives the same figures and persons.
    from liveloop.events.rebuild import differences, replay
    attribution, problems = replay(live.org)
    assert problems == [] and differences(live.org, attribution) == []


def visible_words(html: str) -> set[str]:
    """Latin words a person would read on the page (not in tags, scripts or styles)."""
    import re
    text = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return set(re.findall(r"[A-Za-z]{2,}", text))


@pytest.mark.parametrize("on_air", [False, True])
def test_the_invite_page_in_wechat_speaks_chinese(live, emulator, on_air):
    if on_air:
        start_live(live)
    client = Client()
    page = log_in(client, invite_path(live), "vera").content.decode()
    assert ("进入直播间" if on_air else "在视频号上预约") in page
    assert visible_words(page) <= {"Liveloop", "English", "ics"}, visible_words(page)
    failed = Client().get("/wx/login/?state=forged&code=x").content.decode()
    assert "微信登录未完成" in failed and visible_words(failed) <= {"Liveloop", "English"}


def test_a_promoters_wechat_share_link_rides_in_the_url_link(live, emulator):
    from tests.actors import TUIKE_NOTICE, official_material

    official_material(live, Promoter.objects.get(org=live.org, code="A"), share_link="psl:分享/参数&x=1")
    _client, query = reserve_in_wechat(live, "vera")
    assert (query["n"], query["s"]) == (TUIKE_NOTICE, "psl:分享/参数&x=1")
    # Promoter B is no 推客: the link goes without.
    _client, query = reserve_in_wechat(live, "walt", code="B")
    assert "s" not in query and "n" not in query
