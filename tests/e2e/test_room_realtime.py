"""The live room updates itself while events arrive: no reload, figures move within a poll or two."""
from datetime import datetime, timedelta, timezone

import pytest

from liveloop.events.ingest import ingest
from liveloop.actions.lives import start_live
from tests.actors import event
from tests.e2e.browser import look, operator_page

pytestmark = pytest.mark.e2e

FIGURE = "#room-data .room-figure:has(.label:text-is('{label}')) .value"


def _figure(page, label):
    return page.locator(FIGURE.format(label=label))


def _wait_for(page, label, text):
    # The poll is every 2 s; allow several polls on a busy machine.
    page.wait_for_function(
        """([label, text]) => [...document.querySelectorAll('#room-data .room-figure')].some(f =>
             f.querySelector('.label').textContent.trim() === label && f.querySelector('.value').textContent.trim() === text)""",
        arg=[label, text], timeout=12_000)


def test_the_room_page_follows_events_as_they_are_ingested(contexts, brand):
    now = datetime.now(timezone.utc)
    live = brand.live(announced_at=now - timedelta(minutes=10), promoters=["A"])
    start_live(live, at=now - timedelta(minutes=5))
    L = live.public_id
    page = operator_page(contexts, brand.org)
    page.goto(f"/lives/{L}/room/")
    assert _figure(page, "Entered the room").inner_text() == "0"
    assert _figure(page, "GMV").inner_text() == "¥0.00"
    # A mark on the window: a reload or navigation would lose it.
    page.evaluate("window.__sameRoom = true")

    def at():
        return datetime.now(timezone.utc) - timedelta(seconds=1)

    ingest(brand.org, [event("e1", "room_enter", L, "V1", promoter="A", at=at()),
                       event("e2", "room_enter", L, "V2", at=at())], source="test")
    _wait_for(page, "Entered the room", "2")
    _wait_for(page, "Concurrent viewers", "2")

    ingest(brand.org, [event("o1", "order_paid", L, "V1", order="O1", amount=12900, at=at()),
                       event("l2", "room_leave", L, "V2", at=at())], source="test")
    _wait_for(page, "GMV", "¥129.00")
    _wait_for(page, "Concurrent viewers", "1")
    assert _figure(page, "Orders").inner_text() == "1"
    # The top promoters table moved too: A brought the order.
    page.locator("#room-data table.room-table").first.get_by_text("¥129.00").wait_for()
    assert page.evaluate("window.__sameRoom") is True
    look(page, "room-realtime")


def test_the_post_live_report_prints_without_the_app_chrome(contexts, brand):
    now = datetime.now(timezone.utc)
    live = brand.live(announced_at=now - timedelta(minutes=10), promoters=["A"])
    start_live(live, at=now - timedelta(minutes=5))
    L = live.public_id
    ingest(brand.org, [event("e1", "room_enter", L, "V1", promoter="A", touchpoint="community",
                             attrs={"gender": "f"}, at=now - timedelta(minutes=4)),
                       event("o1", "order_paid", L, "V1", order="O1", amount=12900, at=now - timedelta(minutes=3))],
           source="test")
    page = operator_page(contexts, brand.org, language="zh-hans")
    page.goto(f"/lives/{L}/report/")
    assert page.locator("header.topbar").is_visible()
    assert page.locator("table.breakdown-touchpoint").is_visible()
    look(page, "report-zh")
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible()
    assert not page.locator("[data-print]").is_visible()
    assert page.locator("table.breakdown-gender").is_visible()
