"""A WeChat payload missing optional fields still records its order or refund (issue #15 part 3);
one that truly cannot be used is shown on the shop page with its reason and can be retried."""
from datetime import datetime, timezone

import pytest
from django.test import Client

from liveloop.events.models import Event, Order
from liveloop.integrations.models import PushMessage
from liveloop.integrations.wechat import mapping
from liveloop.integrations.wechat.emulator import aftersale, aftersale_push
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from tests.actors import BUYER, sample
from tests.actors import push, run

ORDER = "3721459812034568192"


def test_a_refund_whose_detail_has_no_times_falls_back_to_the_pushs_create_time(seeded, shop,
                                                                                live_with_sharer):
    push(shop, sample("push_order_pay"))
    detail = aftersale("1930478300", ORDER, BUYER, 2_000, 1764331500)
    del detail["create_time"], detail["update_time"]
    seeded.store.aftersales[detail["after_sale_order_id"]] = detail
    update = aftersale_push("gh_x", {**detail, "update_time": 1764331555})
    push(shop, update)
    outcome = run()
    assert (outcome.done, outcome.failed, outcome.retrying) == (2, 0, 0)
    refund = Event.objects.for_org(shop.org).get(type="order_refund")
    assert refund.at == datetime.fromtimestamp(1764331555, timezone.utc)  # the push's CreateTime
    assert Order.objects.for_org(shop.org).get().refunded == 2_000


def test_a_refund_detail_missing_optional_fields_takes_them_from_its_push(seeded, shop, live_with_sharer):
    push(shop, sample("push_order_pay"))
    detail = aftersale("1930478301", ORDER, BUYER, 900, 1764331600)
    update = aftersale_push("gh_x", detail)
    for name in ("order_id", "openid", "status", "type", "create_time", "update_time"):
        del detail[name]
    seeded.store.aftersales[detail["after_sale_order_id"]] = detail
    push(shop, update)
    assert run().done == 2
    refund = Event.objects.for_org(shop.org).get(type="order_refund")
    assert (refund.order, refund.viewer, refund.amount) == (ORDER, BUYER, 900)
    assert refund.at == datetime.fromtimestamp(1764331600, timezone.utc)


def test_a_pay_detail_without_pay_time_falls_back_to_the_pushs_create_time(seeded, shop, live_with_sharer):
    order = seeded.store.orders[ORDER]
    del order["order_detail"]["pay_info"]
    del order["openid"]
    message = sample("push_order_pay")
    del message["order_info"]["pay_time"]
    push(shop, message)
    assert run().done == 1
    paid = Event.objects.for_org(shop.org).get(type="order_paid")
    assert paid.at == datetime.fromtimestamp(message["CreateTime"], timezone.utc)
    assert paid.viewer == message["FromUserName"] == BUYER
    assert paid.amount == 12_900 and paid.promoter.code == "A"


@pytest.mark.parametrize("times, expected", [
    ((None, "x", 1764331555), 1764331555),
    ((True, 1764331000, None), 1764331000),
    (("1764331200", None, None), 1764331200),
])
def test_the_first_usable_time_wins(times, expected):
    assert mapping._at(*times) == datetime.fromtimestamp(expected, timezone.utc).isoformat()


def test_no_usable_time_at_all_is_a_mapping_error():
    with pytest.raises(mapping.MappingError, match="no usable time"):
        mapping._at(None, "soon", 10 ** 30)


@pytest.fixture
def settings_owner(brand):
    add_member(brand.org, "shopkeeper", Member.OWNER, password="pw")
    client = Client()
    client.force_login(Member.objects.get(user__username="shopkeeper").user)
    return client


def test_an_unusable_payload_is_shown_with_its_reason_and_a_retry_records_it(seeded, shop, live_with_sharer,
                                                                              settings_owner):
    order = seeded.store.orders[ORDER]
    price = order["order_detail"].pop("price_info")  # no amount: nothing to record
    push(shop, sample("push_order_pay"))
    assert run().failed == 1
    message = PushMessage.objects.for_org(shop.org).get()
    assert message.state == PushMessage.FAILED and "order_price" in message.last_error

    page = settings_owner.get(f"/settings/shops/{shop.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = page.content.decode()
    assert f'id="failed-{message.pk}"' in html
    assert "订单、买家或金额" in html  # the reason, in Chinese

    order["order_detail"]["price_info"] = price  # the shop's data corrected
    response = settings_owner.post(f"/settings/shops/{shop.pk}/pushes/{message.pk}/retry/")
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.state, message.attempts) == (PushMessage.QUEUED, 0)
    # A second click finds nothing to retry and changes nothing.
    settings_owner.post(f"/settings/shops/{shop.pk}/pushes/{message.pk}/retry/")
    message.refresh_from_db()
    assert message.state == PushMessage.QUEUED
    assert run().done == 1
    assert Order.objects.for_org(shop.org).get(order=ORDER).paid == 12_900


def test_a_push_of_another_shop_or_organisation_is_not_retried(seeded, shop, live_with_sharer, settings_owner,
                                                               outsider):
    from liveloop.integrations.models import Shop
    theirs = Shop.objects.create(org=outsider.org, name="别家小店", appid="wxother0000001", token="Tok3n",
                                 encoding_aes_key="A" * 43, app_secret="s" * 20)
    foreign = PushMessage.objects.create(org=outsider.org, shop=theirs, msg_key="k", event="x", payload={},
                                         state=PushMessage.FAILED, last_error="unexpected detail: x")
    assert settings_owner.post(f"/settings/shops/{shop.pk}/pushes/{foreign.pk}/retry/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.state == PushMessage.FAILED
