"""Pushes made by someone else's implementation of WeChat's safe mode (wechatpy's
`WeChatCrypto`, pinned in requirements-dev.lock), sent over real HTTP to the running endpoint:
the orders land with the right promoters; replays and tampered pushes change nothing.

wechatpy writes the XML envelope of Official Accounts; the shop's push is the same ciphertext
and msg_signature in a JSON envelope, so the test lifts `Encrypt` and `MsgSignature` out of
wechatpy's XML and sends them the way the shop does (msg_signature in the query, JSON body).
"""
import base64
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto, _get_signature
from wechatpy.utils import WeChatSigner

from liveloop.analytics.models import PromoterStats
from liveloop.events import rebuild
from liveloop.events.models import Event
from liveloop.integrations.models import PushMessage
from liveloop.integrations.wechat import worker
from liveloop.integrations.wechat.emulator import aftersale, aftersale_push, order, pay_push
from liveloop.promoters.models import Promoter
from tests.actors import AES_KEY, APPID, CHANNELS_LIVE, SHARER, TOKEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SHARER_B = "oSharer_B_9Qe4Rt6Yu8Io0Pa2Sd"
NO_SLEEP = {"sleep": lambda seconds: None}
PAY_TIME = 1764158461


class Sent:
    """One push as it went over the wire, so it can be sent again byte for byte."""

    def __init__(self, query: dict, body: bytes):
        self.query, self.body = query, body


def reference_push(message: dict, appid: str = APPID, token: str = TOKEN) -> Sent:
    """Encrypt and sign with wechatpy, as WeChat would (fresh random prefix, nonce, time)."""
    timestamp = str(PAY_TIME + secrets.randbelow(1000))
    nonce = str(secrets.randbelow(10**9))
    text = json.dumps(message, ensure_ascii=False)
    envelope = xmltodict.parse(WeChatCrypto(token, AES_KEY, appid).encrypt_message(text, nonce, timestamp))["xml"]
    query = {"timestamp": envelope["TimeStamp"], "nonce": envelope["Nonce"], "encrypt_type": "aes",
             "msg_signature": envelope["MsgSignature"]}
    body = json.dumps({"ToUserName": "gh_5f3a9c1d2e7b", "Encrypt": envelope["Encrypt"]}).encode()
    return Sent(query, body)


def send(url: str, sent: Sent) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(sent.query)}", data=sent.body,
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def flip_byte(sent: Sent, position: int, resign: bool) -> Sent:
    """The same push with one ciphertext byte changed; re-signed with the Token only when
    `resign` (an attacker has no Token: without it the old signature no longer matches)."""
    envelope = json.loads(sent.body)
    raw = bytearray(base64.b64decode(envelope["Encrypt"]))
    raw[position] ^= 0x5A
    envelope["Encrypt"] = base64.b64encode(bytes(raw)).decode()
    query = dict(sent.query)
    if resign:
        query["msg_signature"] = _get_signature(TOKEN, query["timestamp"], query["nonce"], envelope["Encrypt"])
    return Sent(query, json.dumps(envelope).encode())


def state(org) -> dict:
    """Everything a push can change: stored messages, events and the promoters' figures."""
    return {
        "messages": sorted(PushMessage.objects.for_org(org).values_list("msg_key", "state")),
        "events": sorted(Event.objects.for_org(org).values_list("eid", flat=True)),
        "figures": sorted((code or "", *rest) for code, *rest in PromoterStats.objects.for_org(org)
                          .values_list("promoter__code", "orders", "gmv", "refunded", "buyers")),
    }


@pytest.fixture
def shop_orders(seeded, brand, live_with_sharer):
    """Three orders in the mapped live: one shared by A's openid, one by B's, one by nobody;
    and a partial refund of A's."""
    Promoter.objects.for_org(brand.org).filter(code="B").update(openid=SHARER_B)
    store = seeded.store
    orders = [order("3721459812034568192", "oBuyer_one", 12900, CHANNELS_LIVE, PAY_TIME, sharer_openid=SHARER),
              order("3721459812034568193", "oBuyer_two", 5900, CHANNELS_LIVE, PAY_TIME + 5,
                    sharer_openid=SHARER_B),
              order("3721459812034568194", "oBuyer_three", 1990, CHANNELS_LIVE, PAY_TIME + 9)]
    for detail in orders:
        store.orders[detail["order_id"]] = detail
    refund = aftersale("1930478299", orders[0]["order_id"], "oBuyer_one", 3000, PAY_TIME + 3600)
    store.aftersales[refund["after_sale_order_id"]] = refund
    return [pay_push("gh_5f3a9c1d2e7b", detail) for detail in orders] + [aftersale_push("gh_5f3a9c1d2e7b", refund)]


def test_reference_signed_pushes_are_attributed_and_replays_and_tampering_change_nothing(
        live_server, shop, shop_orders):
    url = f"{live_server.url}{shop.push_path}"
    org = shop.org

    # The URL check, signed by wechatpy's signer.
    check = {"timestamp": "1764158462", "nonce": "77", "echostr": "8817263548"}
    signer = WeChatSigner()
    signer.add_data(TOKEN, check["timestamp"], check["nonce"])
    check["signature"] = signer.signature
    with urllib.request.urlopen(f"{url}?{urllib.parse.urlencode(check)}", timeout=10) as response:
        assert response.read() == b"8817263548"

    sent = [reference_push(message) for message in shop_orders]
    assert [send(url, push) for push in sent] == [(200, "success")] * 4
    outcome = worker.process(client_options=NO_SLEEP)
    assert (outcome.done, outcome.failed, outcome.retrying) == (4, 0, 0)

    figures = {row.promoter.code if row.promoter else None: row
               for row in PromoterStats.objects.for_org(org).select_related("promoter")}
    assert (figures["A"].orders, figures["A"].gmv, figures["A"].refunded) == (1, 12900, 3000)
    assert (figures["B"].orders, figures["B"].gmv, figures["B"].refunded) == (1, 5900, 0)
    assert (figures[None].orders, figures[None].gmv) == (1, 1990)
    before = state(org)

    # WeChat's retries: the very same request, and the same message encrypted again.
    for push in sent:
        assert send(url, push) == (200, "success")
    for message in shop_orders:
        assert send(url, reference_push(message)) == (200, "success")

    # Tampered: a wrong signature, another appid (signed with the right Token), one ciphertext
    # byte flipped (under the old signature, and re-signed by someone holding the Token).
    pay = sent[0]
    bad_signature = Sent({**pay.query, "msg_signature": "0" * 40}, pay.body)
    assert send(url, bad_signature)[0] == 401
    assert send(url, reference_push(shop_orders[0], appid="wx0000000000000000")) == (401, "wrong appid")
    ciphertext_length = len(base64.b64decode(json.loads(pay.body)["Encrypt"]))
    for position in (0, 20, ciphertext_length // 2, ciphertext_length - 1):
        assert send(url, flip_byte(pay, position, resign=False))[0] == 401
    # Re-signed, a flip in the last block garbles the padding or the appid: refused either way.
    assert send(url, flip_byte(pay, ciphertext_length - 1, resign=True))[0] in (400, 401)
    assert send(url, flip_byte(pay, ciphertext_length - 20, resign=True))[0] in (400, 401)

    assert worker.process(client_options=NO_SLEEP).handled == 0
    assert state(org) == before
    attribution, problems = rebuild.replay(org)
    assert problems + rebuild.differences(org, attribution) == []
