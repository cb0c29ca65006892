"""Helpers of the browser tests: devices, browser contexts that watch for dialogs and script
errors, the accessibility check and screenshots (fixtures are in conftest.py)."""
import re
from pathlib import Path

from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
OPERATOR_PASSWORD = "correct horse battery"


class Contexts:
    """Opens browser contexts (separate cookie jars: one per person) on the live server."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.opened = []
        self.problems: list[str] = []

    def new(self, device: dict, language: str = "en", timezone_id: str = "Asia/Shanghai"):
        context = self.browser.new_context(base_url=self.base_url, locale="zh-CN",
                                           timezone_id=timezone_id, accept_downloads=True, **device)
        context.set_default_timeout(15_000)
        if language != "zh-hans":
            context.add_cookies([{"name": "django_language", "value": language, "url": self.base_url}])
        context.on("page", self._watch)
        self.opened.append(context)
        return context

    def page(self, device: dict, language: str = "en", timezone_id: str = "Asia/Shanghai"):
        page = self.new(device, language, timezone_id).new_page()
        self._watch(page)
        return page

    def _watch(self, page):
        if getattr(page, "problems", None) is not None:
            return
        def dialog(d):
            self.problems.append(f"a {d.type} dialog opened on {page.url}: {d.message!r}")
            d.dismiss()

        page.problems = self.problems  # look() fails on them as soon as it is called
        page.on("dialog", dialog)
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript error on {page.url}: {error}"))

    def close(self):
        for context in self.opened:
            context.close()


A11Y_SCRIPT = """() => {
  const problems = [];
  const lang = document.documentElement.getAttribute("lang");
  if (!lang || !lang.trim()) problems.push("<html> has no lang attribute");
  const unlabelled = (el) => {
    if (el.labels && el.labels.length) return false;
    if ((el.getAttribute("aria-label") || "").trim()) return false;
    const by = el.getAttribute("aria-labelledby");
    if (by && by.split(/\\s+/).some((id) => (document.getElementById(id)?.textContent || "").trim())) return false;
    return true;
  };
  const skip = new Set(["hidden", "submit", "button", "reset"]);
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.tagName === "INPUT" && skip.has(el.type)) continue;
    if (el.tagName === "INPUT" && el.type === "image") {
      if (!(el.getAttribute("alt") || "").trim()) problems.push("an image button has no alt: " + el.outerHTML.slice(0, 120));
      continue;
    }
    if (unlabelled(el)) problems.push("a form field has no label: " + el.outerHTML.slice(0, 160));
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("an image has no alt: " + img.outerHTML.slice(0, 160));
  }
  return problems;
}"""


def a11y_problems(page) -> list[str]:
    return page.evaluate(A11Y_SCRIPT)


def look(page, name: str, full_page: bool = True) -> None:
    """Check the page as it stands and keep a screenshot of it."""
    page.wait_for_load_state("load")
    assert not page.problems, "\n".join(page.problems)
    problems = a11y_problems(page)
    assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"),
                    full_page=full_page)


def operator_page(contexts, org, language: str = "en", username: str = "owner"):
    """A signed-in operator (owner) of `org` on a desktop browser, signed in through the form."""
    add_member(org, username, Member.OWNER, password=OPERATOR_PASSWORD)
    page = contexts.page(DESKTOP, language)
    page.goto("/login/")
    look(page, f"login-{language}")
    page.get_by_label(re.compile("Username|用户名")).fill(username)
    page.get_by_label(re.compile("Password|密码")).fill(OPERATOR_PASSWORD)
    page.get_by_label(re.compile("Password|密码")).press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    return page
