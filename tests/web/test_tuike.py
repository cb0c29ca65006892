"""The 推客 pages: the owner connects the account (secrets sealed, shown masked); operators link
a live to its WeChat notice, link 推客 to promoters (a name match only suggested) and sync on
demand; the live page shows the sync state and its reason; another organisation's live,
推客 or promoter answers 404; every change reads back in the audit log in words."""
from datetime import timedelta

import pytest
from django.test import Client

from liveloop.integrations.models import TuikeAccount, TuikeLiveSharer, TuikeNotice, TuikeSharer
from liveloop.integrations.tuike import links
from liveloop.orgs.models import AuditEntry, Member
from liveloop.promoters.models import Promoter
from liveloop.web.audit import describe
from tests.actors import (TUIKE_APPID, TUIKE_NOTICE, TUIKE_SECRET, TUIKE_TALENT, member, member_client,
                          post_tuike_bind, sample, text, upcoming_live)

SETTINGS = "/settings/tuike/"
GOOD = {"appid": TUIKE_APPID, "app_secret": TUIKE_SECRET, "kind": "talent", "talent_appid": TUIKE_TALENT,
        "mini_program_appid": "wxminiprogram0001", "token": "tuiketoken456",
        "encoding_aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut", "api_base_url": ""}
A01, A03 = "wxsharer0000000a01", "wxsharer0000000a03"


def test_owner_connects_and_secrets_are_never_shown_back(owner, brand):
    assert SETTINGS in owner.get("/settings/").content.decode()
    assert owner.post(SETTINGS, GOOD).status_code == 302
    account = TuikeAccount.objects.for_org(brand.org).get()
    assert account.app_secret == TUIKE_SECRET and account.callback_ready
    page = owner.get(SETTINGS).content.decode()
    assert TUIKE_APPID in page and "…cret" in page and account.callback_path in page
    assert TUIKE_SECRET not in page and GOOD["encoding_aes_key"] not in page
    # An empty secret keeps the saved one.
    assert owner.post(SETTINGS, {**GOOD, "app_secret": "", "token": "", "encoding_aes_key": ""}).status_code == 302
    account.refresh_from_db()
    assert account.app_secret == TUIKE_SECRET and account.token == GOOD["token"]
    [row] = describe(brand.org, AuditEntry.objects.for_org(brand.org).filter(action="tuike.connect")[:1])
    assert "AppID" in row.detail and "{" not in row.detail


@pytest.mark.parametrize("change, field, message", [
    ({"appid": "not an appid!"}, "appid", "不是有效的 AppID"),
    ({"talent_appid": ""}, "talent_appid", "需要带货者的 AppID"),
    ({"kind": "shop"}, "shop_appid", "小店关联账号的直播需要此项"),
    ({"encoding_aes_key": "short"}, "encoding_aes_key", "不是有效的 EncodingAESKey"),
])
def test_each_field_is_checked_in_chinese(owner, brand, change, field, message):
    response = owner.post(SETTINGS, {**GOOD, **change})
    assert response.status_code == 400 and message in response.content.decode()
    assert not TuikeAccount.objects.exists()


def test_only_the_owner_connects(brand):
    operator = member(brand.org, "op", Member.OPERATOR)
    assert operator.get(SETTINGS).status_code == 200
    assert operator.post(SETTINGS, GOOD).status_code == 403
    assert not TuikeAccount.objects.exists()


@pytest.fixture
def operator(brand):
    return member_client(brand.org, "operator1", Member.OPERATOR)


@pytest.fixture
def live(brand):
    return upcoming_live(brand)


def test_the_live_page_links_its_notice_from_wechats_list(operator, live, tuike_account, tuike_world):
    page = operator.get(f"/lives/{live.public_id}/").content.decode()
    assert "Fetch WeChat&#x27;s live notices" in page or "Fetch WeChat's live notices" in page
    response = operator.post(f"/lives/{live.public_id}/tuike/notices/")
    assert response.status_code == 302
    page = operator.get(f"/lives/{live.public_id}/").content.decode()
    assert TUIKE_NOTICE in page and "冬季真丝专场" in page
    assert operator.post(f"/lives/{live.public_id}/tuike/link/", {"notice_id": TUIKE_NOTICE}).status_code == 302
    notice = TuikeNotice.objects.for_org(live.org).get(live=live)
    assert notice.description.startswith("山茶集 冬季真丝专场") and notice.start_time is not None
    [row] = describe(live.org, AuditEntry.objects.for_org(live.org).filter(action="tuike.notice_link"))
    assert TUIKE_NOTICE in row.detail


def test_one_notice_per_live_and_per_organisation(operator, brand, live, tuike_account):
    other = brand.live(title="另一场")
    assert operator.post(f"/lives/{live.public_id}/tuike/link/", {"notice_id": TUIKE_NOTICE}).status_code == 302
    refused = operator.post(f"/lives/{other.public_id}/tuike/link/", {"notice_id": TUIKE_NOTICE})
    assert refused.status_code == 400 and "already linked to the live" in refused.content.decode()
    refused = operator.post(f"/lives/{live.public_id}/tuike/link/", {"notice_id": "another one"})
    assert refused.status_code == 400
    assert TuikeNotice.objects.for_org(brand.org).count() == 1


def test_the_sync_button_shows_counts_and_a_failure_its_reason(operator, live, tuike_account, tuike_world, brand):
    links.link_notice(live, TUIKE_NOTICE)
    promoter = Promoter.objects.create(org=brand.org, code="PA", name="小林")
    links.record_sharers(brand.org, sample("tuike_bind_sharer_list")["sharer_info_list"])
    links.link_sharer(TuikeSharer.objects.get(sharer_appid=A01), promoter)
    tuike_world.reservations[(TUIKE_NOTICE, A01)] = 12
    assert operator.post(f"/lives/{live.public_id}/tuike/sync/").status_code == 302
    page = text(operator.get(f"/lives/{live.public_id}/").content.decode())
    assert "Synced" in page and "12" in page
    tuike_world.closed = True
    operator.post(f"/lives/{live.public_id}/tuike/sync/")
    page = text(operator.get(f"/lives/{live.public_id}/").content.decode())
    assert "推客功能已关闭" in page and "10071049" in page and "Stopped until the cause is fixed" in page
    assert TuikeLiveSharer.objects.get(sharer__sharer_appid=A01).reservation_count == 12


def test_a_name_match_is_only_suggested_and_linking_is_audited(operator, brand, tuike_account, tuike_world):
    promoter = Promoter.objects.create(org=brand.org, code="PD", name="王小明")
    assert operator.post("/tuike/sharers/fetch/").status_code == 302
    sharer = TuikeSharer.objects.get(org=brand.org, sharer_appid=A03)
    assert sharer.promoter is None
    page = operator.get("/tuike/sharers/").content.decode()
    assert "only a suggestion" in page
    assert operator.post(f"/tuike/sharers/{sharer.pk}/link/", {"promoter": "PD"}).status_code == 302
    sharer.refresh_from_db()
    assert sharer.promoter == promoter
    other = TuikeSharer.objects.get(org=brand.org, sharer_appid=A01)
    refused = operator.post(f"/tuike/sharers/{other.pk}/link/", {"promoter": "PD"})
    assert refused.status_code == 409 and "already linked" in refused.content.decode()
    assert operator.post(f"/tuike/sharers/{sharer.pk}/unlink/").status_code == 302
    actions = list(AuditEntry.objects.for_org(brand.org).filter(action__in=["tuike.sharer_link", "tuike.sharer_unlink"])
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["tuike.sharer_link", "tuike.sharer_unlink"]
    rows = describe(brand.org, AuditEntry.objects.for_org(brand.org).filter(action="tuike.sharer_link"))
    assert "王小明" in rows[0].detail and A03 in rows[0].detail


def test_a_viewer_sees_but_cannot_link_or_sync(brand, live, tuike_account):
    viewer = member(brand.org, "watcher", Member.VIEWER)
    links.link_notice(live, TUIKE_NOTICE)
    sharer = TuikeSharer.objects.create(org=brand.org, sharer_appid=A01, source="list")
    Promoter.objects.create(org=brand.org, code="PA", name="小林")
    assert viewer.get("/tuike/sharers/").status_code == 200
    assert viewer.post(f"/tuike/sharers/{sharer.pk}/link/", {"promoter": "PA"}).status_code == 403
    assert viewer.post(f"/lives/{live.public_id}/tuike/sync/").status_code == 403
    assert viewer.post(f"/lives/{live.public_id}/tuike/unlink/").status_code == 403


def test_another_organisations_live_sharer_or_promoter_is_not_found(operator, brand, outsider, tuike_account):
    theirs = outsider.live(title="别家直播")
    their_sharer = TuikeSharer.objects.create(org=outsider.org, sharer_appid=A01, source="list")
    Promoter.objects.create(org=outsider.org, code="PX", name="别人")
    mine = TuikeSharer.objects.create(org=brand.org, sharer_appid=A03, source="list")
    assert operator.post(f"/lives/{theirs.public_id}/tuike/link/", {"notice_id": "n-1"}).status_code == 404
    assert operator.post(f"/lives/{theirs.public_id}/tuike/sync/").status_code == 404
    assert operator.post(f"/lives/{theirs.public_id}/tuike/notices/").status_code == 404
    assert operator.post(f"/tuike/sharers/{their_sharer.pk}/link/", {"promoter": "PX"}).status_code == 404
    assert operator.post(f"/tuike/sharers/{mine.pk}/link/", {"promoter": "PX"}).status_code == 404
    assert not TuikeNotice.objects.exists() and TuikeSharer.objects.filter(promoter__isnull=False).count() == 0


def test_a_forged_bind_callback_changes_nothing(brand, tuike_account):
    message = sample("tuike_bind_callback")
    forged = post_tuike_bind(Client(), tuike_account, message, token="guessed-token")
    assert forged.status_code == 401
    wrong_key = post_tuike_bind(Client(), tuike_account, message, aes_key="A" * 43)
    assert wrong_key.status_code in (400, 401)
    other_app = post_tuike_bind(Client(), tuike_account, message, appid="wxsomeoneelse0001")
    assert other_app.status_code == 401
    unknown = Client().post("/wechat/tuike/not-a-key/", b"{}", content_type="application/json")
    assert unknown.status_code == 404
    assert not TuikeSharer.objects.exists()


def test_a_replayed_or_older_bind_callback_is_a_no_op(brand, tuike_account):
    bound = sample("tuike_bind_callback")
    unbound = {**bound, "bind_status": 2, "CreateTime": bound["CreateTime"] + 60}
    for message in (bound, unbound, bound):  # the last: the first replayed, after the unbind
        assert post_tuike_bind(Client(), tuike_account, message).content == b"success"
    sharer = TuikeSharer.objects.for_org(brand.org).get()
    assert sharer.bound is False and sharer.bind_event_at.timestamp() == unbound["CreateTime"]
    assert sharer.sharer_unionid == bound["sharer_unionid"] and sharer.promoter is None


def test_a_sync_already_running_is_not_started_twice(operator, live, tuike_account, tuike_world):
    from django.utils import timezone

    links.link_notice(live, TUIKE_NOTICE)
    TuikeNotice.objects.filter(live=live).update(claimed_at=timezone.now())  # a worker holds it
    response = operator.post(f"/lives/{live.public_id}/tuike/sync/", follow=True)
    assert "A sync of this live is running" in response.content.decode()
    assert TuikeNotice.objects.get(live=live).last_attempt_at is None
    assert not AuditEntry.objects.filter(action="tuike.sync").exists()
