"""The brand's images in the browser: an owner uploads a logo and a cover on the settings page (a
wrong file is refused in Chinese beside its field), the previews load under the CSP, the page
fits a phone, and a viewer's invite page shows both."""
from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from tests.actors import png_bytes
from tests.e2e.browser import PHONE, look, operator_page

pytestmark = pytest.mark.e2e

LOADED = "img => img.complete && img.naturalWidth > 0"


def upload(page, kind: str, path) -> None:
    field = page.locator(f"#id_{kind}-image")
    field.set_input_files(str(path))
    with page.expect_navigation():  # the form posts, then the settings page comes back
        page.locator("form", has=field).get_by_role("button", name="上传").click()


def test_an_owner_sets_the_logo_and_cover_and_the_invite_page_shows_them(contexts, brand, tmp_path):
    live = brand.live(announced_at=datetime.now(timezone.utc) + timedelta(days=1), promoters=["A"])
    logo, cover, text = tmp_path / "logo.png", tmp_path / "cover.jpg", tmp_path / "notes.png"
    logo.write_bytes(png_bytes((20, 170, 60), (200, 200)))
    cover.write_bytes(png_bytes((20, 90, 220), (1200, 600), format="JPEG"))
    text.write_bytes("这不是图片\n".encode() * 20)

    desk = operator_page(contexts, brand.org, language="zh-hans")
    desk.goto(reverse("web:settings"))
    upload(desk, "logo", text)
    error = desk.locator("form", has=desk.locator("#id_logo-image")).locator(".errors")
    assert error.inner_text().strip() == "这不是 PNG、JPEG 或 WebP 图片。"

    upload(desk, "logo", logo)
    upload(desk, "cover", cover)
    previews = desk.locator("img.brand-image")
    assert previews.count() == 2
    assert all(previews.nth(i).evaluate(LOADED) for i in range(2))
    look(desk, "operator-settings-brand-images-zh")

    # The same page on a phone: nothing of the brand images' section wider than the screen.
    desk.set_viewport_size({"width": 390, "height": 844})
    desk.reload()
    right = desk.locator("section[aria-labelledby=brand-heading]").evaluate(
        "s => Math.max(...[s, ...s.querySelectorAll('*')].map(e => e.getBoundingClientRect().right))")
    assert right <= 390
    look(desk, "operator-settings-brand-images-390-zh")

    phone = contexts.page(PHONE, language="zh-hans")
    phone.goto(reverse("phone:invite", args=[live.public_id, "A"]))
    assert phone.locator("img.live-cover").evaluate(LOADED)
    assert phone.locator("img.brand-logo").evaluate(LOADED)
    look(phone, "phone-invite-with-cover-zh")
