"""The 推客 client against the emulator: each endpoint in WeChat's documented shape (the
emulator's answers carry the sample payloads' fields), the kind choosing the endpoint, and the
failures a sync must tell apart."""
import urllib.request

import pytest

from liveloop.integrations.models import TuikeAccount
from liveloop.integrations.tuike.client import BadCredentials, ShopApiError, ShopUnavailable, TuikeClient
from liveloop.integrations.tuike import emulator as tuike_emulator
from tests.actors import NO_SLEEP, TUIKE_NOTICE, sample

SHARER = "wxsharer0000000a01"


def client(account, **options):
    return TuikeClient(account, **{**NO_SLEEP, **options})


def test_each_endpoint_answers_in_the_documented_shape(tuike_account, tuike_world):
    tuike_world.reservations[(TUIKE_NOTICE, SHARER)] = 12
    tuike_world.stats[("export/live1", SHARER)] = {"share_count": 5, "share_user_count": 1,
                                                   "join_count": 3, "join_user_count": 2}
    api = client(tuike_account)
    notices = api.notices()
    assert [n["notice_id"] for n in notices] == [n["notice_id"] for n in
                                                 sample("tuike_notice_list")["live_notice_record_list"]]
    assert set(notices[0]) == set(sample("tuike_notice_list")["live_notice_record_list"][0])
    assert api.reservation_count(TUIKE_NOTICE, SHARER) == 12
    assert api.live_stats("export/live1", SHARER, 1764000000, 1764086400) == \
        {k: v for k, v in sample("tuike_live_stats").items() if k not in ("errcode", "errmsg")}
    assert api.notice_share_link(TUIKE_NOTICE, SHARER)
    url = api.notice_qr_code(TUIKE_NOTICE, SHARER)
    with urllib.request.urlopen(url) as answer:
        assert answer.read().startswith(b"\x89PNG")
    sharers = api.bound_sharers()
    assert [s["sharer_appid"] for s in sharers] == [s["sharer_appid"] for s in
                                                   sample("tuike_bind_sharer_list")["sharer_info_list"]]
    assert set(sharers[0]) == set(sample("tuike_bind_sharer_list")["sharer_info_list"][0])


def test_the_bound_sharer_list_follows_next_key_past_twenty(tuike_account, tuike_world):
    for n in range(45):
        tuike_world.add_sharer(f"wxmany{n:04d}")
    appids = [s["sharer_appid"] for s in client(tuike_account).bound_sharers()]
    assert len(appids) == 48 and len(set(appids)) == 48


def test_a_shop_linked_account_calls_the_shop_endpoints(tuike_account, tuike_world, emulator):
    tuike_account.kind = TuikeAccount.SHOP
    tuike_account.shop_appid, tuike_account.promoter_id = tuike_world.shop_appid, tuike_world.promoter_id
    api = client(tuike_account)
    assert api.notices()
    api.notice_qr_code(TUIKE_NOTICE, SHARER)
    api.notice_share_link(TUIKE_NOTICE, SHARER)
    assert {"/channels/ec/promoter/get_shop_live_notice_record_list",
            "/channels/ec/promoter/get_shop_live_notice_record_qr_code",
            "/channels/ec/promoter/get_shop_live_notice_promoter_share_link"} <= set(emulator.store.calls)
    assert not any("/get_live_notice_record" in c for c in emulator.store.calls)


def test_a_wrong_secret_is_bad_credentials(tuike_account, tuike_world):
    tuike_world.secret = "rotated"
    with pytest.raises(BadCredentials) as raised:
        client(tuike_account).notices()
    assert raised.value.errcode == 40001


def test_a_rate_limit_that_lasts_is_unavailable_and_a_short_one_is_retried(tuike_account, tuike_world, emulator):
    api = client(tuike_account, retries=2)
    api.access_token()
    emulator.store.scripted.extend([(200, {"errcode": 45009, "errmsg": "limit"})] * 3)
    with pytest.raises(ShopUnavailable):
        api.notices()
    emulator.store.scripted.extend([(200, {"errcode": 45009, "errmsg": "limit"})])
    assert api.notices()


def test_a_timeout_is_unavailable(tuike_account, tuike_world):
    tuike_world.stalls, tuike_world.stall_seconds = 1, 1.5
    with pytest.raises(ShopUnavailable):
        client(tuike_account, retries=0, timeout=0.3).notices()


def test_documented_programme_errors_come_back_as_their_code(tuike_account, tuike_world):
    api = client(tuike_account)
    with pytest.raises(ShopApiError) as raised:
        api.reservation_count(TUIKE_NOTICE, "wxnotbound")
    assert raised.value.errcode == tuike_emulator.BAD_SHARER
    tuike_world.closed = True
    with pytest.raises(ShopApiError) as raised:
        api.notices()
    assert raised.value.errcode == tuike_emulator.CLOSED
