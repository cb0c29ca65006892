"""The whole path on a phone: scan the recruit QR, join, open the own page, save the poster,
reserve through the invite link as a viewer, and see the operator's live page count it."""
import io
import re

import pytest
from django.urls import reverse
from PIL import Image

from liveloop.analytics.queries import live_summary
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment, Team
from liveloop.actions.promoters import NewPromoter, enrol
from tests.actors import recruit_token, upcoming_live
from tests.e2e.browser import PHONE, SCREENSHOTS, look, operator_page

pytestmark = pytest.mark.e2e

PREVIEW = "https://channels.weixin.qq.com/preview/e2e-live"
HOSTILE = "<script>alert(1)</script>"

# The cell of `header`'s column in the row of any table that has a cell reading `name`.
CELL = """([name, header]) => {
  for (const table of document.querySelectorAll("table")) {
    const heads = [...table.querySelectorAll("thead th")]
      .map((th) => th.textContent.replace(/[▲▼]/g, "").trim());
    const column = heads.indexOf(header);
    if (column < 0) continue;
    for (const row of table.querySelectorAll("tbody tr")) {
      const cells = [...row.children];
      if (cells.some((cell) => cell.textContent.trim() === name)) return cells[column].textContent.trim();
    }
  }
  return null;
}"""


def test_scan_join_share_reserve_and_the_operator_sees_it(contexts, brand):
    live = upcoming_live(brand, preview_url=PREVIEW)
    Team.objects.create(org=brand.org, name="静安寺店")
    Team.objects.create(org=brand.org, name="徐汇滨江店")

    # The promoter scans the recruit QR on their phone and joins.
    promoter = contexts.page(PHONE)
    promoter.goto(reverse("phone:join", args=[recruit_token(live)]))
    look(promoter, "phone-join")
    promoter.get_by_label("Your name").fill("林小满")
    promoter.get_by_label("Mobile number").fill("138 0013 8000")
    promoter.get_by_label("Store or team").select_option(label="徐汇滨江店")
    promoter.get_by_role("button", name="Join").click()
    promoter.wait_for_url(re.compile(r"/me/"))
    look(promoter, "phone-own-page")
    assert promoter.get_by_text("Hello, 林小满").is_visible()
    enrolment = Enrolment.objects.for_org(brand.org).select_related("promoter__team").get(programme__live=live)
    assert (enrolment.promoter.phone, enrolment.promoter.team.name) == ("13800138000", "徐汇滨江店")

    # The poster downloads as a PNG.
    with promoter.expect_download() as download_info:
        promoter.get_by_role("link", name="Save poster").click()
    download = download_info.value
    poster = download.path().read_bytes()
    assert poster.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(poster))
    assert image.format == "PNG" and image.width >= 375 and image.height >= image.width
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "phone-poster.png").write_bytes(poster)

    # A friend opens the invite link in their own browser and reserves; the relay hands them on
    # to the platform's preview page (answered here by the test, the machine has no internet).
    invite_url = promoter.get_by_label("My invite link").input_value()
    assert invite_url.endswith(reverse("phone:invite", args=[live.public_id, enrolment.promoter.code]))
    viewer_context = contexts.new(PHONE)
    viewer_context.route(f"{PREVIEW}**", lambda route: route.fulfill(
        content_type="text/html; charset=utf-8",
        body='<!doctype html><html lang="zh-Hans"><title>视频号</title><h1>视频号直播预约</h1></html>'))
    viewer = viewer_context.new_page()
    viewer.goto(invite_url)
    look(viewer, "phone-invite")
    assert viewer.get_by_text("林小满 invites you").is_visible()
    viewer.get_by_role("button", name="Reserve the live").click()
    viewer.wait_for_url(f"{PREVIEW}**")
    # Tapping again (the viewer came back) changes nothing.
    viewer.goto(invite_url)
    viewer.get_by_role("button", name="Reserve the live").click()
    viewer.wait_for_url(f"{PREVIEW}**")
    assert live_summary(live)["reservations"] == 1

    # The promoter's page (found again through its cookie) counts the reservation.
    promoter.goto(reverse("phone:me"))
    look(promoter, "phone-own-page-after")
    results = promoter.get_by_role("heading", name="My results").locator("xpath=..")
    assert results.locator("dt", has_text=re.compile("^Reservations$")).locator("xpath=../dd").inner_text() == "1"

    # The operator, at a desk, sees it credited to that promoter.
    desk = operator_page(contexts, brand.org)
    desk.goto(reverse("web:live", args=[live.public_id]))
    look(desk, "operator-live")
    assert desk.evaluate(CELL, ["林小满", "Reservations"]) == "1"
    assert desk.evaluate(CELL, ["林小满", "Team / store"]) == "徐汇滨江店"


def test_a_script_for_a_name_is_only_ever_text(contexts, brand):
    live = upcoming_live(brand)
    enrol(live.programme, [NewPromoter(name=HOSTILE, code="EVIL")])
    hostile = Enrolment.objects.for_org(brand.org).get(programme__live=live, promoter__code="EVIL")

    promoter = contexts.page(PHONE, language="zh-hans")
    promoter.goto(own_page_url(hostile))
    look(promoter, "phone-own-page-zh")
    assert HOSTILE in promoter.locator("main, body").first.inner_text()

    viewer = contexts.page(PHONE, language="zh-hans")
    invite = reverse("phone:invite", args=[live.public_id, "EVIL"])
    viewer.goto(invite)
    look(viewer, "phone-invite-zh")
    assert HOSTILE in viewer.locator("body").inner_text()
    viewer.locator(f"form[action='{invite}'] button").click()
    viewer.wait_for_load_state("load")
    look(viewer, "phone-reserved-zh")

    desk = operator_page(contexts, brand.org, language="zh-hans")
    desk.goto(reverse("web:live", args=[live.public_id]))
    desk.locator("#chart-promoters canvas").first.wait_for()
    look(desk, "operator-live-hostile-zh")
    assert desk.get_by_role("cell", name=HOSTILE, exact=True).count() >= 1
    # Point at the bar so the tooltip, which names the promoter, is drawn too.
    chart = desk.locator("#chart-promoters")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    desk.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    desk.wait_for_timeout(400)
    look(desk, "operator-live-hostile-tooltip-zh", full_page=False)
