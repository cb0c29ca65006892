"""The public phone pages are rate-limited per client address and per viewer (liveloop/web/ratelimit.py).

Limits are settings (LIVELOOP_RATE_LIMITS); here they are set small so a test can exceed them.
A refused request gets the 429 page in the visitor's language with Retry-After, and a refused
reservation is not recorded.
"""
import pytest
from django.test import Client
from django.utils import translation

from liveloop.events.models import Event
from liveloop.promoters.links import own_page_url
from liveloop.web.ratelimit import client_ip
from tests.security.world import mine  # noqa: F401

# Per hour, not per minute: django-ratelimit's windows are fixed, and a test whose requests
# straddled the end of a one-minute window would see its count restart (a flaky test).
LIMITS = {"join": {"ip": "6/h", "viewer": "3/h"}, "invite": {"ip": "6/h", "viewer": "3/h"},
          "own": {"ip": "6/h", "viewer": "3/h"}}


@pytest.fixture
def small_limits(settings):
    settings.LIVELOOP_RATE_LIMITS = LIMITS
    return LIMITS


def _phone(address="203.0.113.7", **cookies):
    client = Client(REMOTE_ADDR=address)
    for name, value in cookies.items():
        client.cookies[name] = value
    return client


def _pages(side):
    return {
        "join": f"/join/{side.objects['join_token']}/",
        "invite": f"/i/{side.live.public_id}/{side.objects['promoter_code']}/",
        "own": own_page_url(side.enrolment),
    }


@pytest.mark.parametrize("group", ["join", "invite", "own"])
def test_one_address_is_limited_across_viewers(mine, small_limits, group):
    url = _pages(mine)[group]
    # Six first visits (no cookie, so no viewer limit) from one address pass; the seventh waits.
    answers = [_phone().get(url).status_code for _ in range(7)]
    assert answers[:6] == [200] * 6 and answers[6] == 429
    # Another address is not affected.
    assert _phone("198.51.100.9").get(url).status_code == 200


@pytest.mark.parametrize("group", ["join", "invite", "own"])
def test_one_viewer_is_limited_across_addresses(mine, small_limits, group):
    url = _pages(mine)[group]
    answers = [_phone(f"192.0.2.{n}", ll_viewer="oViewer0000000000000000000001").get(url).status_code
               for n in range(1, 5)]
    assert answers == [200, 200, 200, 429]


def test_the_429_page_says_when_to_come_back_in_chinese_and_english(mine, small_limits):
    url = _pages(mine)["invite"]
    for _ in range(6):
        _phone().get(url)
    answer = _phone().get(url)
    assert answer.status_code == 429
    wait = int(answer["Retry-After"])
    assert 1 <= wait <= 3600
    # Chinese first: the page is in the default language, through the catalogue (the strings
    # are in liveloop/locale/pending/security.po until merged into django.po).
    with translation.override("zh-hans"):
        heading = translation.gettext("Too many requests")
    assert 'lang="zh-Hans"' in answer.content.decode() and heading in answer.content.decode()
    english = _phone(django_language="en").get(url)
    assert english.status_code == 429 and "Too many requests" in english.content.decode()
    assert "no-store" in answer["Cache-Control"]


def test_reservation_farming_from_one_address_is_cut_off(mine, small_limits):
    """Many fresh viewers reserving from one device or address: past the limit nothing is recorded."""
    url = _pages(mine)["invite"]
    before = Event.objects.for_org(mine.org).filter(type="reservation").count()
    statuses = []
    for n in range(10):
        phone = _phone(ll_viewer=f"oFarm{n:024d}")
        statuses.append(phone.post(url).status_code)
    assert statuses.count(429) == 4
    recorded = Event.objects.for_org(mine.org).filter(type="reservation").count() - before
    assert recorded == 6


def test_a_limit_can_be_turned_off(mine, settings):
    settings.LIVELOOP_RATE_LIMITS = {**LIMITS, "invite": {"ip": "", "viewer": ""}}
    url = _pages(mine)["invite"]
    assert {_phone().get(url).status_code for _ in range(10)} == {200}


def test_the_defaults_let_a_busy_carrier_address_through(mine):
    """Default limits (settings): a few dozen phones behind one carrier NAT address are fine."""
    url = _pages(mine)["invite"]
    assert {_phone(ll_viewer=f"oNat{n:025d}").get(url).status_code for n in range(40)} == {200}


def test_the_client_address_comes_from_the_proxy_header_only_when_configured(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_REAL_IP="203.0.113.5")
    assert client_ip(request) == "10.0.0.1"  # a header anyone can send is ignored by default
    settings.LIVELOOP_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    assert client_ip(request) == "203.0.113.5"
    # IPv6: one subscriber's /64 is one address; garbage is one shared bucket.
    assert client_ip(rf.get("/", REMOTE_ADDR="2001:db8:1:2:3:4:5:6")) == "2001:db8:1:2::"
    settings.LIVELOOP_CLIENT_IP_HEADER = ""
    assert client_ip(rf.get("/", REMOTE_ADDR="not an address")) == "unknown"


@pytest.mark.skipif("not __import__('os').environ.get('LIVELOOP_TEST_REDIS_URL')",
                    reason="set LIVELOOP_TEST_REDIS_URL=redis://127.0.0.1:6379/15 to run against Redis")
def test_limits_count_in_redis_shared_by_workers(mine, small_limits, settings):
    import os

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": os.environ["LIVELOOP_TEST_REDIS_URL"], "KEY_PREFIX": "liveloop-test"}}
    from django.core.cache import cache

    cache.clear()
    url = _pages(mine)["join"]
    answers = [_phone("203.0.113.99").get(url).status_code for _ in range(7)]
    assert answers[-1] == 429 and answers[:6] == [200] * 6
    cache.clear()


def test_a_cache_outage_leaves_the_pages_open(mine, small_limits, settings, caplog):
    """Redis down: the promoter's and viewers' pages still answer (the limit is not counted)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}
    url = _pages(mine)["invite"]
    assert {_phone().get(url).status_code for _ in range(8)} == {200}
    assert "cache is unavailable" in caplog.text
