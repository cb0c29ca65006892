"""The Content-Security-Policy blocks nothing of ours (docs/security.md): every page a person
uses, in Chromium, reports no policy violation, and the scripts moved out of the templates run."""
import re
from datetime import timedelta

import pytest

from liveloop.events.ingest import ingest
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment
from tests.actors import EVENING, event
from tests.e2e.browser import PHONE, operator_page

pytestmark = pytest.mark.e2e

# Recorded before any script of the page runs, so a blocked <script src> is caught too.
WATCH = """document.addEventListener("securitypolicyviolation", (e) => {
  (window.__violations = window.__violations || []).push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});"""


def _violations(page):
    page.wait_for_load_state("load")
    return page.evaluate("() => window.__violations || []")


def test_the_pages_run_under_the_policy(contexts, brand):
    live = brand.live(promoters=["A", "B"], announced_at=EVENING + timedelta(days=30))
    L = live.public_id
    ingest(brand.org, [event(f"r{n}", "reservation", L, f"V{n}", promoter="AB"[n % 2]) for n in range(6)],
           source="test")
    page = operator_page(contexts, brand.org)
    page.context.add_init_script(WATCH)
    for path in (f"/lives/{L}/", f"/lives/{L}/programme/", f"/lives/{L}/room/", "/matrix/", "/settings/",
                 "/api/v1/docs"):
        page.goto(path)
        assert _violations(page) == [], path
    page.goto(f"/lives/{L}/")
    page.locator("#chart-funnel canvas").first.wait_for()  # ECharts ran
    page.goto("/api/v1/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()  # Swagger UI ran: the operations are listed

    phone = contexts.page(PHONE)
    phone.context.add_init_script(WATCH)
    enrolment = Enrolment.objects.get(programme=live.programme, promoter__code="A")
    phone.goto(own_page_url(enrolment))
    seconds = phone.locator("[data-part=seconds]")
    first = seconds.text_content()
    phone.wait_for_function("s => document.querySelector('[data-part=seconds]').textContent !== s", arg=first)
    assert _violations(phone) == []
    phone.goto(f"/i/{L}/A/")
    assert _violations(phone) == []
    phone.get_by_role("button", name=re.compile("Reserve|预约")).first.click()
    assert _violations(phone) == []
