"""The push endpoint: URL check, verification, storage, idempotency, refusal, tenancy."""
import json
import urllib.parse

import pytest
from django.test import Client

from liveloop.integrations.models import PushMessage, Shop
from liveloop.integrations.wechat.crypto import signature
from liveloop.integrations.wechat.emulator import signed_push
from tests.actors import AES_KEY, APPID, TOKEN, post_push, sample, sample_text

OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"


@pytest.fixture
def client():
    return Client()


def test_url_check_echoes_echostr(client, shop):
    query = {"timestamp": "1764158462", "nonce": "42", "echostr": "5838479218127813673",
             "signature": signature(TOKEN, "1764158462", "42")}
    response = client.get(shop.push_path, query)
    assert response.status_code == 200
    assert response.content == b"5838479218127813673"


def test_url_check_with_a_bad_signature_is_refused(client, shop):
    query = {"timestamp": "1764158462", "nonce": "42", "echostr": "x",
             "signature": signature("wrong-token", "1764158462", "42")}
    assert client.get(shop.push_path, query).status_code == 401


def test_a_good_push_is_stored_and_answered_success(client, shop):
    response = post_push(client, shop, sample_text("push_order_pay"))
    assert response.status_code == 200
    assert response.content == b"success"
    message = PushMessage.objects.for_org(shop.org).get()
    assert message.shop == shop
    assert message.state == PushMessage.QUEUED
    assert message.event == "channels_ec_order_pay"
    # The sample sends order_id as a JSON number; it is kept exactly, as a string.
    assert message.payload["order_info"]["order_id"] == "3721459812034568192"
    assert message.msg_key == "channels_ec_order_pay:3721459812034568192:1764158462"


def test_a_retried_push_stores_nothing_new(client, shop):
    for _ in range(3):  # WeChat re-sends with a fresh nonce, and encrypts again
        assert post_push(client, shop, sample("push_order_pay")).content == b"success"
    assert PushMessage.objects.for_org(shop.org).count() == 1


def test_two_status_updates_of_one_aftersale_are_two_messages(client, shop):
    first = sample("push_aftersale_update")
    first["finder_shop_aftersale_status_update"]["status"] = "USER_CREATE_AFTERSALE"
    first["CreateTime"] = 1764300000
    post_push(client, shop, first)
    post_push(client, shop, sample("push_aftersale_update"))
    assert PushMessage.objects.for_org(shop.org).count() == 2


def test_a_bad_msg_signature_is_401_and_stores_nothing(client, shop):
    response = post_push(client, shop, sample("push_order_pay"), msg_signature="0" * 40)
    assert response.status_code == 401
    assert not PushMessage.objects.exists()


def test_a_message_for_another_appid_is_401_and_stores_nothing(client, shop):
    response = post_push(client, shop, sample("push_order_pay"), appid="wx0000000000000000")
    assert response.status_code == 401
    assert not PushMessage.objects.exists()


def test_a_message_under_another_key_is_400_and_stores_nothing(client, shop):
    # Signed with the right token but encrypted with another key: decrypts to noise.
    response = post_push(client, shop, sample("push_order_pay"), aes_key=OTHER_KEY)
    assert response.status_code in (400, 401)
    assert not PushMessage.objects.exists()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"Encrypt": 5}', b'{"ToUserName": "gh"}'])
def test_garbage_bodies_are_400(client, shop, body):
    query = {"timestamp": "1", "nonce": "2", "msg_signature": "0" * 40}
    response = client.post(f"{shop.push_path}?{urllib.parse.urlencode(query)}", body,
                           content_type="application/json")
    assert response.status_code == 400
    assert not PushMessage.objects.exists()


def test_signed_garbage_ciphertext_is_400(client, shop):
    encrypted = "bm90IGEgbWVzc2FnZQ=="
    query = {"timestamp": "1", "nonce": "2", "msg_signature": signature(TOKEN, "1", "2", encrypted)}
    response = client.post(f"{shop.push_path}?{urllib.parse.urlencode(query)}",
                           json.dumps({"Encrypt": encrypted}), content_type="application/json")
    assert response.status_code == 400
    assert not PushMessage.objects.exists()


def test_a_decrypted_message_that_is_not_json_is_400(client, shop):
    assert post_push(client, shop, "<xml>not json</xml>").status_code == 400
    assert not PushMessage.objects.exists()


def test_an_unknown_push_key_is_404(client, shop):
    query, body = signed_push(TOKEN, AES_KEY, APPID, sample("push_order_pay"))
    response = client.post(f"/wechat/push/nope/?{urllib.parse.urlencode(query)}", body,
                           content_type="application/json")
    assert response.status_code == 404


def test_another_orgs_shop_url_cannot_write_into_this_org(client, shop, outsider):
    theirs = Shop.objects.create(org=outsider.org, name="别家小店", appid="wx_outsider_app",
                                 token="their-token", encoding_aes_key=OTHER_KEY, app_secret="s")
    # Our shop's credentials posted to their URL: their token and key do not verify it.
    assert post_push(client, theirs, sample("push_order_pay")).status_code == 401
    # Their own genuine push lands in their organisation only.
    response = post_push(client, theirs, sample("push_order_pay"), token="their-token",
                         aes_key=OTHER_KEY, appid="wx_outsider_app")
    assert response.content == b"success"
    assert PushMessage.objects.for_org(outsider.org).count() == 1
    assert PushMessage.objects.for_org(shop.org).count() == 0


def test_push_keys_are_distinct_and_url_safe(shop, brand):
    other = Shop.objects.create(org=brand.org, name="第二家店", appid="wx_second", token="t",
                                encoding_aes_key=AES_KEY, app_secret="s")
    assert shop.push_key != other.push_key
    assert urllib.parse.quote(shop.push_key, safe="") == shop.push_key
    assert len(shop.push_key) >= 32
