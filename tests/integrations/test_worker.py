"""The worker: pushes → details from the (emulated) shop API → events through ingest."""
import socket
from datetime import datetime, timedelta, timezone

import pytest

from liveloop.events.models import Event, Order
from liveloop.integrations.models import PushMessage
from liveloop.integrations.wechat import worker
from liveloop.integrations.wechat.emulator import aftersale, aftersale_push, order, pay_push
from liveloop.promoters.models import Promoter
from tests.actors import BUYER, CHANNELS_LIVE, WORKER_NOW as NOW, push, run, sample


def test_a_pay_push_becomes_order_paid_credited_to_the_sharers_promoter(seeded, shop, live_with_sharer):
    push(shop, sample("push_order_pay"))
    outcome = run()
    assert outcome.done == 1
    paid = Event.objects.for_org(shop.org).get(type="order_paid")
    assert paid.eid == "wx:wx5f3a9c1d2e7b0a11:pay:3721459812034568192"
    assert paid.source == "wechat"
    assert paid.live == live_with_sharer
    assert paid.viewer == BUYER
    assert paid.order == "3721459812034568192"
    assert paid.amount == 12900
    assert paid.promoter == Promoter.objects.for_org(shop.org).get(code="A")
    assert paid.at == datetime.fromtimestamp(1764158461, timezone.utc)
    message = PushMessage.objects.for_org(shop.org).get()
    assert (message.state, message.attempts, message.last_error) == (PushMessage.DONE, 1, "")


def test_an_aftersale_push_becomes_order_refund(seeded, shop, live_with_sharer):
    push(shop, sample("push_order_pay"))
    push(shop, sample("push_aftersale_update"))
    assert run().done == 2
    refund = Event.objects.for_org(shop.org).get(type="order_refund")
    assert refund.eid == "wx:wx5f3a9c1d2e7b0a11:refund:1930478251"
    assert refund.amount == 12900
    assert refund.order == "3721459812034568192"
    credited = Order.objects.for_org(shop.org).get(order="3721459812034568192")
    assert (credited.paid, credited.refunded) == (12900, 12900)
    assert credited.promoter.code == "A"


def test_a_refund_before_its_pay_waits_for_the_pay(seeded, shop, live_with_sharer):
    push(shop, sample("push_aftersale_update"))
    assert run().retrying == 1
    push(shop, sample("push_order_pay"))
    # Oldest first: the refund is tried again before the pay in the same pass.
    assert run(NOW + timedelta(minutes=5)).done == 1
    assert run(NOW + timedelta(minutes=10)).done == 1
    assert Order.objects.for_org(shop.org).get().refunded == 12900


def test_an_order_without_a_sharer_is_unattributed_by_the_platform(seeded, shop, live_with_sharer):
    detail = order("900001", "oBuyerNoSharer", 5900, CHANNELS_LIVE, 1764158000)
    seeded.store.orders[detail["order_id"]] = detail
    push(shop, pay_push("gh_x", detail))
    run()
    assert Event.objects.for_org(shop.org).get().promoter is None


def test_a_sharer_without_a_promoter_credits_no_one(seeded, shop, live_with_sharer):
    detail = order("900002", "oBuyer2", 5900, CHANNELS_LIVE, 1764158000, sharer_openid="oStranger")
    seeded.store.orders[detail["order_id"]] = detail
    push(shop, pay_push("gh_x", detail))
    assert run().done == 1
    paid = Event.objects.for_org(shop.org).get()
    assert (paid.promoter, paid.promoter_code) == (None, None)


def test_a_sharer_of_another_org_credits_no_one(seeded, shop, live_with_sharer, outsider):
    outsider.live(promoters=["X"])
    Promoter.objects.for_org(outsider.org).filter(code="X").update(openid="oTheirSharer")
    detail = order("900003", "oBuyer3", 5900, CHANNELS_LIVE, 1764158000, sharer_openid="oTheirSharer")
    seeded.store.orders[detail["order_id"]] = detail
    push(shop, pay_push("gh_x", detail))
    run()
    assert Event.objects.for_org(shop.org).get().promoter is None
    assert not Event.objects.for_org(outsider.org).exists()


def test_an_order_from_an_unmapped_live_is_skipped(seeded, shop, live_with_sharer):
    detail = order("900004", "oBuyer4", 5900, "export/another-live", 1764158000)
    seeded.store.orders[detail["order_id"]] = detail
    push(shop, pay_push("gh_x", detail))
    assert run().skipped == 1
    message = PushMessage.objects.for_org(shop.org).get()
    assert message.state == PushMessage.SKIPPED
    assert "export/another-live" in message.last_error
    assert not Event.objects.exists()


def test_an_aftersale_without_money_back_is_skipped_without_a_call(seeded, shop, live_with_sharer):
    update = sample("push_aftersale_update")
    update["finder_shop_aftersale_status_update"]["status"] = "USER_CREATE_AFTERSALE"
    push(shop, update)
    assert run().skipped == 1
    assert "/channels/ec/aftersale/getaftersaleorder" not in seeded.store.calls


def test_other_events_are_skipped(seeded, shop):
    push(shop, {"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "event",
                "Event": "channels_ec_sharer_change", "openid": "o", "sharer_type": 0, "bind_status": 1})
    assert run().skipped == 1


def test_a_partial_refund_carries_the_refunded_amount(seeded, shop, live_with_sharer):
    push(shop, sample("push_order_pay"))
    partial = aftersale("1930478999", "3721459812034568192", BUYER, 4900, 1764331300)
    seeded.store.aftersales[partial["after_sale_order_id"]] = partial
    push(shop, aftersale_push("gh_x", partial))
    run()
    assert Order.objects.for_org(shop.org).get().refunded == 4900


def test_token_refresh_on_40001_during_work(seeded, shop, live_with_sharer):
    push(shop, sample("push_order_pay"))
    run()  # warms the token cache
    seeded.store.expire_tokens()
    push(shop, sample("push_aftersale_update"))
    assert run().done == 1
    assert seeded.store.calls.count("/cgi-bin/token") == 2


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_network_errors_back_off_then_fail_after_max_attempts(settings, shop, live_with_sharer):
    settings.LIVELOOP_WECHAT_API_BASE = f"http://127.0.0.1:{closed_port()}"
    settings.LIVELOOP_WECHAT_MAX_ATTEMPTS = 3
    push(shop, sample("push_order_pay"))
    assert run().retrying == 1
    message = PushMessage.objects.get()
    assert (message.state, message.attempts) == (PushMessage.QUEUED, 1)
    assert message.next_attempt_at == NOW + timedelta(seconds=30)
    assert "ConnectionRefusedError" in message.last_error or "refused" in message.last_error.lower()
    assert run(NOW + timedelta(seconds=29)).handled == 0  # not due yet
    assert run(NOW + timedelta(seconds=30)).retrying == 1
    message.refresh_from_db()
    assert message.next_attempt_at == NOW + timedelta(seconds=90)  # 30 s + 60 s
    assert run(NOW + timedelta(hours=1)).failed == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == (PushMessage.FAILED, 3)
    assert message.last_error
    assert run(NOW + timedelta(days=1)).handled == 0


def test_an_emulator_answering_500_is_retried_later(seeded, shop, live_with_sharer):
    seeded.store.scripted += [(500, None)] * 10
    push(shop, sample("push_order_pay"))
    assert run().retrying == 1
    seeded.store.scripted.clear()
    assert run(NOW + timedelta(minutes=1)).done == 1
    assert Event.objects.for_org(shop.org).count() == 1


def test_a_row_claimed_by_another_worker_is_not_taken(seeded, shop, live_with_sharer):
    push(shop, sample("push_order_pay"))
    PushMessage.objects.update(state=PushMessage.PROCESSING, claimed_at=NOW)
    assert run().handled == 0
    # A worker that died holding it: the row goes back to the queue after a while.
    assert run(NOW + worker.STALE + timedelta(seconds=1)).done == 1


def test_processing_twice_ingests_once(seeded, shop, live_with_sharer):
    push(shop, sample("push_order_pay"))
    run()
    PushMessage.objects.update(state=PushMessage.QUEUED)
    assert run().done == 1
    assert Event.objects.count() == 1


@pytest.mark.parametrize("attempts,seconds", [(1, 30), (2, 60), (5, 480), (20, 3600)])
def test_backoff_doubles_up_to_an_hour(attempts, seconds):
    assert worker.backoff(attempts) == timedelta(seconds=seconds)


def test_an_unforeseen_answer_is_retried_then_failed_not_left_claimed(settings, seeded, shop,
                                                                       live_with_sharer):
    settings.LIVELOOP_WECHAT_MAX_ATTEMPTS = 2
    # errcode 0 but no `order` object: the client cannot hand back a detail.
    seeded.store.scripted += [(200, {"access_token": "t", "expires_in": 7200}),
                              (200, {"errcode": 0, "errmsg": "ok"})] * 2
    push(shop, sample("push_order_pay"))
    assert run().retrying == 1
    assert run(NOW + timedelta(minutes=1)).failed == 1
    message = PushMessage.objects.get()
    assert message.state == PushMessage.FAILED
    assert "KeyError" in message.last_error
