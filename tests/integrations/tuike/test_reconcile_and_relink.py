"""Issue 17, parts 3–4 against the emulator: a live linked to its notice and three promoters to
推客, WeChat's counts synced beside Liveloop's own — the reconciliation equals a hand-made example
— then the notice cancelled and published again: the live moves to the new notice, keeps its
programme, its promoters' 推客 links and the old counts, and the next sync fetches new QR codes
and share links."""
from datetime import datetime, timedelta, timezone

from decimal import Decimal

import pytest
from django.utils.translation import override

from liveloop.analytics.models import PromoterStats
from liveloop.events.ingest import ingest
from liveloop.integrations.models import TuikeLiveSharer, TuikeNotice, TuikeNoticeHistory, TuikeSharer
from liveloop.integrations.tuike import links, sync
from liveloop.integrations.tuike.client import TuikeClient
from liveloop.integrations.tuike.lifecycle import relink_notice
from liveloop.integrations.tuike.reconcile import flagged_codes, live_reconciliation
from liveloop.orgs.models import AuditEntry
from liveloop.promoters.models import Enrolment, Promoter
from tests.actors import NO_SLEEP, TUIKE_NOTICE, event

NOW = datetime(2026, 12, 10, 10, 0, tzinfo=timezone.utc)
A01, A02, A03 = "wxsharer0000000a01", "wxsharer0000000a02", "wxsharer0000000a03"
NEW_NOTICE = "finder_notice_tk_20261210_b"
FAST = {**NO_SLEEP, "retries": 1, "timeout": 0.5}


@pytest.fixture
def linked(brand, tuike_account, tuike_world):
    """PA ↔ a01, PB ↔ a02, PC ↔ a03 (linked by an operator); PD has no 推客. WeChat counts 12, 7
    and 3 reservations; Liveloop saw 10, 2 and 3 through its own pages, and 1 for PD."""
    live = brand.live(title="冬季真丝专场", announced_at=NOW + timedelta(hours=2), promoters=("PA", "PB", "PC", "PD"))
    promoters = {p.code: p for p in Promoter.objects.for_org(brand.org)}
    links.link_notice(live, TUIKE_NOTICE)
    links.record_sharers(brand.org, TuikeClient(tuike_account, **NO_SLEEP).bound_sharers())
    sharers = {s.sharer_appid: s for s in TuikeSharer.objects.for_org(brand.org)}
    for appid, code in ((A01, "PA"), (A02, "PB"), (A03, "PC")):
        links.link_sharer(sharers[appid], promoters[code])
    for appid, count in ((A01, 12), (A02, 7), (A03, 3)):
        tuike_world.reservations[(TUIKE_NOTICE, appid)] = count
    seen = {"PA": 10, "PB": 2, "PC": 3, "PD": 1}
    ingest(brand.org, [event(f"r-{code}-{n}", "reservation", live.public_id, f"v-{code}-{n}", at=NOW - timedelta(hours=1),
                             promoter=code) for code, n_seen in seen.items() for n in range(n_seen)], now=NOW)
    assert sync.sync_live(TuikeNotice.objects.for_org(brand.org).get(live=live), now=NOW, client_options=FAST).ok
    return live, promoters


def gaps(rec, promoters, figure="reservations"):
    code_of = {p.pk: code for code, p in promoters.items()}
    return {code_of[row.key]: (g.wechat, g.liveloop, g.difference, g.coverage, g.flagged)
            for row in rec.rows for g in [row.gaps[figure]]}


def test_reconciliation_equals_the_hand_made_example(linked, brand):
    live, promoters = linked
    rec = live_reconciliation(live)
    assert gaps(rec, promoters) == {
        "PA": (12, 10, 2, Decimal(83), False),     # 2 people: below MIN_GAP
        "PB": (7, 2, 5, Decimal(29), True),        # 5 of 7 unseen
        "PC": (3, 3, 0, Decimal(100), False),
        "PD": (None, 1, None, None, False),        # no 推客: WeChat's count unknown, not 0
    }
    total = rec.total.gaps["reservations"]
    # Like with like: the promoters WeChat counted (22) against what Liveloop saw of them (15).
    assert (total.wechat, total.liveloop, total.difference, total.coverage, total.flagged) == (
        22, 15, 7, Decimal(68), True)
    assert flagged_codes(live) == {"PB"}
    # The organisation's threshold decides: at 80% only a gap of more than 80% is flagged.
    brand.org.reconcile_gap_pct = 80
    brand.org.save()
    live.org.refresh_from_db()
    assert flagged_codes(live) == set()


def test_a_cancelled_and_re_published_notice_keeps_the_programme_and_its_bindings(linked, brand, tuike_world):
    live, promoters = linked
    enrolled = set(Enrolment.objects.for_org(brand.org).filter(programme__live=live).values_list("promoter_id", "active"))
    bindings = dict(TuikeSharer.objects.for_org(brand.org).values_list("sharer_appid", "promoter_id"))
    ours = dict(PromoterStats.objects.for_org(brand.org).filter(live=live).values_list("promoter_id", "reservations"))
    old_link = links.materials_for(live, promoters["PA"]).share_link
    assert old_link == f"psl:{TUIKE_NOTICE}:{A01}"
    # On WeChat: the notice is cancelled (gone from the list), a new one published; its
    # reservation counts start again.
    tuike_world.notices[:] = [n for n in tuike_world.notices if n["notice_id"] != TUIKE_NOTICE]
    tuike_world.notices.append({"notice_id": NEW_NOTICE, "description": "冬季真丝专场（改期）", "start_time": 1796904000})
    tuike_world.reservations[(NEW_NOTICE, A01)] = 4

    done = relink_notice(live, NEW_NOTICE, now=NOW + timedelta(minutes=5))
    assert (done.old, done.new, done.sharers, done.kept) == (TUIKE_NOTICE, NEW_NOTICE, 3, 22)
    history = TuikeNoticeHistory.objects.for_org(brand.org).get(live=live)
    assert {appid: item["reservations"] for appid, item in history.counts.items()} == {A01: 12, A02: 7, A03: 3}
    # Nothing of the programme moved; the old notice's QR codes are no longer offered.
    assert set(Enrolment.objects.for_org(brand.org).filter(programme__live=live)
               .values_list("promoter_id", "active")) == enrolled
    assert dict(TuikeSharer.objects.for_org(brand.org).values_list("sharer_appid", "promoter_id")) == bindings
    assert dict(PromoterStats.objects.for_org(brand.org).filter(live=live)
                .values_list("promoter_id", "reservations")) == ours
    assert links.materials_for(live, promoters["PA"]) is None
    notice = TuikeNotice.objects.for_org(brand.org).get(live=live)
    assert (notice.notice_id, notice.next_sync_at) == (NEW_NOTICE, NOW + timedelta(minutes=5))
    assert AuditEntry.objects.get(org=brand.org, action="tuike.relink").detail == {
        "old": TUIKE_NOTICE, "new": NEW_NOTICE, "sharers": 3}

    # The next sync fetches each 推客's QR code and share link for the new notice.
    assert sync.sync_live(notice, now=NOW + timedelta(minutes=6), client_options=FAST).ok
    rows = {r.sharer.sharer_appid: r for r in TuikeLiveSharer.objects.for_org(brand.org).filter(live=live)
            .select_related("sharer")}
    assert {appid: (r.notice_id, r.reservation_count, r.promoter.code) for appid, r in rows.items()} == {
        A01: (NEW_NOTICE, 4, "PA"), A02: (NEW_NOTICE, 0, "PB"), A03: (NEW_NOTICE, 0, "PC")}
    assert links.materials_for(live, promoters["PA"]).share_link == f"psl:{NEW_NOTICE}:{A01}"
    # WeChat's reservations of the live are the old notice's and the new one's together.
    rec = live_reconciliation(live)
    assert gaps(rec, promoters)["PA"][:3] == (16, 10, 6)


@override("en")
def test_relink_refusals(linked, brand):
    live, promoters = linked
    other = brand.live(title="另一场", promoters=("PA",))
    links.link_notice(other, "finder_notice_other")
    with pytest.raises(links.LinkError, match="already linked"):
        relink_notice(live, "finder_notice_other")
    with pytest.raises(links.LinkError):
        relink_notice(live, TUIKE_NOTICE)  # the same notice
    with pytest.raises(links.LinkError):
        relink_notice(live, "has spaces in it")
    relink_notice(live, NEW_NOTICE)
    with pytest.raises(links.LinkError, match="before"):
        relink_notice(live, TUIKE_NOTICE)  # WeChat does not bring a cancelled notice back
    unlinked = brand.live(title="没有预约的场次")
    with pytest.raises(links.LinkError, match="link it first"):
        relink_notice(unlinked, "finder_notice_new")
    assert TuikeNotice.objects.for_org(brand.org).get(live=other).notice_id == "finder_notice_other"
    assert TuikeNoticeHistory.objects.for_org(brand.org).count() == 1
