"""The live's 推客 reconciliation page: the figures side by side, the mark on the live page and in
the promoter table, the export, moving the live to a re-published notice, the threshold — and
who may do which, another organisation's live answering 404."""
import re
from datetime import datetime, timezone

import pytest

from liveloop.analytics.models import PromoterStats
from liveloop.integrations.models import TuikeLiveSharer, TuikeNotice, TuikeNoticeHistory, TuikeSharer
from liveloop.orgs.models import AuditEntry
from liveloop.promoters.models import Promoter
from liveloop.web.audit import describe
from tests.actors import html_of, member, member_client, rows_of

pytestmark = pytest.mark.django_db
SYNCED = datetime(2026, 12, 10, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def synced(brand):
    """What a sync leaves: PA's 推客 brought 12 reservations, PB's 7; Liveloop saw 10 and 2."""
    live = brand.live(promoters=("PA", "PB"))
    TuikeNotice.objects.create(org=brand.org, live=live, notice_id="finder_notice_1")
    for code, appid, wechat, ours in (("PA", "wxs1", 12, 10), ("PB", "wxs2", 7, 2)):
        promoter = Promoter.objects.get(code=code)
        sharer = TuikeSharer.objects.create(org=brand.org, sharer_appid=appid, source="list", promoter=promoter)
        TuikeLiveSharer.objects.create(org=brand.org, live=live, sharer=sharer, promoter=promoter,
                                       notice_id="finder_notice_1", reservation_count=wechat, synced_at=SYNCED)
        PromoterStats.objects.filter(live=live, promoter=promoter).update(reservations=ours)
    return live


def test_the_page_shows_the_counts_and_the_gap_above_the_threshold(brand, synced):
    client = member_client(brand.org, "op", "operator")
    html = html_of(client.get(f"/lives/{synced.public_id}/tuike/"))
    rows = rows_of(html, "tuike-reconcile")
    assert rows[0][1:5] == ["7", "2", "5", "29%"] and "Above threshold" in rows[0][0]
    assert rows[1][1:5] == ["12", "10", "2", "83%"] and "Above threshold" not in rows[1][0]
    page = html_of(client.get(f"/lives/{synced.public_id}/"))
    assert "tuike-gaps" in page and page.count("tuike-flag") == 1


def test_the_export_has_the_same_figures(brand, synced):
    client = member_client(brand.org, "fin", "finance")
    response = client.get(f"/lives/{synced.public_id}/tuike.csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[1].split(",")[:7] == ["PB", "推广员PB", "7", "2", "5", "29", ""]
    assert lines[-1].split(",")[2:6] == ["19", "12", "7", "63"]
    xlsx = client.get(f"/lives/{synced.public_id}/tuike.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert member_client(brand.org, "v", "viewer").get(f"/lives/{synced.public_id}/tuike.csv").status_code == 403


def test_an_operator_moves_the_live_to_the_new_notice_and_is_told_what_changes(brand, synced):
    client = member_client(brand.org, "op", "operator")
    client.cookies["django_language"] = "zh-hans"
    response = client.post(f"/lives/{synced.public_id}/tuike/relink/", {"notice_id": "finder_notice_2"}, follow=True)
    html = html_of(response)
    assert "微信已重置" in html and "Liveloop 保留" in html
    assert TuikeNotice.objects.get(live=synced).notice_id == "finder_notice_2"
    assert TuikeNoticeHistory.objects.get(live=synced).counts["wxs1"]["reservations"] == 12
    (row,) = describe(brand.org, AuditEntry.objects.filter(org=brand.org, action="tuike.relink"))
    assert "finder_notice_1 → finder_notice_2" in row.detail


def test_refusals_by_field_role_and_organisation(brand, outsider, synced):
    other = brand.live(title="另一场")
    TuikeNotice.objects.create(org=brand.org, live=other, notice_id="finder_notice_taken")
    op = member_client(brand.org, "op", "operator")
    html = html_of(op.post(f"/lives/{synced.public_id}/tuike/relink/", {"notice_id": "finder_notice_taken"}), 400)
    assert "already linked" in html
    assert TuikeNotice.objects.get(live=synced).notice_id == "finder_notice_1"
    viewer = member_client(brand.org, "v", "viewer")
    assert viewer.post(f"/lives/{synced.public_id}/tuike/relink/", {"notice_id": "x2"}).status_code == 403
    # Another organisation's member: the live does not exist for them.
    stranger = member_client(outsider.org, "s", "owner")
    for url in (f"/lives/{synced.public_id}/tuike/", f"/lives/{synced.public_id}/tuike.csv"):
        assert stranger.get(url).status_code == 404
    assert stranger.post(f"/lives/{synced.public_id}/tuike/relink/", {"notice_id": "x3"}).status_code == 404
    assert stranger.post(f"/lives/{synced.public_id}/tuike/threshold/", {"gap_pct": 5}).status_code == 404
    assert TuikeNotice.objects.get(live=synced).notice_id == "finder_notice_1"


def test_the_threshold_is_the_owner_s_setting(brand, synced):
    assert member_client(brand.org, "op", "operator").post(
        f"/lives/{synced.public_id}/tuike/threshold/", {"gap_pct": 80}).status_code == 403
    owner = member_client(brand.org, "boss", "owner")
    assert owner.post(f"/lives/{synced.public_id}/tuike/threshold/", {"gap_pct": 0}).status_code == 400
    assert owner.post(f"/lives/{synced.public_id}/tuike/threshold/", {"gap_pct": 80}).status_code == 302
    brand.org.refresh_from_db()
    assert brand.org.reconcile_gap_pct == 80
    rows = rows_of(html_of(owner.get(f"/lives/{synced.public_id}/tuike/")), "tuike-reconcile")
    assert not any("Above threshold" in row[0] for row in rows)
    (row,) = describe(brand.org, AuditEntry.objects.filter(org=brand.org, action="tuike.gap_threshold"))
    assert "20% → 80%" in row.detail


def test_the_page_speaks_chinese(brand, synced):
    owner = member(brand.org, "zh-owner", "owner")  # no language chosen: Chinese
    page = owner.get(f"/lives/{synced.public_id}/tuike/").content.decode()
    main = re.search(r"<main.*?</main>", page, re.S).group(0)
    shown = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", main, flags=re.S))
    latin = set(re.findall(r"[A-Za-z_][A-Za-z_./]{2,}", shown)) - {"Liveloop", "finder_notice_", "CSV", "Excel"}  # the notice id is data
    assert latin == set(), sorted(latin)
    assert "微信预约数" in shown and "超出阈值" in shown and "覆盖率" in shown
