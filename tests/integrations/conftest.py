"""A connected shop for the `brand` tenant, a running shop API emulator, and signed pushes."""
import json
import urllib.parse
from pathlib import Path

import pytest

from liveloop.integrations.models import Shop, ShopLive
from liveloop.integrations.wechat.client import forget_tokens
from liveloop.integrations.wechat.emulator import EmulatorServer, Store, signed_push
from liveloop.promoters.models import Promoter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wechat"
APPID = "wx5f3a9c1d2e7b0a11"
SECRET = "shop-secret-for-tests"
TOKEN = "pushtoken123"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CHANNELS_LIVE = "export/UzFfAgtgekIEAQAAAAAAb4MLive"
SHARER = "oSharer_Lk3Jh7Gf1Ds5Aq9Wz"
BUYER = "oBuyer_7Hx2kQ9mZp1sT4vW8yN3cR6d"


def sample(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def sample_text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def fresh_tokens():
    forget_tokens()
    yield
    forget_tokens()


@pytest.fixture
def shop(brand):
    return Shop.objects.create(org=brand.org, name="山茶集小店", appid=APPID, token=TOKEN,
                               encoding_aes_key=AES_KEY, app_secret=SECRET)


@pytest.fixture
def emulator(settings):
    server = EmulatorServer(Store(appid=APPID, secret=SECRET, token=TOKEN, aes_key=AES_KEY)).start()
    settings.LIVELOOP_WECHAT_API_BASE = server.base_url
    yield server
    server.stop()


@pytest.fixture
def seeded(emulator):
    """The emulator holding the sample order, after-sale, sharers and sharer orders."""
    store = emulator.store
    order = sample("order_get")["order"]
    store.orders[order["order_id"]] = order
    aftersale = sample("aftersale_get")["after_sale_order"]
    store.aftersales[aftersale["after_sale_order_id"]] = aftersale
    store.sharers.extend(sample("sharer_list")["sharer_info_list"])
    store.sharer_orders.extend(sample("sharer_order_list")["order_list"])
    return emulator


@pytest.fixture
def live_with_sharer(brand, shop):
    """A live mapped to the sample's Channels live; promoter A sells as the sample's sharer."""
    live = brand.live(promoters=["A", "B"])
    Promoter.objects.for_org(brand.org).filter(code="A").update(openid=SHARER)
    ShopLive.objects.create(org=brand.org, shop=shop, channels_live_id=CHANNELS_LIVE, live=live)
    return live


def post_push(client, shop, message, token=TOKEN, aes_key=AES_KEY, appid=APPID, **overrides):
    query, body = signed_push(token, aes_key, appid, message)
    query.update(overrides)
    return client.post(f"{shop.push_path}?{urllib.parse.urlencode(query)}",
                       body, content_type="application/json")
