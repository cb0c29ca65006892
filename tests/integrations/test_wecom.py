"""WeCom: the customer-contact callback records captures; viewers are routed to the contact
code of the promoter who earned them, else their team's, else the brand's."""
import urllib.parse
from datetime import datetime, timedelta, timezone

import pytest
from django.core import signing
from django.utils.translation import gettext

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import Event
from liveloop.integrations.models import ContactWay, WecomApp
from liveloop.integrations.wechat.crypto import PushCrypto, signature
from liveloop.integrations.wecom.callback import capture_id
from liveloop.integrations.wecom.routing import contact_for, route_link
from liveloop.integrations.wecom.state import StateError, encode_state, parse_state
from liveloop.promoters.models import Promoter, Team
from tests.actors import EVENING, event

CORP = "ww1a2b3c4d5e6f7a8b"
TOKEN = "wecomtoken42"
AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
CUSTOMER = "wmAbCdEf0123456789customer"
GUIDE = "zhangsan"
ADDED_AT = EVENING + timedelta(hours=2)


@pytest.fixture
def app(brand):
    return WecomApp.objects.create(org=brand.org, corp_id=CORP, token=TOKEN, encoding_aes_key=AES_KEY)


def add_contact_xml(state="", customer=CUSTOMER, user=GUIDE, at=ADDED_AT):
    state_tag = f"<State><![CDATA[{state}]]></State>" if state else ""
    return (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{int(at.timestamp())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[change_external_contact]]></Event>"
            "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
            f"<UserID><![CDATA[{user}]]></UserID><ExternalUserID><![CDATA[{customer}]]></ExternalUserID>"
            f"{state_tag}<WelcomeCode><![CDATA[WELCOME]]></WelcomeCode></xml>")


def post_callback(client, app, plain_xml, token=TOKEN, corp=CORP, **overrides):
    """Encrypted and signed the way WeCom does it."""
    encrypted = PushCrypto(token, AES_KEY, corp).encrypt(plain_xml)
    query = {"timestamp": "1764150000", "nonce": "n0nce"}
    query["msg_signature"] = signature(token, query["timestamp"], query["nonce"], encrypted)
    query.update(overrides)
    body = (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>")
    return client.post(f"{app.callback_path}?{urllib.parse.urlencode(query)}", body,
                       content_type="text/xml")


def captures(live, promoter=None):
    return PromoterStats.objects.get(live=live, promoter=promoter).captures


def live_captures(live):
    """The live's figure: its promoter rows plus the unattributed row."""
    return sum(PromoterStats.objects.filter(live=live).values_list("captures", flat=True))


def test_state_is_live_dot_code_within_thirty_characters():
    assert encode_state("L8f3k2abc", "P4ZQ7XY") == "L8f3k2abc.P4ZQ7XY"
    assert parse_state(".P4ZQ7XY").live is None
    assert parse_state("L8f3k2abc.").promoter is None
    for bad in ("", ".", "L8f3k2abc", "L1.P1.x", "L1.<x>", "L" * 20 + "." + "P" * 10):
        with pytest.raises(StateError):
            parse_state(bad)


def test_url_verification_answers_the_decrypted_echostr(client, app):
    echostr = PushCrypto(TOKEN, AES_KEY, CORP).encrypt("1616140317555161061")
    query = {"timestamp": "1764150000", "nonce": "n0nce", "echostr": echostr,
             "msg_signature": signature(TOKEN, "1764150000", "n0nce", echostr)}
    response = client.get(f"{app.callback_path}?{urllib.parse.urlencode(query)}")
    assert response.status_code == 200
    assert response.content == b"1616140317555161061"
    query["msg_signature"] = signature("another-token", "1764150000", "n0nce", echostr)
    assert client.get(f"{app.callback_path}?{urllib.parse.urlencode(query)}").status_code == 401


def test_add_external_contact_records_a_capture_for_the_state_live_and_promoter(client, brand, app):
    live = brand.live(promoters=["A", "B"])
    # The customer reached the live through A's link under the same id WeCom gives them.
    assert brand.send([event("r1", "reservation", live.public_id, CUSTOMER, promoter="A")]).status_code == 200
    response = post_callback(client, app, add_contact_xml(encode_state(live.public_id, "A")))
    assert response.status_code == 200 and response.content == b"success"
    stored = Event.objects.for_org(brand.org).get(type="capture")
    assert stored.eid == capture_id(CORP, CUSTOMER, GUIDE) == f"wecom:{CORP}:add:{CUSTOMER}:{GUIDE}"
    assert stored.live_id == live.pk and stored.viewer == CUSTOMER and stored.promoter_code == "A"
    assert stored.promoter_id == Promoter.objects.for_org(brand.org).get(code="A").pk
    assert stored.attrs == {"channel": "wecom", "guide": GUIDE}
    assert stored.at == ADDED_AT and stored.source == "wecom"
    a = Promoter.objects.for_org(brand.org).get(code="A")
    assert captures(live, a) == 1 and live_captures(live) == 1


def test_a_capture_through_a_promoters_contact_code_is_theirs(client, brand, app):
    # docs/events.md rule 5: a capture naming a programme promoter (the WeCom state) is
    # credited to that promoter, even for a customer the live never saw under this id.
    live = brand.live(promoters=["A"])
    assert post_callback(client, app, add_contact_xml(encode_state(live.public_id, "A"))).content == b"success"
    a = Promoter.objects.for_org(brand.org).get(code="A")
    assert Event.objects.for_org(brand.org).get(type="capture").promoter_id == a.pk
    assert captures(live, a) == 1 and captures(live) == 0 and live_captures(live) == 1


def test_a_replayed_callback_is_a_duplicate(client, brand, app):
    live = brand.live(promoters=["A"])
    for _ in range(2):
        assert post_callback(client, app, add_contact_xml(encode_state(live.public_id, "A"))).content == b"success"
    assert Event.objects.for_org(brand.org).filter(type="capture").count() == 1
    assert live_captures(live) == 1


def test_bad_signature_or_garbage_stores_nothing(client, brand, app):
    live = brand.live(promoters=["A"])
    xml = add_contact_xml(encode_state(live.public_id, "A"))
    assert post_callback(client, app, xml, token="not-the-token").status_code == 401
    assert post_callback(client, app, xml, corp="wwsomeoneelse").status_code == 401
    url = f"{app.callback_path}?timestamp=1&nonce=n&msg_signature=x"
    assert client.post(url, "not xml at all", content_type="text/xml").status_code == 400
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    assert client.post(url, bomb, content_type="text/xml").status_code == 400
    assert post_callback(client, app, "<xml><broken>").status_code == 400
    assert client.post("/wecom/callback/no-such-key/", "<xml/>", content_type="text/xml").status_code == 404
    assert not Event.objects.for_org(brand.org).filter(type="capture").exists()


def test_other_contact_events_are_acknowledged_and_dropped(client, brand, app):
    xml = add_contact_xml().replace("add_external_contact", "del_external_contact")
    assert post_callback(client, app, xml).content == b"success"
    assert not Event.objects.for_org(brand.org).exists()


@pytest.mark.parametrize("state", ["garbage", "L1.P1.x", "Lnotalive.A", ""])
def test_a_bad_or_foreign_state_still_records_the_capture_without_a_live(client, brand, outsider, app, state):
    foreign = outsider.live(promoters=["A"])
    state = state.replace("Lnotalive", foreign.public_id)
    assert post_callback(client, app, add_contact_xml(state)).content == b"success"
    stored = Event.objects.for_org(brand.org).get(type="capture")
    assert stored.live_id is None and stored.promoter_id is None
    assert stored.promoter_code == ("A" if state.endswith(".A") else None)
    assert not Event.objects.for_org(outsider.org).filter(type="capture").exists()


def test_a_cancelled_live_keeps_the_capture_outside_it(client, brand, app):
    from liveloop.actions.lives import cancel_live
    live = brand.live(promoters=["A"])
    cancel_live(live)
    assert post_callback(client, app, add_contact_xml(encode_state(live.public_id, "A"))).content == b"success"
    assert Event.objects.for_org(brand.org).get(type="capture").live_id is None


# --- routing ------------------------------------------------------------------------------------


@pytest.fixture
def ways(brand):
    """A in store 静安店 with a code of their own; B in the same store without; C in no store."""
    live = brand.live(promoters=["A", "B", "C"])
    org = brand.org
    store = Team.objects.create(org=org, name="静安店")
    Promoter.objects.for_org(org).filter(code__in=["A", "B"]).update(team=store)
    a = Promoter.objects.for_org(org).get(code="A")
    ContactWay.objects.create(org=org, kind=ContactWay.PROMOTER, promoter=a, qr_url="https://wecom.example/a")
    ContactWay.objects.create(org=org, kind=ContactWay.TEAM, team=store, qr_url="https://wecom.example/store")
    ContactWay.objects.create(org=org, kind=ContactWay.BRAND, qr_url="https://wecom.example/brand")
    assert brand.send([event("v1", "reservation", live.public_id, "viewer-a", promoter="A"),
                       event("v2", "room_enter", live.public_id, "viewer-b", promoter="B"),
                       event("v3", "room_enter", live.public_id, "viewer-c", promoter="C"),
                       event("v4", "room_enter", live.public_id, "viewer-n")]).json()["accepted"] == 4
    return live


@pytest.mark.parametrize("viewer, target", [
    ("viewer-a", "https://wecom.example/a"),       # bound to A, who has a code
    ("viewer-b", "https://wecom.example/store"),   # bound to B: B's store's code
    ("viewer-c", "https://wecom.example/brand"),   # bound to C, in no store: the brand's
    ("viewer-n", "https://wecom.example/brand"),   # natural traffic: the brand's
    ("never-seen", "https://wecom.example/brand"),
])
def test_route_sends_the_viewer_to_who_earned_them(client, brand, ways, viewer, target):
    assert contact_for(brand.org, ways, viewer).qr_url == target
    response = client.get(route_link(ways, viewer))
    assert response.status_code == 302 and response["Location"] == target


def test_route_without_any_code_shows_a_page(client, brand):
    live = brand.live(promoters=["A"])
    response = client.get(route_link(live, "viewer-x"))
    assert response.status_code == 200 and not response.has_header("Location")
    assert gettext("There is no contact code to add yet. Please check back later.") in response.content.decode()


def test_a_tampered_or_foreign_link_is_404(client, brand, outsider, ways):
    link = route_link(ways, "viewer-a")
    prefix, signed, _ = link.rsplit("/", 2)
    flipped = signed[:-1] + ("A" if signed[-1] != "A" else "B")
    assert client.get(f"{prefix}/{flipped}/").status_code == 404
    unsalted = signing.dumps([ways.public_id, "viewer-b"], compress=True)
    assert client.get(f"{prefix}/{unsalted}/").status_code == 404
    assert client.get(f"{prefix}/viewer-a/").status_code == 404
    foreign = outsider.live()
    # A valid link for one live opens no other live, of this or another org.
    assert client.get(link.replace(ways.public_id, foreign.public_id)).status_code == 404
    assert client.get(route_link(foreign, "viewer-a").replace(foreign.public_id, ways.public_id)).status_code == 404
    assert client.get(link).status_code == 302


def test_one_code_per_promoter_team_and_brand(brand):
    from django.db import IntegrityError, transaction
    ContactWay.objects.create(org=brand.org, kind=ContactWay.BRAND, qr_url="https://wecom.example/1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactWay.objects.create(org=brand.org, kind=ContactWay.BRAND, qr_url="https://wecom.example/2")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactWay.objects.create(org=brand.org, kind=ContactWay.PROMOTER, qr_url="https://wecom.example/3")
