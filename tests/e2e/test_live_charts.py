"""The operator's live page draws its charts in the browser (ECharts, served locally)."""
from datetime import timedelta

import pytest

from liveloop.events.ingest import ingest
from tests.actors import EVENING, event
from tests.e2e.browser import DESKTOP, look, operator_page

pytestmark = pytest.mark.e2e

CHARTS = ("funnel", "reservations", "promoters")


def test_the_live_page_draws_the_funnel_the_reservations_and_the_top_promoters(contexts, brand):
    live = brand.live(promoters=["A", "B", "C"])
    L = live.public_id
    ingest(brand.org, [event(f"r{n}", "reservation", L, f"V{n}", promoter="ABC"[n % 3],
                             at=EVENING - timedelta(hours=n)) for n in range(30)]
           + [event("e1", "room_enter", L, "V1", at=EVENING + timedelta(minutes=2))], source="test")
    page = operator_page(contexts, brand.org, language="zh-hans")
    page.goto(f"/lives/{L}/")
    for key in CHARTS:
        chart = page.locator(f"#chart-{key}")
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
        chart.locator("canvas").first.wait_for()
    assert page.locator("[data-chart-drawn]").count() == len(CHARTS)
    # The canvases were painted, not just created: some pixel is not blank.
    painted = page.evaluate("""() => [...document.querySelectorAll('[data-chart-drawn] canvas')].map(c => {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
        return false; })""")
    assert painted and all(painted)
    # A narrower window redraws the charts at the new width.
    before = page.locator("#chart-funnel canvas").first.bounding_box()["width"]
    page.set_viewport_size({"width": 800, "height": 900})
    page.wait_for_function("w => document.querySelector('#chart-funnel canvas').getBoundingClientRect().width < w",
                           arg=before)
    page.set_viewport_size(DESKTOP["viewport"])
    look(page, "operator-live-zh")
