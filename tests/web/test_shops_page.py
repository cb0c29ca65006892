"""The WeChat shop settings pages: connect a shop, its push URL, live mappings, sharer sync,
back-fill and recent pushes; owner-only changes; another organisation's shop is not found."""
import pytest

from liveloop.events.models import Event
from liveloop.integrations.models import PushMessage, Shop, ShopLive
from liveloop.orgs.models import Member
from liveloop.promoters.models import Promoter
from tests.actors import APPID, SHARER, member

# The shop, emulator and sample fixtures are tests/conftest.py's; like the integration tests,
# each test starts from no cached access token.
pytestmark = pytest.mark.usefixtures("fresh_tokens")

NEW_SHOP = {"name": "第二家小店", "appid": "wx0123456789abcdef", "token": "Tok3nForPush",
            "encoding_aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut",
            "app_secret": "a-very-secret-app-secret-9f2c"}


def shop_url(shop, action=""):
    return f"/settings/shops/{shop.pk}/{action + '/' if action else ''}"


def test_the_settings_page_links_to_the_shops(owner):
    assert 'href="/settings/shops/"' in owner.get("/settings/").content.decode()


def test_owner_connects_a_shop_and_sees_its_push_url(owner, brand):
    response = owner.post("/settings/shops/new/", NEW_SHOP)
    created = Shop.objects.for_org(brand.org).get(appid=NEW_SHOP["appid"])
    assert response.status_code == 302 and response["Location"] == shop_url(created)
    assert (created.token, created.encoding_aes_key, created.app_secret) == (
        NEW_SHOP["token"], NEW_SHOP["encoding_aes_key"], NEW_SHOP["app_secret"])
    html = owner.get(shop_url(created)).content.decode()
    assert f'value="http://testserver/wechat/push/{created.push_key}/"' in html
    assert "第二家小店" in owner.get("/settings/shops/").content.decode()


def test_secrets_are_never_shown_back(owner, brand):
    owner.post("/settings/shops/new/", NEW_SHOP)
    created = Shop.objects.for_org(brand.org).get()
    html = owner.get(shop_url(created)).content.decode()
    for secret in ("token", "encoding_aes_key", "app_secret"):
        assert NEW_SHOP[secret] not in html
        assert NEW_SHOP[secret][-4:] in html
    # A form sent back with errors does not echo them either.
    html = owner.post("/settings/shops/new/", {**NEW_SHOP, "name": ""}).content.decode()
    for secret in ("token", "encoding_aes_key", "app_secret"):
        assert NEW_SHOP[secret] not in html


@pytest.mark.parametrize("field, value", [
    ("name", ""),
    ("appid", "not an appid!"),
    ("token", "ab"),
    ("token", "has spaces in it"),
    ("encoding_aes_key", "tooshort"),
    ("encoding_aes_key", "*" * 43),
    ("app_secret", ""),
])
def test_each_field_is_checked(owner, brand, field, value):
    response = owner.post("/settings/shops/new/", {**NEW_SHOP, field: value})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert not Shop.objects.for_org(brand.org).exists()


def test_the_same_appid_twice_is_refused(owner, brand, shop):
    response = owner.post("/settings/shops/new/", {**NEW_SHOP, "appid": APPID})
    assert response.status_code == 400 and list(response.context["form"].errors) == ["appid"]


def test_owner_maps_a_channels_live_and_removes_it(owner, brand, shop):
    live = brand.live()
    response = owner.post(shop_url(shop, "lives"), {"channels_live_id": "export/NewLive", "live": live.public_id})
    assert response.status_code == 302
    mapped = ShopLive.objects.for_org(brand.org).get(shop=shop)
    assert (mapped.channels_live_id, mapped.live) == ("export/NewLive", live)
    assert "export/NewLive" in owner.get(shop_url(shop)).content.decode()
    again = owner.post(shop_url(shop, "lives"), {"channels_live_id": "export/NewLive", "live": live.public_id})
    assert again.status_code == 400 and list(again.context["map_form"].errors) == ["channels_live_id"]
    owner.post(shop_url(shop, f"lives/{mapped.pk}/remove"))
    assert not ShopLive.objects.for_org(brand.org).exists()


def test_a_live_of_another_organisation_cannot_be_mapped(owner, brand, outsider, shop):
    foreign = outsider.live()
    response = owner.post(shop_url(shop, "lives"), {"channels_live_id": "export/X", "live": foreign.public_id})
    assert response.status_code == 400 and list(response.context["map_form"].errors) == ["live"]
    assert not ShopLive.objects.exists()


def test_sync_shows_linked_and_unmatched_sharers(owner, seeded, shop, live_with_sharer):
    response = owner.post(shop_url(shop, "sync"))
    assert response.status_code == 200
    report = response.context["sync"]
    assert [row["promoter"] for row in report.linked] == ["A"]
    html = response.content.decode()
    assert "oSharer_Mn8Bv4Cx0Za6Sd2Fg" in html and "宝妈社群-阿珍" in html


def test_link_form_links_and_refuses_a_taken_openid(owner, brand, seeded, shop, live_with_sharer):
    response = owner.post(shop_url(shop, "link"), {"openid": "oSharer_Mn8Bv4Cx0Za6Sd2Fg", "promoter": "B"})
    assert response.status_code == 302
    assert Promoter.objects.for_org(brand.org).get(code="B").openid == "oSharer_Mn8Bv4Cx0Za6Sd2Fg"
    taken = owner.post(shop_url(shop, "link"), {"openid": SHARER, "promoter": "B"})
    assert taken.status_code == 400 and list(taken.context["link_form"].errors) == ["openid"]
    assert Promoter.objects.for_org(brand.org).get(code="B").openid == "oSharer_Mn8Bv4Cx0Za6Sd2Fg"


def test_backfill_button_ingests_and_shows_counts(owner, brand, seeded, shop, live_with_sharer):
    form = {"since": "2025-11-20", "until": "2025-11-30"}
    first = owner.post(shop_url(shop, "backfill"), form)
    assert first.status_code == 200
    assert (first.context["filled"].accepted, first.context["filled"].duplicates) == (1, 0)
    assert Event.objects.for_org(brand.org).get().promoter.code == "A"
    second = owner.post(shop_url(shop, "backfill"), form)
    assert (second.context["filled"].accepted, second.context["filled"].duplicates) == (0, 1)


@pytest.mark.parametrize("form", [
    {"since": "2025-11-30", "until": "2025-11-20"},
    {"since": "2025-10-01", "until": "2025-11-30"},
    {"since": "", "until": "2025-11-30"},
])
def test_backfill_refuses_bad_ranges(owner, emulator, shop, form):
    assert owner.post(shop_url(shop, "backfill"), form).status_code == 400
    assert emulator.store.calls == []


def test_an_api_failure_is_shown_not_raised(owner, emulator, shop, settings):
    settings.LIVELOOP_WECHAT_HTTP_RETRIES = 0
    emulator.store.scripted.append((500, None))
    response = owner.post(shop_url(shop, "sync"))
    assert response.status_code == 502
    assert "HTTP 500" in response.content.decode()


def test_recent_pushes_show_state_counts_and_errors(owner, brand, shop):
    for n, state in enumerate(["done", "done", "failed"]):
        PushMessage.objects.create(org=brand.org, shop=shop, msg_key=f"k{n}", event="channels_ec_order_pay",
                                   payload={}, state=state, last_error="boom 42" if state == "failed" else "")
    response = owner.get(shop_url(shop))
    counts = {state: n for state, _label, n in response.context["counts"]}
    assert (counts["done"], counts["failed"], counts["queued"]) == (2, 1, 0)
    assert "boom 42" in response.content.decode()


@pytest.mark.parametrize("action, data", [
    ("", {}), ("lives", {"channels_live_id": "x", "live": "L1"}), ("sync", {}),
    ("link", {"openid": "o", "promoter": "A"}), ("backfill", {"since": "2025-11-20", "until": "2025-11-21"}),
])
def test_a_viewer_may_look_but_not_change(brand, emulator, shop, action, data):
    viewer = member(brand.org, "watcher", Member.VIEWER)
    if action:
        assert viewer.post(shop_url(shop, action), data).status_code == 403
        assert emulator.store.calls == []
    else:
        assert viewer.get(shop_url(shop)).status_code == 200
        assert viewer.post("/settings/shops/new/", NEW_SHOP).status_code == 403
        assert Shop.objects.count() == 1


def test_another_organisations_shop_is_not_found(brand, outsider, shop):
    stranger = member(outsider.org, "stranger", Member.OWNER)
    assert stranger.get(shop_url(shop)).status_code == 404
    for action in ("sync", "lives", "backfill", "link"):
        assert stranger.post(shop_url(shop, action), {}).status_code == 404
    assert shop.name not in stranger.get("/settings/shops/").content.decode()
