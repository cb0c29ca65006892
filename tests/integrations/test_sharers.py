"""Sharer sync, linking and back-fill against the shop API emulator."""
from datetime import datetime, timezone

import pytest
from django.test import Client

from liveloop.events.models import Event, Order
from liveloop.integrations.wechat import worker
from liveloop.integrations.wechat.emulator import order, pay_push
from liveloop.integrations.wechat.sharers import LinkError, backfill, link_promoter, sync_sharers
from liveloop.promoters.models import Promoter
from tests.actors import CHANNELS_LIVE, SHARER, post_push, sample

OTHER_SHARER = "oSharer_Mn8Bv4Cx0Za6Sd2Fg"
SINCE = datetime(2025, 11, 1, tzinfo=timezone.utc)
UNTIL = datetime(2025, 12, 1, tzinfo=timezone.utc)
NO_SLEEP = {"sleep": lambda seconds: None}


def promoter(org, code):
    return Promoter.objects.for_org(org).get(code=code)


def sharer_order(order_id, sharer=SHARER, live_id=CHANNELS_LIVE):
    return {"order_id": order_id, "share_scene": 1, "sharer_openid": sharer, "sharer_type": 0,
            "sku_id": "780750393", "product_id": "10000184868", "from_wecom": False,
            "finder_scene_info": {"promoter_id": "", "finder_nickname": "品牌官方视频号",
                                  "live_export_id": live_id, "video_export_id": "", "video_title": ""}}


def add_order(store, order_id, amount, sharer=SHARER, live_id=CHANNELS_LIVE, buyer="oBuyerX"):
    store.orders[order_id] = order(order_id, buyer, amount, live_id, 1764158000, sharer_openid=sharer)
    store.sharer_orders.append(sharer_order(order_id, sharer, live_id))


def test_sync_links_by_openid_and_reports_the_unmatched(seeded, shop, live_with_sharer):
    report = sync_sharers(shop)
    assert report.linked == [{"openid": SHARER, "nickname": "杭州西湖店-小林", "promoter": "A"}]
    assert report.unmatched == [{"openid": OTHER_SHARER, "nickname": "宝妈社群-阿珍", "suggestion": None}]
    assert report.not_in_shop == []


def test_sync_reads_every_page_and_suggests_but_never_links_by_nickname(emulator, brand, shop):
    brand.live(promoters=["A"])
    Promoter.objects.for_org(brand.org).filter(code="A").update(name="阿珍")
    emulator.store.sharers.extend({"openid": f"oS{n:03}", "nickname": f"n{n}", "bind_time": 1, "sharer_type": 0,
                                   "unionid": ""} for n in range(150))
    emulator.store.sharers.append({"openid": "oLast", "nickname": "阿珍", "bind_time": 1, "sharer_type": 0,
                                   "unionid": ""})
    report = sync_sharers(shop)
    assert report.total == 151
    assert report.unmatched[-1] == {"openid": "oLast", "nickname": "阿珍", "suggestion": "A"}
    assert promoter(brand.org, "A").openid == ""


def test_a_linked_promoter_missing_from_the_shop_is_reported(seeded, brand, shop, live_with_sharer):
    Promoter.objects.for_org(brand.org).filter(code="B").update(openid="oGoneSharer")
    assert sync_sharers(shop).not_in_shop == ["B"]


def test_link_sets_the_openid_and_refuses_one_held_by_another_promoter(brand, shop, live_with_sharer):
    link_promoter(promoter(brand.org, "B"), OTHER_SHARER)
    assert promoter(brand.org, "B").openid == OTHER_SHARER
    with pytest.raises(LinkError, match="A"):
        link_promoter(promoter(brand.org, "B"), SHARER)
    assert promoter(brand.org, "B").openid == OTHER_SHARER
    # Relinking the same promoter to its own openid is no conflict.
    link_promoter(promoter(brand.org, "A"), SHARER)


def test_the_same_openid_may_be_linked_in_another_organisation(brand, outsider, shop, live_with_sharer):
    outsider.live(promoters=["Z"])
    link_promoter(promoter(outsider.org, "Z"), SHARER)
    assert promoter(outsider.org, "Z").openid == SHARER


def test_backfill_credits_the_linked_promoter_and_is_idempotent(seeded, shop, live_with_sharer):
    add_order(seeded.store, "900100", 5900, sharer=OTHER_SHARER)
    report = backfill(shop, SINCE, UNTIL)
    assert (report.orders, report.accepted, report.duplicates) == (2, 2, 0)
    paid = Event.objects.for_org(shop.org).get(eid="wx:wx5f3a9c1d2e7b0a11:pay:3721459812034568192")
    assert (paid.type, paid.amount, paid.order, paid.source) == ("order_paid", 12900, "3721459812034568192", "wechat")
    assert paid.promoter.code == "A"
    # The other sharer is linked to no promoter: the order counts, credited to no one.
    assert Event.objects.for_org(shop.org).get(order="900100").promoter is None

    again = backfill(shop, SINCE, UNTIL)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert Event.objects.for_org(shop.org).count() == 2
    assert Order.objects.for_org(shop.org).get(order="3721459812034568192").paid == 12900


def test_an_order_received_by_push_is_a_duplicate_in_backfill(seeded, shop, live_with_sharer):
    assert post_push(Client(), shop, sample("push_order_pay")).content == b"success"
    assert worker.process(client_options=NO_SLEEP).done == 1
    report = backfill(shop, SINCE, UNTIL)
    assert (report.accepted, report.duplicates) == (0, 1)
    assert Event.objects.for_org(shop.org).count() == 1


def test_a_pushed_order_after_backfill_changes_nothing(seeded, shop, live_with_sharer):
    backfill(shop, SINCE, UNTIL)
    detail = seeded.store.orders["3721459812034568192"]
    assert post_push(Client(), shop, pay_push("gh_x", detail)).content == b"success"
    assert worker.process(client_options=NO_SLEEP).done == 1
    assert Event.objects.for_org(shop.org).count() == 1


def test_orders_of_unmapped_lives_are_reported_not_ingested(seeded, shop, live_with_sharer):
    add_order(seeded.store, "900200", 3900, live_id="export/Unmapped")
    add_order(seeded.store, "900201", 4900, live_id="export/Unmapped")
    report = backfill(shop, SINCE, UNTIL)
    assert report.unmapped == {"export/Unmapped": 2}
    assert report.accepted == 1
    assert not Event.objects.for_org(shop.org).filter(order__in=["900200", "900201"]).exists()


def test_backfill_pages_through_long_lists(emulator, shop, live_with_sharer):
    for n in range(130):
        add_order(emulator.store, str(910000 + n), 100 + n)
    report = backfill(shop, SINCE, UNTIL)
    assert (report.orders, report.accepted) == (130, 130)
    assert sum(Event.objects.for_org(shop.org).values_list("amount", flat=True)) == sum(100 + n for n in range(130))


def test_an_order_without_payment_is_rejected_with_its_id(emulator, shop, live_with_sharer):
    add_order(emulator.store, "920000", 100)
    del emulator.store.orders["920000"]["order_detail"]["pay_info"]["pay_time"]
    report = backfill(shop, SINCE, UNTIL)
    assert report.accepted == 0
    assert report.rejected[0]["order"] == "920000"


def test_an_empty_or_reversed_range_is_refused_before_any_call(emulator, shop):
    with pytest.raises(ValueError):
        backfill(shop, UNTIL, SINCE)
    assert emulator.store.calls == []
