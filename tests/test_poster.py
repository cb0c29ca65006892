"""The promoter's poster: a phone-sized PNG whose Chinese renders as Chinese, names as text."""
import io
from datetime import datetime, timezone

from django.test import Client
from PIL import Image, ImageChops, ImageDraw

from liveloop.promoters import fonts, poster
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment
from liveloop.web.phone.dates import when_text

XSS = "<script>alert(1)</script>"


def bitmap(font, text):
    mask = font.getmask(text)
    return Image.frombytes("L", mask.size, bytes(mask))


def draw(**overrides):
    fields = {"brand": "山茶集", "title": "双十二预热直播", "when": "11月20日 周五 20:00",
              "promoter_name": "王小花", "invite_url": "https://example.com/i/Labc/PA/"}
    return Image.open(io.BytesIO(poster.draw_poster(**{**fields, **overrides})))


def test_the_poster_download_is_a_phone_sized_png(brand):
    live = brand.live(promoters=["PA"])
    client = Client()
    client.get(own_page_url(Enrolment.objects.get(programme__live=live)))
    response = client.get("/me/poster.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'attachment; filename="poster-{live.public_id}-PA.png"'
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == (750, 1334)


def test_the_cjk_font_has_chinese_glyphs_not_boxes():
    font = fonts.cjk_font(48)
    chinese, boxes = bitmap(font, "预约"), bitmap(font, fonts.MISSING * 2)
    assert chinese.getbbox() is not None and boxes.getbbox() is not None
    assert chinese.size != boxes.size or ImageChops.difference(chinese, boxes).getbbox() is not None
    assert fonts.has_glyphs(font, "预约直播推广员扫码周日月")
    assert not fonts.has_glyphs(font, "预" + fonts.MISSING)


def test_the_title_is_drawn_in_chinese_glyphs():
    # The same poster with the title as missing-glyph boxes must differ where the title is.
    real = draw(title="预约")
    tofu = draw(title=fonts.MISSING * 2)
    band = (0, 150, 750, 420)
    assert ImageChops.difference(real.crop(band), tofu.crop(band)).getbbox() is not None
    darkest, lightest = real.convert("L").crop(band).getextrema()
    assert lightest - darkest > 100  # white text on the red band, not an empty band


def test_the_promoters_name_is_drawn_literally():
    image = draw(promoter_name=XSS).convert("RGB")
    font = fonts.cjk_font(34)
    line = poster._("Promoter: %(name)s") % {"name": XSS}
    ascent, descent = font.getmetrics()
    expected = Image.new("RGB", (poster.WIDTH, ascent + descent), poster.CREAM)
    poster._centred(ImageDraw.Draw(expected), line, font, 0, fill=poster.INK)
    name_row = image.crop((0, 1220, poster.WIDTH, 1220 + ascent + descent))
    assert ImageChops.difference(name_row, expected).getbbox() is None
    assert expected.convert("L").getextrema()[0] < 100  # the row really holds dark text


def test_a_long_title_wraps_to_three_lines_that_fit():
    font = fonts.cjk_font(58, bold=True)
    lines = poster.wrap("双十二预热直播：山茶花护肤专场 限时福利 买一送一 还有更多惊喜等你来拿 不见不散" * 2,
                        font, 630, max_lines=3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 630 for line in lines)
    english = poster.wrap("Spring skincare live special", font, 500, max_lines=3)
    assert " ".join(english) == "Spring skincare live special" and len(english) > 1  # at spaces only
    for text in ("a " + "x" * 60, "双十二 预热直播山茶花护肤专场限时福利买一送一还有更多惊喜等你来拿"):
        assert all(font.getlength(line) <= 630 for line in poster.wrap(text, font, 630, max_lines=3))
    assert poster.wrap("双十二预热直播：山茶花护肤专场 限时福利 买一送一", font, 630, max_lines=3)[-1] == "买一送一"


def test_the_poster_date_is_chinese_in_the_organisations_zone(brand):
    at = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    assert when_text(at, brand.org, "zh-hans") == "11月20日 周五 20:00"
    assert when_text(at, brand.org, "en") == "Fri 20 Nov 20:00"
    brand.org.timezone = "Europe/London"
    assert when_text(at, brand.org, "zh-hans") == "11月20日 周五 12:00"


def test_the_system_check_refuses_to_start_without_a_cjk_font(settings, tmp_path):
    from liveloop.promoters.apps import cjk_font_check
    from liveloop.promoters.fonts import font_source

    assert cjk_font_check(None) == []
    settings.LIVELOOP_CJK_FONT = str(tmp_path / "missing.otf")
    font_source.cache_clear()
    try:
        errors = cjk_font_check(None)
    finally:
        font_source.cache_clear()
    assert [e.id for e in errors] == ["liveloop.E001"] and "missing.otf" in errors[0].msg
