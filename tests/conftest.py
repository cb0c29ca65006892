"""Named actors and small factories shared by the suite (see STYLE.md: one line per permission test)."""
from datetime import datetime, timedelta, timezone

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

from liveloop.lives.models import Account
from liveloop.actions.lives import create_live
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member, create_org
from liveloop.actions.promoters import NewPromoter, enrol

EVENING = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)  # 20:00 in Shanghai


class Tenant:
    """An organisation with an API key, an account and an API client carrying the key."""

    def __init__(self, name: str):
        self.org, self.key = create_org(name)
        self.account = Account.objects.create(org=self.org, name=f"{name} 官方号")
        self.api = Client(HTTP_AUTHORIZATION=f"Bearer {self.key}")

    def live(self, title="双十二预热直播", announced_at=EVENING, promoters=(), **programme):
        live = create_live(self.org, account=self.account, title=title, announced_at=announced_at,
                           **programme)
        if promoters:
            enrol(live.programme, [NewPromoter(name=f"推广员{code}", code=code) for code in promoters])
        return live

    def send(self, events, **headers):
        return self.api.post("/api/v1/events", events, content_type="application/json", **headers)


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


def event(id, type, live, viewer, at=None, **fields):
    """One event in the contract's JSON shape; `at` defaults to the live's evening."""
    at = at or EVENING + timedelta(minutes=1)
    return {"id": id, "type": type, "live": live, "viewer": viewer, "at": at.isoformat(), **fields}


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


def png_bytes(colour, size=(64, 64), format="PNG", **save) -> bytes:
    """A one-colour image file, for upload tests."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=format, **save)
    return out.getvalue()
