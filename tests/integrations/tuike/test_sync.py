"""Issue 17, parts 1–2 against the emulator: a live linked to its WeChat notice, three promoters
linked to 推客 (one by the bind callback, two from the bound list; a name match only suggested),
reservations, statistics, QR codes and share links synced — and a sync that fails (refused
credentials, a rate limit, a timeout) says why, retries, and keeps what was synced before."""
import random
from datetime import datetime, timedelta, timezone

import pytest
from django.test import Client
from PIL import Image

from liveloop.integrations.models import TuikeLiveSharer, TuikeNotice, TuikeSharer, WechatIdentity
from liveloop.integrations.tuike import links, qr, sync, worker
from liveloop.integrations.tuike.client import TuikeClient
from liveloop.promoters.models import Promoter
from tests.actors import NO_SLEEP, TUIKE_NOTICE, post_tuike_bind, sample

NOW = datetime(2026, 12, 10, 10, 0, tzinfo=timezone.utc)
A01, A02, A03, A04 = "wxsharer0000000a01", "wxsharer0000000a02", "wxsharer0000000a03", "wxsharer0000000a04"
FAST = {**NO_SLEEP, "retries": 1, "timeout": 0.5}


class Steady(random.Random):
    """Jitter pinned to its middle, so a test can name the backoff exactly."""
    def uniform(self, a, b):
        return (a + b) / 2


@pytest.fixture
def programme(brand, tuike_account, tuike_world):
    """A live linked to the sample notice; 小林 (a01) and 阿珍 (a02) linked from the bound list,
    a04 linked by its bind callback (the unionid of PC's own WeChat login); 王小明 (a03) only
    suggested for the promoter of that name."""
    live = brand.live(title="冬季真丝专场", announced_at=NOW + timedelta(hours=2), promoters=("PA", "PB", "PC", "PD"))
    promoters = {p.code: p for p in Promoter.objects.for_org(brand.org)}
    Promoter.objects.filter(pk=promoters["PD"].pk).update(name="王小明")
    links.link_notice(live, TUIKE_NOTICE, description="冬季真丝专场")
    links.record_sharers(brand.org, TuikeClient(tuike_account, **NO_SLEEP).bound_sharers())
    sharers = {s.sharer_appid: s for s in TuikeSharer.objects.for_org(brand.org)}
    links.link_sharer(sharers[A01], promoters["PA"])
    links.link_sharer(sharers[A02], promoters["PB"])
    WechatIdentity.objects.create(org=brand.org, kind="mp", appid="wxminiprogram0001", openid="o-pc",
                                  unionid="owdq_tk_Po2Iu6Yt0Re4", promoter=promoters["PC"])
    tuike_world.add_sharer(A04, "门店-小陈")
    assert post_tuike_bind(Client(), tuike_account, sample("tuike_bind_callback")).content == b"success"
    for appid, count in ((A01, 12), (A02, 7), (A04, 3), (A03, 40)):
        tuike_world.reservations[(TUIKE_NOTICE, appid)] = count
    return live, promoters


def figures(live):
    return {row.sharer.sharer_appid: row for row in
            TuikeLiveSharer.objects.for_org(live.org).filter(live=live).select_related("sharer", "promoter")}


def notice_of(live):
    return TuikeNotice.objects.for_org(live.org).get(live=live)


def test_three_promoters_linked_and_their_counts_synced(programme, brand):
    live, promoters = programme
    linked = dict(TuikeSharer.objects.for_org(brand.org).filter(promoter__isnull=False)
                  .values_list("sharer_appid", "promoter__code"))
    assert linked == {A01: "PA", A02: "PB", A04: "PC"}
    # The name match is offered, never applied.
    suggested = {TuikeSharer.objects.get(pk=pk).sharer_appid: p.code for pk, p in links.suggestions(brand.org).items()}
    assert suggested == {A03: "PD"}

    result = sync.sync_live(notice_of(live), now=NOW, client_options=FAST)
    assert result.ok and result.synced == 3
    rows = figures(live)
    assert {appid: row.reservation_count for appid, row in rows.items()} == {A01: 12, A02: 7, A04: 3}
    assert {appid: row.promoter.code for appid, row in rows.items()} == {A01: "PA", A02: "PB", A04: "PC"}
    assert rows[A01].share_link == f"psl:{TUIKE_NOTICE}:{A01}" and rows[A01].synced_at == NOW
    image = qr.pillow(rows[A01].qr_image)
    assert image.format == "PNG" and max(image.size) <= 512
    assert links.materials_for(live, promoters["PA"]).share_link == rows[A01].share_link
    assert links.materials_for(live, promoters["PD"]) is None
    state = notice_of(live)
    assert (state.sync_state, state.last_success_at, state.last_error) == (TuikeNotice.OK, NOW, "")
    assert state.next_sync_at == NOW + sync.sync_every()


def test_statistics_come_once_the_live_has_its_id(programme, tuike_world, emulator):
    live, _promoters = programme
    tuike_world.lives.append({"export_id": "export/live-tk-1", "description": "冬季真丝专场"})
    tuike_world.stats[("export/live-tk-1", A01)] = {"share_count": 5, "share_user_count": 1,
                                                    "join_count": 3, "join_user_count": 2}
    sync.sync_live(notice_of(live), now=NOW, client_options=FAST)
    assert figures(live)[A01].share_count is None  # not on air yet: no live id, no statistics
    live.state, live.started_at = "live", NOW
    live.save()
    sync.sync_live(notice_of(live), now=NOW + timedelta(minutes=20), client_options=FAST)
    assert notice_of(live).live_export_id == "export/live-tk-1"
    row = figures(live)[A01]
    assert (row.share_count, row.share_user_count, row.join_count, row.join_user_count) == (5, 1, 3, 2)
    assert row.stats_synced_at == NOW + timedelta(minutes=20)
    # Materials are fetched once per notice, counts every sync.
    assert emulator.store.calls.count("/channels/ec/promoter/get_live_notice_record_qr_code") == 3


def test_refused_credentials_stop_retrying_and_keep_what_was_synced(programme, tuike_world):
    live, _promoters = programme
    sync.sync_live(notice_of(live), now=NOW, client_options=FAST)
    tuike_world.reservations[(TUIKE_NOTICE, A01)] = 99
    tuike_world.secret = "rotated-by-the-brand"
    from liveloop.integrations.wechat.client import forget_tokens
    forget_tokens()
    later = NOW + timedelta(minutes=15)
    result = sync.sync_live(notice_of(live), now=later, client_options=FAST)
    state = notice_of(live)
    assert not result.ok and state.sync_state == TuikeNotice.STOPPED and state.next_sync_at is None
    assert state.last_errcode == 40001 and "AppSecret" in state.last_error
    assert (state.last_success_at, state.last_attempt_at) == (NOW, later)
    assert figures(live)[A01].reservation_count == 12
    assert not worker.due(later + timedelta(days=1)).exists()  # stopped: the schedule leaves it


def test_a_rate_limit_backs_off_then_the_retry_syncs(programme, emulator, tuike_world):
    live, _promoters = programme
    sync.sync_live(notice_of(live), now=NOW, client_options=FAST)
    tuike_world.reservations[(TUIKE_NOTICE, A01)] = 15
    emulator.store.scripted.extend([(200, {"errcode": 45009, "errmsg": "api freq out of limit"})] * 2)
    later = NOW + timedelta(minutes=15)
    result = sync.sync_live(notice_of(live), now=later, client_options=FAST, rng=Steady())
    state = notice_of(live)
    assert not result.ok and state.sync_state == TuikeNotice.RETRYING and state.failures == 1
    assert "降低调用频率" in state.last_error
    assert state.next_sync_at == later + timedelta(minutes=1)
    assert figures(live)[A01].reservation_count == 12
    assert worker.process(now=later + timedelta(seconds=30), client_options=FAST).handled == 0
    assert worker.process(now=later + timedelta(minutes=2), client_options=FAST).synced == 1
    assert figures(live)[A01].reservation_count == 15
    assert notice_of(live).sync_state == TuikeNotice.OK and notice_of(live).failures == 0


def test_a_timeout_retries_later_and_writes_nothing_half(programme, tuike_world):
    live, _promoters = programme
    sync.sync_live(notice_of(live), now=NOW, client_options=FAST)
    tuike_world.reservations[(TUIKE_NOTICE, A01)] = 20
    tuike_world.reservations[(TUIKE_NOTICE, A02)] = 20
    # Two sharers answer, the third times out on both tries: nothing of this sync is written.
    original = tuike_world.take_stall
    answered = []

    def stall_the_third():
        answered.append(1)
        return 1.5 if 3 <= len(answered) <= 4 else 0.0
    tuike_world.take_stall = stall_the_third
    result = sync.sync_live(notice_of(live), now=NOW + timedelta(minutes=15), client_options=FAST,
                            rng=Steady())
    tuike_world.take_stall = original
    assert not result.ok and "未及时响应" in notice_of(live).last_error
    assert {a: r.reservation_count for a, r in figures(live).items()} == {A01: 12, A02: 7, A04: 3}
    assert notice_of(live).next_sync_at == NOW + timedelta(minutes=16)


def test_a_sharer_wechat_refuses_is_named_and_the_others_sync(programme, tuike_world):
    live, _promoters = programme
    del tuike_world.sharers[A02]  # WeChat no longer knows it: 10071030 for that sharer only
    result = sync.sync_live(notice_of(live), now=NOW, client_options=FAST)
    assert result.ok and result.synced == 2
    assert "阿珍" in notice_of(live).last_error and "10071030" in notice_of(live).last_error


def test_the_programme_switched_off_stops_with_its_reason(programme, tuike_world):
    live, _promoters = programme
    tuike_world.closed = True
    sync.sync_live(notice_of(live), now=NOW, client_options=FAST)
    state = notice_of(live)
    assert state.sync_state == TuikeNotice.STOPPED and state.last_errcode == 10071049
    # Saving the account (or the sync button) is what starts it again.
    assert sync.resume_stopped(live.org) == 1
    tuike_world.closed = False
    assert worker.process(now=NOW + timedelta(minutes=1), client_options=FAST).synced == 1


def test_two_workers_never_sync_one_live_at_once(programme):
    live, _promoters = programme
    assert worker.due(NOW).filter(pk=notice_of(live).pk).update(claimed_at=NOW) == 1
    assert worker.process(now=NOW + timedelta(minutes=1), client_options=FAST).handled == 0
    assert worker.process(now=NOW + worker.STALE + timedelta(minutes=1), client_options=FAST).synced == 1


def test_a_notice_unlinked_during_a_sync_stays_unlinked(programme, tuike_account):
    live, _promoters = programme
    notice = notice_of(live)

    class UnlinkedMeanwhile(TuikeClient):
        def reservation_count(self, notice_id, sharer_appid):
            # WeChat answers while an operator unlinks the notice on the live page.
            TuikeNotice.objects.filter(pk=notice.pk).delete()
            return super().reservation_count(notice_id, sharer_appid)
    sync.sync_live(notice, now=NOW, client=UnlinkedMeanwhile(tuike_account, **FAST))
    assert not TuikeNotice.objects.filter(live=live).exists()
