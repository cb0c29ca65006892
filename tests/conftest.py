"""Fixtures shared by several folders of the suite (pytest finds a fixture in a conftest.py above
its user). The actors they build on, and every other shared helper, are in tests/actors.py."""
import os

import pytest
from django.test import Client
from hypothesis import HealthCheck, settings as hypothesis_settings

# Property tests must not fail because a shared machine was busy (too_slow), and in CI they
# replay the same examples every run (derandomize) so a red build always reproduces.
hypothesis_settings.register_profile(
    "liveloop", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI", "").lower() == "true")
hypothesis_settings.load_profile("liveloop")

from django.conf import settings as django_settings

# Servers and workers the tests start share this process's database, so they must share its
# secret key too (integration secrets are encrypted under it; links are signed with it), even
# when they are given a data directory of their own, where they would make another key.
os.environ.setdefault("LIVELOOP_SECRET_KEY", django_settings.SECRET_KEY)

from liveloop.integrations.models import Shop, ShopLive, TuikeAccount
from liveloop.integrations.wechat.client import forget_tokens
from liveloop.integrations.wechat.emulator import EmulatorServer, Store
from liveloop.money.plans import save_plan
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from liveloop.promoters.models import Promoter
from tests.actors import (AES_KEY, APPID, CHANNELS_LIVE, SECRET, SHARER, TOKEN, TUIKE_AES_KEY, TUIKE_APPID,
                          TUIKE_SECRET, TUIKE_TALENT, TUIKE_TOKEN, Tenant, ended_live, sample)


@pytest.fixture
def brand(db):
    return Tenant("山茶集")


@pytest.fixture
def outsider(db):
    return Tenant("别家品牌")


@pytest.fixture
def owner(brand):
    add_member(brand.org, "owner", Member.OWNER, password="correct horse battery")
    client = Client()
    assert client.login(username="owner", password="correct horse battery")
    return client


@pytest.fixture
def en(owner):
    """The owner's client with English chosen, so assertions read the msgids."""
    owner.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return owner


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The default hasher costs ~0.7 s a login; tests check who may log in, not the hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    # Rate-limit counters live in the (process-memory) cache: each test starts with none spent.
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def default_language():
    # A request activates its language in the thread; start every test from the default so
    # no test depends on which page the previous one rendered.
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def _media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def media_root(settings, _media_dir):
    # Uploaded brand images go to a directory of the run's, never the checkout's var/media.
    settings.MEDIA_ROOT = _media_dir
    return _media_dir


# Money (tests/money, and the pages and privacy tests that read a settled live): a 10% plan
# and a live that ended eight days ago, past the default seven-day refund window, so it can be
# settled now (pages use the real clock).

@pytest.fixture
def plan(brand):
    return save_plan(brand.org, None, name="标准方案", fields={"rate_bps": 1000}, make_default=True)


@pytest.fixture
def live(brand, plan):
    return ended_live(brand)


@pytest.fixture
def clients(brand):
    """A signed-in client per role of the brand."""
    result = {}
    for role in (Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER):
        member = add_member(brand.org, f"money-{role}", role)
        client = Client()
        client.force_login(member.user)
        result[role] = client
    return result


# A WeChat shop (tests/integrations, the shop settings pages, the WeChat browser path): a
# connected shop for the `brand` tenant, a running shop API emulator and its sample data.

@pytest.fixture
def fresh_tokens():
    # Not autouse here: tests/integrations/conftest.py and the modules that talk to the
    # emulator ask for it, as they did when it lived with the integration tests.
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
def tuike_account(brand):
    """The brand's 推客 account (a talent's own lives), pointed at the emulator by the setting."""
    return TuikeAccount.objects.create(org=brand.org, appid=TUIKE_APPID, app_secret=TUIKE_SECRET,
                                       kind=TuikeAccount.TALENT, talent_appid=TUIKE_TALENT,
                                       mini_program_appid="wxminiprogram0001", token=TUIKE_TOKEN,
                                       encoding_aes_key=TUIKE_AES_KEY)


@pytest.fixture
def tuike_world(emulator):
    """The emulator's 推客 account holding the sample notices and bound sharers."""
    world = emulator.store.tuike
    world.appid, world.secret, world.talent_appid = TUIKE_APPID, TUIKE_SECRET, TUIKE_TALENT
    world.token, world.aes_key = TUIKE_TOKEN, TUIKE_AES_KEY
    world.notices.extend(sample("tuike_notice_list")["live_notice_record_list"])
    for row in sample("tuike_bind_sharer_list")["sharer_info_list"]:
        world.sharers[row["sharer_appid"]] = row
    return world


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
