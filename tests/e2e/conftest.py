"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's
live_server, on a phone (375×812) or a desktop viewport.

Every page a test looks at goes through `browser.look()`: a basic accessibility check (a lang
attribute, labelled form fields, alt text on images) and a screenshot saved to
test-results/screenshots/ as a CI artifact. A page that opens a dialog (an injected alert) or
throws a JavaScript error fails its test.
"""
import os
import shutil

import pytest

from tests.e2e.browser import Contexts

CHROMIUM = os.environ.get("LIVELOOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the package. Package scope (not session): Playwright's sync API marks
    its event loop as running in this thread while it is open, and Django refuses ORM calls
    from a thread with a running loop; the loop and the permission to ignore it end here,
    before the rest of the suite runs."""
    executable = shutil.which(CHROMIUM)
    if executable is None:
        message = (f"Chromium not found at {CHROMIUM}: install Debian's chromium "
                   "(apt-get install chromium fonts-noto-cjk) or point LIVELOOP_CHROMIUM at one")
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def contexts(browser, live_server):
    opened = Contexts(browser, live_server.url)
    yield opened
    opened.close()
    assert not opened.problems, "\n".join(opened.problems)
