"""WeChat web login (网页授权) on the recruit, own and invite pages, against the emulator."""
import urllib.parse
from datetime import timedelta

import pytest
from django.test import Client

from liveloop.events.models import Event
from liveloop.integrations.models import WechatIdentity, WechatLoginState
from liveloop.integrations.wechat import login, oauth
from liveloop.integrations.wechat.client import ShopApiError
from liveloop.promoters.models import JoinCode, Promoter
from liveloop.web.phone.wechat import IDENTITY_COOKIE, STATE_COOKIE
from tests.actors import sample
from tests.integrations.wxflow import OA_APPID, WX_UA, authorize, connect, local, log_in

LATER = timedelta(days=3)


@pytest.fixture
def live(brand, emulator):
    from django.utils import timezone
    connect(brand.org, emulator)
    return brand.live(announced_at=timezone.now() + LATER, promoters=["A"])


def join_path(live):
    code = JoinCode.objects.for_org(live.org).filter(programme=live.programme, single_use=False).first()
    code = code or JoinCode.objects.create(org=live.org, programme=live.programme)
    return f"/join/{code.token}/"


def test_the_emulator_answers_in_the_documented_shapes(live, emulator):
    users = emulator.store.users
    users.ensure("amy", nickname="山茶花开")
    back = authorize(oauth.authorize_url(login.apps_of(live.org), "http://testserver/wx/login/",
                                         oauth.USERINFO, "s1"), "amy")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
    assert query["state"] == "s1"
    apps = login.apps_of(live.org)
    token = oauth.exchange_code(apps, query["code"])
    assert set(sample("sns_oauth2_access_token")) <= set(token)
    info = oauth.user_info(apps, token["access_token"], token["openid"])
    assert set(sample("sns_userinfo")) <= set(info) and info["nickname"] == "山茶花开"
    assert info["unionid"] == token["unionid"]
    errors = sample("sns_errors")
    with pytest.raises(ShopApiError) as used:
        oauth.exchange_code(apps, query["code"])
    assert used.value.errcode == errors["code_been_used"]["errcode"]
    with pytest.raises(ShopApiError) as bad:
        oauth.exchange_code(apps, "not-a-code")
    assert bad.value.errcode == errors["invalid_code"]["errcode"]


def test_a_recruit_scan_inside_wechat_logs_in_and_fills_in_the_nickname(live, emulator):
    emulator.store.users.ensure("amy", nickname="山茶花开")
    client = Client()
    page = log_in(client, join_path(live), "amy")
    assert page.status_code == 200
    assert 'value="山茶花开"' in page.content.decode()
    identity = WechatIdentity.objects.for_org(live.org).get()
    assert (identity.kind, identity.appid, identity.nickname) == (WechatIdentity.OA, OA_APPID, "山茶花开")
    assert identity.openid.startswith("o") and identity.unionid


def test_a_promoter_who_lost_their_link_logs_in_again_on_a_new_phone(live, emulator):
    first = Client()
    log_in(first, join_path(live), "amy")
    joined = first.post(join_path(live), {"name": "王小花", "phone": "13800138000"}, HTTP_USER_AGENT=WX_UA)
    assert joined.status_code == 302 and joined["Location"].startswith("/me/")
    promoter = Promoter.objects.for_org(live.org).get(name="王小花")
    assert WechatIdentity.objects.for_org(live.org).get().promoter == promoter

    # A new phone: no own-page cookie, no login cookie; the same WeChat user scans the QR again.
    second = Client()
    response = second.get(join_path(live), HTTP_USER_AGENT=WX_UA)
    back = authorize(response["Location"], "amy")
    landed = second.get(local(back), HTTP_USER_AGENT=WX_UA)
    own = second.get(landed["Location"], HTTP_USER_AGENT=WX_UA)
    assert own.status_code == 302 and own["Location"] == joined["Location"]
    assert "王小花" in second.get(own["Location"]).content.decode()

    # Another WeChat user scanning the same QR is not them, and gets the empty form.
    stranger = Client()
    page = log_in(stranger, join_path(live), "bob")
    assert page.status_code == 200 and "王小花" not in page.content.decode()


def test_a_wechat_login_proves_nothing_about_a_phone_number(live, emulator):
    Client().post(join_path(live), {"name": "王小花", "phone": "13800138000"})
    intruder = Client()
    log_in(intruder, join_path(live), "mallory")
    refused = intruder.post(join_path(live), {"name": "王小花", "phone": "13800138000"}, HTTP_USER_AGENT=WX_UA)
    assert refused.status_code == 409  # proof of the number needed, as without WeChat
    assert WechatIdentity.objects.for_org(live.org).get().promoter is None


def start(client, live):
    response = client.get(join_path(live), HTTP_USER_AGENT=WX_UA)
    return response, authorize(response["Location"], "amy")


def test_a_replayed_state_opens_nothing(live, emulator):
    client = Client()
    _response, back = start(client, live)
    assert client.get(local(back), HTTP_USER_AGENT=WX_UA).status_code == 302
    client.cookies.pop(IDENTITY_COOKIE)
    client.cookies[STATE_COOKIE] = WechatLoginState.objects.get().nonce
    replay = client.get(local(back), HTTP_USER_AGENT=WX_UA)
    assert replay.status_code == 400 and IDENTITY_COOKIE not in replay.cookies


def test_a_forged_or_tampered_state_opens_nothing(live, emulator):
    client = Client()
    _response, back = start(client, live)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
    nonce = WechatLoginState.objects.get().nonce
    other_org_state = f"{live.org_id + 1}.{nonce}"
    for state in (query["state"][:-1] + "x", f"{live.org_id}.{nonce}", other_org_state,
                  login.begin.__name__):
        response = client.get("/wx/login/?" + urllib.parse.urlencode({"code": query["code"], "state": state}))
        assert response.status_code == 400
    assert not WechatIdentity.objects.exists()


def test_a_state_brought_by_another_browser_opens_nothing(live, emulator):
    """Login CSRF: an attacker's own code and state planted into a victim's browser."""
    attacker = Client()
    _response, back = start(attacker, live)
    victim = Client()
    assert victim.get(local(back), HTTP_USER_AGENT=WX_UA).status_code == 400
    assert not WechatIdentity.objects.exists()


def test_an_expired_state_opens_nothing(live, emulator):
    client = Client()
    _response, back = start(client, live)
    WechatLoginState.objects.update(expires_at=WechatLoginState.objects.get().created_at)
    assert client.get(local(back), HTTP_USER_AGENT=WX_UA).status_code == 400


def test_a_bad_code_or_a_refusal_goes_on_without_login(live, emulator):
    client = Client()
    _response, back = start(client, live)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
    response = client.get("/wx/login/?" + urllib.parse.urlencode({"code": "wrong", "state": query["state"]}),
                          HTTP_USER_AGENT=WX_UA)
    assert response.status_code == 302 and response["Location"].endswith("?wx=0")
    page = client.get(response["Location"], HTTP_USER_AGENT=WX_UA)
    assert page.status_code == 200  # the form, no login loop
    assert not WechatIdentity.objects.exists()


def test_the_next_path_never_leaves_the_site():
    assert login.safe_next("//evil.example/x") == "/"
    assert login.safe_next("https://evil.example/") == "/"
    assert login.safe_next("/join/abc/?wx=1") == "/join/abc/?wx=1"


def invite_path(live, code="A"):
    return f"/i/{live.public_id}/{code}/"


def test_a_viewer_inside_wechat_reserves_under_the_login_openid(live, emulator):
    client = Client()
    page = log_in(client, invite_path(live), "vera")
    assert page.status_code == 200
    identity = WechatIdentity.objects.for_org(live.org).get()
    assert identity.nickname == ""  # snsapi_base: silent, no profile
    client.post(invite_path(live) + "?openid=oVictim_openid_123", HTTP_USER_AGENT=WX_UA)
    reservation = Event.objects.for_org(live.org).get(type="reservation")
    assert reservation.viewer == identity.openid
    assert reservation.attrs["unionid"] == identity.unionid


def test_a_login_cookie_of_another_organisation_is_not_a_viewer_here(live, emulator, outsider):
    other = outsider.live(promoters=["Z"])
    client = Client()
    log_in(client, invite_path(live), "vera")
    client.post(invite_path(other, "Z"))
    reservation = Event.objects.for_org(other.org).get(type="reservation")
    assert reservation.viewer != WechatIdentity.objects.for_org(live.org).get().openid


def test_outside_wechat_nothing_changes(live, emulator):
    client = Client()
    assert client.get(join_path(live)).status_code == 200
    assert client.get(invite_path(live)).status_code == 200
    assert not WechatLoginState.objects.exists()


def test_invitees_show_the_nickname_wechat_gave_and_stay_masked_otherwise(live, emulator):
    emulator.store.users.ensure("amy", nickname="山茶花开")
    # amy gave her profile on a recruit scan (snsapi_userinfo), then reserves as a viewer.
    promoter_client = Client()
    log_in(promoter_client, join_path(live), "amy")
    viewer = Client()
    log_in(viewer, invite_path(live), "amy")
    viewer.post(invite_path(live), HTTP_USER_AGENT=WX_UA)
    quiet = Client()
    log_in(quiet, invite_path(live), "bob")  # snsapi_base only: WeChat gave no nickname
    quiet.post(invite_path(live), HTTP_USER_AGENT=WX_UA)
    from liveloop.promoters.links import own_page_url
    from liveloop.promoters.models import Enrolment
    enrolment = Enrolment.objects.for_org(live.org).get(promoter__code="A")
    page = Client().get(own_page_url(enrolment)).content.decode()
    assert "<td>山茶花开</td>" in page
    assert WechatIdentity.objects.for_org(live.org).exclude(nickname="").count() == 1
    assert page.count('<td class="mono">') == 1  # bob, masked


def test_old_login_attempts_are_cleared(live, emulator):
    from datetime import datetime, timezone
    start(Client(), live)
    login.begin(live.org, oauth.BASE, "/", now=datetime.now(timezone.utc) + timedelta(days=2))
    assert WechatLoginState.objects.for_org(live.org).count() == 1
