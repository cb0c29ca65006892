"""The demo's shop path: emulator → signed push over HTTP → push view → worker → figures, and
`liveloop demo-shop` against a seeded demo."""
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from django.test import Client

from liveloop.analytics.models import LiveStats, PromoterStats
from liveloop.cli import main
from liveloop.demo.seed import DEMO_PASSWORD, DEMO_SLUG, DEMO_USER, seed_demo
from liveloop.demo.shop import DEMO_APPID, SHARER_PREFIX, drive, ensure_shop
from liveloop.events import rebuild
from liveloop.events.models import Event
from liveloop.integrations.models import PushMessage, Shop, ShopLive
from liveloop.promoters.models import Promoter
from liveloop.rules.attribution import LIVE
from tests.actors import event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def totals(org, live):
    rows = PromoterStats.objects.for_org(org).filter(live=live)
    return (sum(r.orders for r in rows), sum(r.gmv for r in rows), sum(r.refunded for r in rows))


def assert_rebuilds_exactly(org):
    attribution, problems = rebuild.replay(org)
    assert problems + rebuild.differences(org, attribution) == []


def test_ensure_shop_connects_maps_and_names_sharers_once(brand):
    live = brand.live(promoters=["A", "B"])
    shop = ensure_shop(brand.org, live)
    assert ensure_shop(brand.org, live) == shop
    assert Shop.objects.for_org(brand.org).count() == 1
    assert ShopLive.objects.for_org(brand.org).get().live == live
    assert len(shop.encoding_aes_key) == 43 and shop.appid == DEMO_APPID
    assert sorted(Promoter.objects.for_org(brand.org).values_list("openid", flat=True)) == [
        f"{SHARER_PREFIX}A", f"{SHARER_PREFIX}B"]


def test_driven_orders_reach_the_figures_through_the_push_endpoint(brand, live_server):
    live = brand.live(promoters=["A", "B", "C"], announced_at=datetime.now(timezone.utc))
    brand.send([event("r1", "reservation", live.public_id, "oReserver1", promoter="C",
                      at=datetime.now(timezone.utc).replace(microsecond=0))])
    lines = []
    accepted = drive(brand.org, live_server.url, count=20, interval=0, emulator_port=0, live=live, seed=7,
                     echo=lines.append, sleep=lambda seconds: None)
    assert accepted == 20
    live.refresh_from_db()
    assert live.state == LIVE  # it went on air to sell
    assert lines[1] == f"watch the live room: {live_server.url}/lives/{live.public_id}/room/"
    assert set(PushMessage.objects.for_org(brand.org).values_list("state", flat=True)) == {PushMessage.DONE}
    events = Event.objects.for_org(brand.org).filter(source="wechat")
    pays = [e for e in events if e.type == "order_paid"]
    refunds = [e for e in events if e.type == "order_refund"]
    assert len(pays) + len(refunds) == 20 and refunds  # seed 7 refunds some
    orders, gmv, refunded = totals(brand.org, live)
    assert (orders, gmv, refunded) == (len(pays), sum(e.amount for e in pays), sum(e.amount for e in refunds))
    # Sharers' orders went to their promoters.
    assert any(e.promoter and e.promoter.code in "ABC" for e in pays)
    assert LiveStats.objects.for_org(brand.org).get(live=live).live == live
    assert_rebuilds_exactly(brand.org)


def test_demo_shop_command_sells_into_the_seeded_demo(live_server):
    seed_demo(seed=1, scale=0.005, echo=lambda line: None)
    org_shop = Shop.objects.get(appid=DEMO_APPID)  # the seed connected it
    live = ShopLive.objects.get(shop=org_shop).live
    assert live.state == "scheduled"
    before = totals(org_shop.org, live)

    result = CliRunner().invoke(main, ["demo-shop", "--url", live_server.url, "--count", "4",
                                       "--interval", "0.1", "--emulator-port", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("4 pushes accepted")
    live.refresh_from_db()
    assert live.state == LIVE
    after = totals(org_shop.org, live)
    assert after[0] > before[0] and after[1] > before[1]

    # The operator's live room shows them.
    client = Client()
    assert client.login(username=DEMO_USER, password=DEMO_PASSWORD)
    page = client.get(f"/lives/{live.public_id}/room/data/")
    assert page.status_code == 200
    assert sum(minute.orders for minute in page.context["minutes"]) >= after[0] - before[0]
    assert_rebuilds_exactly(org_shop.org)
    assert org_shop.org.slug == DEMO_SLUG
