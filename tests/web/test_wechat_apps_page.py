"""Settings → WeChat login and mini-program: owner-only, secrets sealed and never shown back,
each field checked, one organisation never sees another's."""
import pytest

from liveloop.integrations.models import WechatApps
from liveloop.orgs.models import Member
from tests.actors import member

URL = "/settings/wechat/"
GOOD = {"oa_appid": "wx0fa11ce5e0a1b2c3", "oa_secret": "oaSecret0123456789abcdef",
        "mp_appid": "wx6d1n1a4p9c0d3e4f", "mp_secret": "mpSecret0123456789abcdef",
        "finder_username": "sphAbCdEf123456"}


def test_the_settings_page_links_to_it(owner):
    assert URL in owner.get("/settings/").content.decode()


def test_owner_connects_and_secrets_are_never_shown_back(owner, brand):
    response = owner.post(URL, GOOD)
    assert response.status_code == 302
    apps = WechatApps.objects.for_org(brand.org).get()
    assert apps.login_ready and apps.mini_program_ready and apps.oa_secret == GOOD["oa_secret"]
    page = owner.get(URL).content.decode()
    assert GOOD["oa_appid"] in page and "…cdef" in page
    assert GOOD["oa_secret"] not in page and GOOD["mp_secret"] not in page
    assert "/wx/login/" in page


def test_an_empty_secret_keeps_the_saved_one(owner, brand):
    owner.post(URL, GOOD)
    owner.post(URL, {**GOOD, "oa_secret": "", "mp_secret": "", "finder_username": "sphOther999"})
    apps = WechatApps.objects.for_org(brand.org).get()
    assert (apps.oa_secret, apps.mp_secret, apps.finder_username) == (GOOD["oa_secret"], GOOD["mp_secret"], "sphOther999")


@pytest.mark.parametrize("field, value, message", [
    ("oa_appid", "not an appid!", "不是有效的 AppID"), ("mp_secret", "short", "不是有效的 AppSecret"),
    ("finder_username", "gh_12345", "视频号 ID 以 sph 开头"), ("oa_secret", "has spaces in it", "不是有效的 AppSecret"),
])
def test_each_field_is_checked_in_chinese(owner, brand, field, value, message):
    response = owner.post(URL, {**GOOD, field: value})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and GOOD["finder_username" if field != "finder_username" else "oa_appid"] in page
    assert not WechatApps.objects.exists()


def test_an_appid_without_its_secret_is_refused(owner, brand):
    response = owner.post(URL, {"oa_appid": GOOD["oa_appid"]})
    assert response.status_code == 400 and not WechatApps.objects.exists()


def test_a_viewer_may_look_but_not_change(brand):
    viewer = member(brand.org, "watcher", Member.VIEWER)
    assert viewer.get(URL).status_code == 200
    assert viewer.post(URL, GOOD).status_code == 403
    assert not WechatApps.objects.exists()


def test_another_organisation_never_sees_or_changes_ours(owner, brand, outsider):
    owner.post(URL, GOOD)
    stranger = member(outsider.org, "stranger", Member.OWNER)
    assert GOOD["oa_appid"] not in stranger.get(URL).content.decode()
    stranger.post(URL, {**GOOD, "oa_appid": "wx9999999999999999"})
    assert WechatApps.objects.for_org(brand.org).get().oa_appid == GOOD["oa_appid"]
    assert WechatApps.objects.count() == 2
