"""A brand's logo and covers: uploaded on the settings and live edit pages, checked strictly,
re-encoded, kept per organisation, and drawn on the poster and the invite page."""
import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member
from liveloop.promoters import images, poster
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import BrandImage, Enrolment
from tests.actors import png_bytes

GREEN, BLUE, ORANGE = (20, 170, 60), (20, 90, 220), (250, 140, 10)


def upload(data: bytes, name="image.png", content_type="image/png"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def share(image, box, colour) -> float:
    """The share of pixels in box close to colour."""
    region = image.convert("RGB").crop(box)
    data = region.tobytes()
    pixels = list(zip(data[0::3], data[1::3], data[2::3]))
    return sum(near(p, colour) for p in pixels) / len(pixels)


def poster_of(live) -> Image.Image:
    phone = Client()
    phone.get(own_page_url(Enrolment.objects.for_org(live.org).get(programme__live=live)))
    response = phone.get("/me/poster.png")
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


def png_bomb(width: int, height: int) -> bytes:
    """A real PNG of width × height black 1-bit pixels: a few kilobytes that decode to
    width × height pixels (a decompression bomb)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_the_logo_and_covers_uploaded_on_the_pages_appear_on_the_poster(brand, owner):
    live = brand.live(promoters=["PA"])
    plain = poster_of(live)
    assert share(plain, (0, 0, 750, 360), BLUE) == 0

    logo = png_bytes(GREEN, (300, 300))
    assert owner.post("/settings/brand/logo/", {"logo-image": upload(logo)}).status_code == 302
    cover = png_bytes(BLUE, (1200, 600), format="JPEG", quality=95)
    answer = owner.post("/settings/brand/cover/", {"cover-image": upload(cover, "cover.jpg", "image/jpeg")})
    assert answer.status_code == 302
    with_brand = poster_of(live)
    assert share(with_brand, (0, 0, 750, 360), BLUE) > 0.95          # the default cover fills the top
    assert share(with_brand, (0, 360, 750, 440), GREEN) > 0.02       # the logo's tile beside the name
    assert share(plain, (0, 0, 750, 560), GREEN) == 0

    # The live's own cover, uploaded on its edit page, replaces the default one on its poster.
    webp = png_bytes(ORANGE, (900, 450), format="WEBP")
    answer = owner.post(f"/lives/{live.public_id}/cover/", {"cover-image": upload(webp, "cover.webp", "image/webp")})
    assert answer.status_code == 302
    assert share(poster_of(live), (0, 0, 750, 360), ORANGE) > 0.95
    other = brand.live(title="另一场", promoters=["PB"])
    assert share(poster_of(other), (0, 0, 750, 360), BLUE) > 0.95

    # The pages show them; removing the live's cover brings the default back.
    settings_page = owner.get("/settings/").content.decode()
    assert "/settings/brand/logo.png?v=" in settings_page and "/settings/brand/cover.jpg?v=" in settings_page
    assert f"/lives/{live.public_id}/cover.jpg?v=" in owner.get(f"/lives/{live.public_id}/edit/").content.decode()
    assert owner.post(f"/lives/{live.public_id}/cover/", {"remove": "1"}).status_code == 302
    assert share(poster_of(live), (0, 0, 750, 360), BLUE) > 0.95
    assert owner.get(f"/lives/{live.public_id}/cover.jpg").status_code == 404


def test_the_invite_page_shows_the_cover_and_logo_through_its_own_link(brand, owner):
    live = brand.live(promoters=["PA"])
    invite = f"/i/{live.public_id}/PA/"
    page = Client().get(invite).content.decode()
    assert "cover.jpg" not in page and "logo.png" not in page
    assert Client().get(invite + "cover.jpg").status_code == 404

    owner.post("/settings/brand/logo/", {"logo-image": upload(png_bytes(GREEN, (100, 100)))})
    owner.post("/settings/brand/cover/", {"cover-image": upload(png_bytes(BLUE, (800, 400)))})
    page = Client().get(invite).content.decode()
    assert f'src="{invite}cover.jpg"' in page and f'src="{invite}logo.png"' in page
    cover = Client().get(invite + "cover.jpg")
    assert cover.status_code == 200 and cover["Content-Type"] == "image/jpeg"
    assert share(Image.open(io.BytesIO(cover.content)), (0, 0, 800, 400), BLUE) > 0.95
    logo = Client().get(invite + "logo.png")
    assert logo["Content-Type"] == "image/png" and Image.open(io.BytesIO(logo.content)).size == (100, 100)
    # The promoter's own page shows them too.
    phone = Client()
    own = phone.get(own_page_url(Enrolment.objects.get(programme__live=live))).content.decode()
    assert f'src="{invite}cover.jpg"' in own


def test_what_is_stored_is_re_encoded_and_scaled_down(brand, django_capture_on_commit_callbacks):
    # A real PNG carrying a text chunk and bytes after its end: neither survives.
    carrier = io.BytesIO()
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<?php system($_GET['c']); ?>")
    Image.new("RGB", (3000, 1000), GREEN).save(carrier, format="PNG", pnginfo=info)
    data = carrier.getvalue() + b"<script>alert(1)</script>"
    cleaned = images.clean_upload(upload(data), BrandImage.COVER)
    row = images.save_image(brand.org, BrandImage.COVER, cleaned)
    stored = images.read(row)
    assert b"php" not in stored and b"<script>" not in stored
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and image.size == (1500, 500) == (row.width, row.height)
    # Files are kept per organisation, and replacing one removes the old file.
    assert row.name.startswith(f"brand/{brand.org.pk}/")
    first = row.name
    with django_capture_on_commit_callbacks(execute=True):  # the old file goes once the new row is in
        images.save_image(brand.org, BrandImage.COVER, images.clean_upload(upload(png_bytes(BLUE)), BrandImage.COVER))
    assert BrandImage.objects.for_org(brand.org).count() == 1
    assert not images.default_storage.exists(first)


@pytest.mark.parametrize("data, name, reason", [
    (b"hello, this is text\n" * 10, "notes.png", "这不是 PNG、JPEG 或 WebP 图片。"),
    (png_bytes(GREEN, format="GIF"), "anim.png", "这不是 PNG、JPEG 或 WebP 图片。"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>',
     "logo.png", "这不是 PNG、JPEG 或 WebP 图片。"),
    (png_bytes(GREEN, format="PNG")[:60], "cut.png", "图片已损坏或不完整。"),
    (png_bomb(6000, 5000), "bomb.png", "图片为 6000 × 5000 像素，最多 2500 万像素。"),
    (png_bomb(20000, 20000), "bomb.png", "图片超过 2500 万像素。"),
    (b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024), "big.jpg", "文件大小为 5.1 MB，最多 5 MB。"),
], ids=["text", "gif", "svg", "truncated", "bomb", "huge-bomb", "too-large"])
def test_bad_uploads_are_refused_with_a_reason_and_lose_nothing(brand, owner, data, name, reason):
    owner.post("/settings/brand/logo/", {"logo-image": upload(png_bytes(GREEN))})
    kept = BrandImage.objects.for_org(brand.org).get()
    answer = owner.post("/settings/brand/logo/", {"logo-image": upload(data, name)})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert reason in page, page[page.find("errors"):][:400]
    assert list(BrandImage.objects.for_org(brand.org)) == [kept]
    assert images.read(kept) == images.read(BrandImage.objects.for_org(brand.org).get())
    # The live's cover form says the same beside its own field.
    live = brand.live()
    answer = owner.post(f"/lives/{live.public_id}/cover/", {"cover-image": upload(data, name)})
    assert answer.status_code == 400 and reason in answer.content.decode()
    assert not BrandImage.objects.for_org(brand.org).filter(live=live).exists()


def test_no_file_is_refused_in_chinese_and_refusals_speak_english_on_english_pages(owner):
    answer = owner.post("/settings/brand/cover/", {})
    assert answer.status_code == 400 and "这个字段是必填项。" in answer.content.decode()
    owner.cookies["django_language"] = "en"
    answer = owner.post("/settings/brand/cover/", {"cover-image": upload(png_bomb(6000, 5000))})
    assert "The image is 6000 × 5000 pixels; at most 25 million pixels." in answer.content.decode()


def test_another_organisation_sees_and_replaces_none_of_the_brands_images(brand, outsider, owner):
    live = brand.live(promoters=["PA"])
    owner.post("/settings/brand/logo/", {"logo-image": upload(png_bytes(GREEN))})
    owner.post(f"/lives/{live.public_id}/cover/", {"cover-image": upload(png_bytes(BLUE))})
    their_live = outsider.live(promoters=["PA"])
    add_member(outsider.org, "stranger", Member.OWNER, password="correct horse battery")
    stranger = Client()
    assert stranger.login(username="stranger", password="correct horse battery")

    # Their own organisation's pages: nothing of the brand's.
    assert stranger.get("/settings/brand/logo.png").status_code == 404
    assert "/settings/brand/logo.png" not in stranger.get("/settings/").content.decode()
    # The brand's live by its id: 404, to look at or to replace.
    assert stranger.get(f"/lives/{live.public_id}/cover.jpg").status_code == 404
    before = images.read(BrandImage.objects.for_org(brand.org).get(live=live))
    answer = stranger.post(f"/lives/{live.public_id}/cover/", {"cover-image": upload(png_bytes(ORANGE))})
    assert answer.status_code == 404
    assert images.read(BrandImage.objects.for_org(brand.org).get(live=live)) == before
    assert not BrandImage.objects.for_org(outsider.org).exists()
    # Their promoter's code on the brand's live (and the other way round) opens no image.
    assert Client().get(f"/i/{their_live.public_id}/PA/logo.png").status_code == 404
    assert Client().get(f"/i/{live.public_id}/PA/logo.png").status_code == 200
    # … and their poster has no cover or logo of the brand's.
    assert share(poster_of(their_live), (0, 0, 750, 560), GREEN) == 0
    assert share(poster_of(their_live), (0, 0, 750, 360), BLUE) == 0


def test_only_the_owner_sets_brand_images_and_viewers_no_cover(brand, owner):
    live = brand.live()
    for role in (Member.OPERATOR, Member.FINANCE, Member.VIEWER):
        member = add_member(brand.org, f"m_{role}", role)
        client = Client()
        client.force_login(member.user)
        assert client.post("/settings/brand/logo/", {"logo-image": upload(png_bytes(GREEN))}).status_code == 403
        cover = client.post(f"/lives/{live.public_id}/cover/", {"cover-image": upload(png_bytes(GREEN))})
        assert cover.status_code == (302 if role == Member.OPERATOR else 403)
    assert not BrandImage.objects.for_org(brand.org).filter(live__isnull=True).exists()


def test_the_poster_layout_with_a_cover_keeps_text_inside_the_margins():
    image = Image.open(io.BytesIO(poster.draw_poster(
        brand="山茶集🌸" * 20, title="🎉双十二预热直播" * 10, when="11月20日 周五 20:00",
        promoter_name="王小花" * 20, invite_url="https://example.com/i/L/P/",
        cover=Image.new("RGB", (300, 900), ORANGE), logo=Image.new("RGB", (10, 400), GREEN))))
    band = image.crop((0, poster.WITH_COVER.cover, 750, poster.WITH_COVER.band_end))
    found = band.point(lambda v: v).convert("RGB")
    from PIL import ImageChops
    box = ImageChops.difference(found, Image.new("RGB", found.size, poster.BAND)).getbbox()
    assert poster.MARGIN <= box[0] and box[2] <= poster.WIDTH - poster.MARGIN
    assert share(image, (0, 0, 750, poster.WITH_COVER.cover), ORANGE) > 0.99  # a tall cover is cropped to fill


def test_a_file_gone_from_the_data_directory_leaves_the_poster_without_it(brand, owner, caplog):
    live = brand.live(promoters=["PA"])
    owner.post("/settings/brand/cover/", {"cover-image": upload(png_bytes(BLUE, (800, 400)))})
    row = BrandImage.objects.for_org(brand.org).get()
    images.default_storage.delete(row.name)
    assert share(poster_of(live), (0, 0, 750, 360), BLUE) == 0
    assert "images.unreadable" in caplog.text
    assert Client().get(f"/i/{live.public_id}/PA/cover.jpg").status_code == 404
