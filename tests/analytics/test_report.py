"""The post-live report: every figure computed by hand on a small stream, the derived tables
replayed by rebuild, the page and the XLSX export (docs/decisions.md "Post-live report")."""
import io
from datetime import timedelta
from fractions import Fraction

import pytest
from click.testing import CliRunner
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from liveloop.analytics.models import AudienceStats, AudienceViewer, LiveAudience
from liveloop.analytics.report import live_report
from liveloop.cli import main
from liveloop.events.ingest import ingest
from liveloop.events.rebuild import differences, replace, replay
from liveloop.actions.lives import end_live, start_live
from liveloop.notify.models import Notice
from liveloop.notify.queue import reminders
from tests.actors import EVENING, event

M = timedelta(minutes=1)
ZHEJIANG = {"gender": "f", "city_tier": 2, "region": "浙江", "age_band": "25-34"}


def stream(L):
    """Live L with promoters A and B (first touch), on air EVENING to EVENING + 60 min.

    Viewers: V1 reserved through A, enters twice (600 s + 600 s), buys O1 (10000, 2000
    refunded), is captured. V2 reserved through B, enters without a code (B's by the
    reservation), watches 1800 s, follows. V3 reserved, never comes. V4 public traffic, never
    leaves (closed at the end: 57 min), buys O2 and O3, follows, is captured through A's
    contact code. V5 public, 60 s, nothing known about them. V6 captured, never entered.
    V7 captured first, then enters from public traffic (120 s). V9 leaves without entering.
    """
    at = lambda minutes, seconds=0: EVENING + minutes * M + timedelta(seconds=seconds)  # noqa: E731
    before = [
        event("r1", "reservation", L, "V1", promoter="A", at=EVENING - 60 * M, touchpoint="article"),
        event("r2", "reservation", L, "V2", promoter="B", at=EVENING - 50 * M),
        event("r3", "reservation", L, "V3", at=EVENING - 40 * M),
    ]
    during = [
        event("c7", "capture", L, "V7", at=at(2), attrs={"channel": "wecom"}),
        event("e1", "room_enter", L, "V1", promoter="A", at=at(1), touchpoint="community", attrs=ZHEJIANG),
        event("e2", "room_enter", L, "V2", at=at(2), touchpoint="moments", attrs={"gender": "m", "city_tier": 1}),
        event("e3", "room_enter", L, "V4", at=at(3), touchpoint="public",
              attrs={"gender": "f", "share_scene": "group"}),
        event("e4", "room_enter", L, "V5", at=at(4)),
        event("l5", "room_leave", L, "V5", at=at(5)),
        event("l9", "room_leave", L, "V9", at=at(5, 30)),
        event("e7", "room_enter", L, "V7", at=at(6), touchpoint="live", attrs={"gender": "m"}),
        event("l7", "room_leave", L, "V7", at=at(8)),
        event("l1", "room_leave", L, "V1", at=at(11)),
        event("e5", "room_enter", L, "V1", at=at(12), touchpoint="wecom"),
        event("e6", "room_enter", L, "V1", at=at(13)),
        event("o1", "order_paid", L, "V1", order="O1", amount=10000, at=at(15)),
        event("o2", "order_paid", L, "V4", order="O2", amount=5000, at=at(16)),
        event("o3", "order_paid", L, "V4", order="O3", amount=3000, at=at(17)),
        event("rf1", "order_refund", L, "V1", order="O1", amount=2000, at=at(18)),
        event("f4", "follow", L, "V4", at=at(18)),
        event("f2", "follow", L, "V2", at=at(19)),
        event("l2", "room_leave", L, "V1", at=at(22)),
        event("l3", "room_leave", L, "V2", at=at(32)),
    ]
    after = [
        event("c4", "capture", L, "V4", promoter="A", at=at(65), attrs={"channel": "wecom"}),
        event("c1", "capture", L, "V1", at=at(66)),
        event("c6", "capture", L, "V6", at=at(67)),
    ]
    return before, during, after


@pytest.fixture
def reported(brand):
    live = brand.live(promoters=["A", "B"])
    before, during, after = stream(live.public_id)
    assert ingest(brand.org, before, source="test").accepted == 3
    start_live(live, at=EVENING)
    # Two of the three reminders went out.
    for notice in Notice.objects.filter(live=live, kind=Notice.LIVE_REMINDER).order_by("recipient")[:2]:
        notice.state = Notice.SENT
        notice.save()
    # In three batches, so profiles and open stays are carried between them.
    for batch in (during[:8], during[8:], after[:1]):
        result = ingest(brand.org, batch, source="test")
        assert result.rejected == [] and result.accepted == len(batch)
    end_live(live, at=EVENING + 60 * M)
    assert ingest(brand.org, after[1:], source="test").accepted == 2
    live.refresh_from_db()
    return live


def test_the_reports_headline_figures_match_the_hand_count(reported):
    report = live_report(reported)
    summary = report["summary"]
    assert (summary["reservations"], report["lapsed"]) == (3, 0)
    # The third was never sent: it expired when the live ended.
    assert reminders(reported) == {"sent": 2, "pending": 0, "failed": 0, "expired": 1}
    assert report["viewers"] == 5                       # V1 V2 V4 V5 V7
    assert report["views"] == 7                         # every room_enter, repeats included
    # No online sample: entries − exits by minute peak at 4 (minutes 1–4, before V5 and V9 leave).
    assert (report["peak"], report["peak_sampled"]) == (4, False)
    # V1 600+600, V2 1800, V4 open from minute 3 closed at the end (3420), V5 60, V7 120.
    assert report["watch_seconds"] == 1200 + 1800 + 3420 + 60 + 120
    assert report["average_watch"] == Fraction(6600, 5)
    assert summary["follows"] == 2
    assert (summary["orders"], summary["buyers"], summary["gmv"], summary["refunded"], summary["net"]) == \
        (3, 2, 18000, 2000, 16000)
    assert report["conversion"] == Fraction(2, 5)
    assert report["uv_value"] == Fraction(18000, 5)
    assert report["gmv_per_thousand_views"] == Fraction(18000 * 1000, 7)
    assert report["average_order"] == Fraction(6000)


def test_private_domain_against_public_traffic_and_the_flywheel(reported):
    report = live_report(reported)
    domain = report["domain"]
    assert domain["private"] == {"viewers": 2, "gmv": 10000, "net": 8000}    # V1 (A), V2 (B)
    assert domain["public"] == {"viewers": 3, "gmv": 8000, "net": 8000}      # V4 V5 V7
    assert (domain["viewer_share"], domain["gmv_share"]) == (Fraction(2, 5), Fraction(5, 9))
    # Captures: V4, V1, V6, V7. Of those, V4 and V7 came from public traffic (V7 captured first).
    assert report["flywheel"] == {"captures": 4, "public_captures": 2, "public_viewers": 3,
                                  "rate": Fraction(2, 3)}


def _rows(report, dimension):
    return {row["value"]: tuple(row[f] for f in ("entered", "buyers", "orders", "gmv", "refunded", "follows",
                                                 "captures"))
            for row in report["breakdowns"][dimension]}


def test_the_breakdowns_count_each_viewer_under_their_first_value(reported):
    report = live_report(reported)
    #                          entered buyers orders gmv  refunded follows captures
    assert _rows(report, "touchpoint") == {
        "community": (1, 1, 1, 10000, 2000, 0, 1),   # V1's first room-side touchpoint (not the reservation's)
        "moments": (1, 0, 0, 0, 0, 1, 0),
        "public": (1, 1, 2, 8000, 0, 1, 1),
        "live": (1, 0, 0, 0, 0, 0, 0),
        "": (1, 0, 0, 0, 0, 0, 2),                   # V5 entered; V6 and V7 captured while unknown
    }
    assert _rows(report, "gender") == {
        "f": (2, 2, 3, 18000, 2000, 1, 2), "m": (2, 0, 0, 0, 0, 1, 0), "": (1, 0, 0, 0, 0, 0, 2)}
    assert _rows(report, "share_scene") == {"group": (1, 1, 2, 8000, 0, 1, 1), "": (4, 1, 1, 10000, 2000, 1, 3)}
    assert _rows(report, "city_tier") == {"2": (1, 1, 1, 10000, 2000, 0, 1), "1": (1, 0, 0, 0, 0, 1, 0),
                                          "": (3, 1, 2, 8000, 0, 1, 3)}
    assert set(_rows(report, "region")) == {"浙江", ""} and set(_rows(report, "age_band")) == {"25-34", ""}
    community = report["breakdowns"]["touchpoint"][0]
    assert (community["value"], community["conversion"], community["net"]) == ("community", Fraction(1), 8000)
    # Every dimension adds up to the live's figures.
    summary = report["summary"]
    for dimension, rows in report["breakdowns"].items():
        for figure in ("entered", "buyers", "orders", "gmv", "refunded", "follows", "captures"):
            assert sum(row[figure] for row in rows) == summary[figure], (dimension, figure)


def test_rebuild_check_finds_no_difference_and_catches_a_tampered_row(reported, brand):
    assert AudienceStats.objects.filter(live=reported).exists()
    assert LiveAudience.objects.get(live=reported).public_captures == 2
    # V4's stay is still open (closed at the live's end when read).
    assert AudienceViewer.objects.get(live=reported, viewer="V4").open_since == EVENING + 3 * M
    attribution, problems = replay(brand.org)
    assert problems == [] and differences(brand.org, attribution) == []

    AudienceStats.objects.filter(live=reported, dimension="touchpoint", value="public").update(gmv=1)
    LiveAudience.objects.filter(live=reported).update(watch_seconds=0)
    AudienceViewer.objects.filter(live=reported, viewer="V1").update(gender="m")
    found = differences(brand.org, attribution)
    assert len(found) == 3 and any("touchpoint='public'" in line for line in found)
    replace(brand.org, attribution)
    attribution, problems = replay(brand.org)
    assert differences(brand.org, attribution) == []
    assert live_report(reported)["watch_seconds"] == 6600


def test_a_live_on_air_closes_open_stays_now_and_ignores_entries_after_it(brand):
    live = brand.live()
    start_live(live, at=EVENING)
    L = live.public_id
    ingest(brand.org, [event("e1", "room_enter", L, "V1", at=EVENING + M),
                       event("e2", "room_enter", L, "V2", at=EVENING + 9 * M)], source="test")
    live.refresh_from_db()
    assert live_report(live, now=EVENING + 5 * M)["watch_seconds"] == 240  # V2 has not entered yet by then
    assert live_report(live, now=EVENING + 10 * M)["watch_seconds"] == 540 + 60
    # An online sample from the platform is the peak; views still count every entry.
    ingest(brand.org, [event("s1", "online", L, "account", count=57, at=EVENING + 3 * M)], source="test")
    report = live_report(live, now=EVENING + 10 * M)
    assert (report["peak"], report["peak_sampled"], report["views"]) == (57, True, 2)


def test_the_report_page_and_its_export(reported, owner, brand, outsider):
    L = reported.public_id
    page = owner.get(f"/lives/{L}/report/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    text = page.content.decode()
    assert "¥160.00" in text and "40.0%" in text          # net, conversion 2/5
    assert "22:00" in text or "22分" in text               # average watch 1320 s
    with translation.override("zh-hans"):  # the words as the reader's language has them
        assert gettext("Community group") in text
        names = {key: gettext(key) for key in ("Overview", "Net", "Viewers", "Conversion", "Touchpoint")}
    assert owner.get(f"/lives/{outsider.live().public_id}/report/").status_code == 404

    response = owner.get(f"/lives/{L}/report.xlsx", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[0] == names["Overview"] and names["Touchpoint"] in book.sheetnames
    overview = {row[0]: row[1] for row in book[names["Overview"]].iter_rows(values_only=True) if row[0]}
    assert overview[names["Net"]] == 160 and overview[names["Viewers"]] == 5
    assert overview[names["Conversion"]] == pytest.approx(0.4)
    assert len(list(book[gettext("Promoters")].iter_rows())) == 1 + 3  # header, unattributed, A, B


def test_the_rebuild_command_checks_and_repairs_the_audience_tables(reported, brand):
    result = CliRunner().invoke(main, ["rebuild", "--check", "--org", brand.org.slug])
    assert result.exit_code == 0, result.output
    LiveAudience.objects.filter(live=reported).update(public_captures=7)
    result = CliRunner().invoke(main, ["rebuild", "--check", "--org", brand.org.slug])
    assert result.exit_code == 1 and "watch time and flywheel" in result.output
    assert CliRunner().invoke(main, ["rebuild", "--org", brand.org.slug]).exit_code == 0
    assert LiveAudience.objects.get(live=reported).public_captures == 2
