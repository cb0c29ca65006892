"""Lives ↔ notices and 推客 ↔ promoters: one to one per organisation in the database itself,
hostile list rows skipped, the bind callback applied in its own order."""
from datetime import datetime, timezone

import pytest
from django.db import IntegrityError, transaction

from liveloop.integrations.models import TuikeNotice, TuikeSharer
from liveloop.integrations.tuike import links
from liveloop.promoters.models import Promoter
from tests.actors import TUIKE_NOTICE


def test_one_sharer_one_promoter_is_a_database_constraint(brand):
    promoter = Promoter.objects.create(org=brand.org, code="PA", name="小林")
    TuikeSharer.objects.create(org=brand.org, sharer_appid="wxa", source="list", promoter=promoter)
    with pytest.raises(IntegrityError), transaction.atomic():
        TuikeSharer.objects.create(org=brand.org, sharer_appid="wxb", source="list", promoter=promoter)
    with pytest.raises(IntegrityError), transaction.atomic():
        TuikeSharer.objects.create(org=brand.org, sharer_appid="wxa", source="callback")


def test_one_notice_one_live_is_a_database_constraint(brand):
    first, second = brand.live(title="一"), brand.live(title="二")
    TuikeNotice.objects.create(org=brand.org, live=first, notice_id=TUIKE_NOTICE)
    with pytest.raises(IntegrityError), transaction.atomic():
        TuikeNotice.objects.create(org=brand.org, live=second, notice_id=TUIKE_NOTICE)
    with pytest.raises(IntegrityError), transaction.atomic():
        TuikeNotice.objects.create(org=brand.org, live=first, notice_id="another")


def test_another_organisation_may_use_the_same_ids(brand, outsider):
    TuikeNotice.objects.create(org=brand.org, live=brand.live(), notice_id=TUIKE_NOTICE)
    links.link_notice(outsider.live(), TUIKE_NOTICE)
    TuikeSharer.objects.create(org=brand.org, sharer_appid="wxa", source="list")
    TuikeSharer.objects.create(org=outsider.org, sharer_appid="wxa", source="list")


def test_hostile_list_rows_are_skipped_and_never_linked(brand):
    Promoter.objects.create(org=brand.org, code="PA", name="小林")
    report = links.record_sharers(brand.org, [
        {"sharer_appid": "wx ok"}, {"sharer_appid": "x" * 65}, {"sharer_appid": ["wxlist"]}, {},
        {"sharer_appid": "wxgood", "nickname": "小林" * 80, "head_img_url": "javascript:alert(1)",
         "bind_time": "yesterday", "commission_ratio": -5},
        {"sharer_appid": "wxgood"}])
    assert (report.new, report.skipped) == (1, 5)
    sharer = TuikeSharer.objects.for_org(brand.org).get()
    assert len(sharer.nickname) == 100 and sharer.head_img_url == "" and sharer.bind_time is None
    assert sharer.commission_ratio is None and sharer.promoter is None


def test_a_sharer_gone_from_the_list_is_marked_unbound(brand):
    links.record_sharers(brand.org, [{"sharer_appid": "wxa"}, {"sharer_appid": "wxb"}])
    report = links.record_sharers(brand.org, [{"sharer_appid": "wxa"}])
    assert report.unbound == ["wxb"]
    assert not TuikeSharer.objects.get(org=brand.org, sharer_appid="wxb").bound


@pytest.mark.parametrize("message", [
    {"Event": "promoter_bind_result", "sharer_appid": "wxa", "bind_status": 3, "CreateTime": 1764010000},
    {"Event": "promoter_bind_result", "sharer_appid": "wx a", "bind_status": 1, "CreateTime": 1764010000},
    {"Event": "promoter_bind_result", "sharer_appid": "wxa", "bind_status": 1, "CreateTime": "soon"},
    {"Event": "promoter_bind_result", "sharer_appid": "wxa", "bind_status": True, "CreateTime": 1764010000},
])
def test_a_malformed_bind_message_is_refused_whole(brand, message):
    with pytest.raises(ValueError):
        links.apply_bind(brand.org, message)
    assert not TuikeSharer.objects.exists()


def test_the_unionid_link_needs_exactly_one_promoter(brand):
    from liveloop.integrations.models import WechatIdentity

    first = Promoter.objects.create(org=brand.org, code="PA", name="甲")
    second = Promoter.objects.create(org=brand.org, code="PB", name="乙")
    for n, promoter in enumerate((first, second)):
        WechatIdentity.objects.create(org=brand.org, kind="mp", appid="wxmp", openid=f"o{n}", unionid="u-shared",
                                      promoter=promoter)
    outcome = links.apply_bind(brand.org, {"Event": "promoter_bind_result", "sharer_appid": "wxa",
                                           "bind_status": 1, "CreateTime": 1764010000,
                                           "sharer_unionid": "u-shared"})
    assert outcome.applied and outcome.linked is None and outcome.sharer.promoter is None
    assert outcome.sharer.bind_time == datetime.fromtimestamp(1764010000, tz=timezone.utc)
