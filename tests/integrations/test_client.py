"""The shop API client against the emulator: token caching and refresh, errors, retries."""
import socket

import pytest

from liveloop.integrations.wechat.client import ShopApiError, ShopClient, ShopUnavailable
from tests.actors import APPID, SECRET, SHARER


def make_client(base_url, secret=SECRET, **options):
    sleeps = []
    client = ShopClient(base_url, APPID, secret, sleep=sleeps.append, **options)
    return client, sleeps


def token_calls(store):
    return store.calls.count("/cgi-bin/token")


def test_order_detail_in_the_documented_shape(seeded):
    client, _ = make_client(seeded.base_url)
    order = client.order_detail("3721459812034568192")
    assert order["order_detail"]["price_info"]["order_price"] == 12900
    assert order["order_detail"]["sharer_info"]["sharer_openid"] == SHARER


def test_aftersale_detail(seeded):
    client, _ = make_client(seeded.base_url)
    detail = client.aftersale_detail("1930478251")
    assert detail["refund_info"]["amount"] == 12900
    assert detail["status"] == "MERCHANT_REFUND_SUCCESS"


def test_sharer_endpoints(seeded):
    client, _ = make_client(seeded.base_url)
    assert [s["openid"] for s in client.sharer_list()] == [SHARER, "oSharer_Mn8Bv4Cx0Za6Sd2Fg"]
    assert client.sharer_list(page=2, page_size=1)[0]["nickname"] == "宝妈社群-阿珍"
    orders = client.sharer_orders(start_time=1764000000, end_time=1764400000, openid=SHARER)
    assert orders[0]["finder_scene_info"]["live_export_id"] == "export/UzFfAgtgekIEAQAAAAAAb4MLive"
    assert client.sharer_orders(start_time=0, end_time=1, openid="oNobody") == []
    qr = client.sharer_bind_qr(username="xiaolin")
    assert qr["qrcode_img"] and qr["username"] == "xiaolin"
    assert seeded.store.calls[-1] == "/channels/ec/sharer/bind"


def test_page_size_above_100_is_refused_before_any_call(seeded):
    client, _ = make_client(seeded.base_url)
    with pytest.raises(ValueError):
        client.sharer_list(page_size=101)
    assert seeded.store.calls == []


def test_the_token_is_fetched_once_and_cached(seeded):
    client, _ = make_client(seeded.base_url)
    client.order_detail("3721459812034568192")
    client.aftersale_detail("1930478251")
    # A second client in the same process shares the cache.
    make_client(seeded.base_url)[0].sharer_list()
    assert token_calls(seeded.store) == 1


def test_an_invalid_token_40001_is_refreshed_once(seeded):
    client, _ = make_client(seeded.base_url)
    client.order_detail("3721459812034568192")
    seeded.store.expire_tokens()
    assert client.order_detail("3721459812034568192")["order_id"] == "3721459812034568192"
    assert token_calls(seeded.store) == 2


def test_a_token_that_stays_invalid_is_an_error(seeded):
    client, _ = make_client(seeded.base_url)
    seeded.store.scripted += [(200, {"access_token": "stale", "expires_in": 7200}),
                              (200, {"errcode": 40001, "errmsg": "invalid credential"}),
                              (200, {"access_token": "stale", "expires_in": 7200}),
                              (200, {"errcode": 40001, "errmsg": "invalid credential"})]
    with pytest.raises(ShopApiError) as raised:
        client.order_detail("3721459812034568192")
    assert raised.value.errcode == 40001


def test_a_wrong_secret_is_an_api_error(seeded):
    client, _ = make_client(seeded.base_url, secret="wrong")
    with pytest.raises(ShopApiError) as raised:
        client.order_detail("3721459812034568192")
    assert raised.value.errcode == 40125
    assert "wrong" not in str(raised.value)


def test_errcode_is_raised_with_its_message(seeded):
    client, _ = make_client(seeded.base_url)
    with pytest.raises(ShopApiError) as raised:
        client.order_detail("1")
    assert raised.value.errcode == 100002
    assert raised.value.errmsg == "order not exist"


def test_server_errors_and_busy_answers_are_retried_with_backoff(seeded):
    client, sleeps = make_client(seeded.base_url, retries=3, backoff=0.5)
    client.access_token()
    seeded.store.scripted += [(500, None), (200, {"errcode": -1, "errmsg": "system busy"}),
                              (200, {"errcode": 45009, "errmsg": "reach max api daily quota limit"})]
    assert client.order_detail("3721459812034568192")["order_id"] == "3721459812034568192"
    assert sleeps == [0.5, 1.0, 2.0]


def test_retries_run_out(seeded):
    client, sleeps = make_client(seeded.base_url, retries=2, backoff=0.1)
    client.access_token()
    seeded.store.scripted += [(500, None)] * 3
    with pytest.raises(ShopUnavailable):
        client.order_detail("3721459812034568192")
    assert sleeps == [0.1, 0.2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_is_unavailable_after_retries():
    client, sleeps = make_client(f"http://127.0.0.1:{closed_port()}", retries=2, backoff=0.1, timeout=1)
    with pytest.raises(ShopUnavailable) as raised:
        client.order_detail("3721459812034568192")
    assert len(sleeps) == 2
    assert SECRET not in str(raised.value)


def test_the_client_does_not_show_its_secret(seeded):
    assert SECRET not in repr(make_client(seeded.base_url)[0])


def test_the_emulator_control_endpoint_adds_a_sharer(emulator):
    import json
    import urllib.request

    request = urllib.request.Request(f"{emulator.base_url}/emulator/sharer", method="POST",
                                     data=json.dumps({"openid": "oNew", "nickname": "新分享员"}).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read()) == {"ok": True}
    client, _ = make_client(emulator.base_url)
    assert [(s["openid"], s["nickname"]) for s in client.sharer_list()] == [("oNew", "新分享员")]
