"""The promoter's poster: a phone-sized PNG whose Chinese renders as Chinese, names as text."""
import io
from datetime import datetime, timezone

from django.test import Client
from hypothesis import given, settings, strategies as st
from PIL import Image, ImageChops

from liveloop.promoters import fonts, poster, text
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
    poster._centred(expected, line, text.Face(34), 0, fill=poster.INK)
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


TITLE_BOX = (0, 150, 750, 260)  # the first title line, on the red band


def colourful(image, box) -> int:
    """Pixels in box that no mix of the band's red and white makes: green or blue beats red."""
    data = image.convert("RGB").crop(box).tobytes()
    return sum(1 for r, g, b in zip(data[0::3], data[1::3], data[2::3]) if g > r + 30 or b > r + 30)


def test_emoji_in_the_title_are_drawn_in_colour_not_boxes():
    assert fonts.emoji_font() is not None, "install fonts-noto-color-emoji (CI does)"
    with_emoji = draw(title="🎉🌸")
    # 🎉's streamers are green and blue: a couple of hundred such pixels where the title is. Boxes
    # (tofu) or nothing would leave only red, white and their blends.
    assert colourful(with_emoji, TITLE_BOX) > 150
    assert colourful(draw(title=fonts.MISSING * 2), TITLE_BOX) == 0
    assert colourful(draw(title="双十二"), TITLE_BOX) == 0
    # The emoji sit on the title's line and inside the margins.
    box = ImageChops.difference(with_emoji.crop((0, 0, 750, 560)), Image.new("RGB", (750, 560), poster.BAND)).getbbox()
    assert box[0] >= poster.MARGIN and box[2] <= poster.WIDTH - poster.MARGIN


def test_emoji_sequences_stay_whole():
    units = [unit for unit, _emoji in text.clusters("推广员👩‍👩‍👧🇨🇳👍🏽❤️A")]
    assert units == ["推", "广", "员", "👩‍👩‍👧", "🇨🇳", "👍🏽", "❤️", "A"]
    assert [is_emoji for _unit, is_emoji in text.clusters("❤️©1")] == [True, False, False]
    face = text.Face(58, bold=True)
    lines = text.wrap("双十二" + "👩‍👩‍👧" * 30, face, 630, max_lines=2)
    assert len(lines) == 2 and lines[-1].endswith("…")
    for line in lines:  # never cut mid-sequence: each line is whole families
        assert line.removeprefix("双十二").removesuffix("…").replace("👩‍👩‍👧", "") == ""
    assert all(face.getlength(line) <= 630 for line in lines)


def test_without_an_emoji_font_the_poster_draws_and_the_log_says_why(settings, tmp_path, caplog):
    settings.LIVELOOP_EMOJI_FONT = str(tmp_path / "missing.ttf")
    fonts.emoji_font.cache_clear()
    try:
        image = draw(title="🎉🌸双十二")
        from liveloop.promoters.apps import emoji_font_check
        assert [w.id for w in emoji_font_check(None)] == ["liveloop.W001"]
    finally:
        fonts.emoji_font.cache_clear()
    assert colourful(image, TITLE_BOX) == 0
    assert "posters.emoji_font_missing" in caplog.text


def ink_box(image, box, background):
    region = image.convert("RGB").crop(box)
    found = ImageChops.difference(region, Image.new("RGB", region.size, background)).getbbox()
    return (found[0] + box[0], found[1] + box[1], found[2] + box[0], found[3] + box[1])


def test_long_names_and_titles_stay_inside_the_margins():
    long_name = "王小花" * 12 + "🌸" * 6 + " Flower" * 8
    image = draw(brand="山茶集🌸" * 20, promoter_name=long_name,
                 title="Supercalifragilisticexpialidocious" * 3 + " 🎉双十二预热直播" * 6)
    left, right = poster.MARGIN, poster.WIDTH - poster.MARGIN
    band = ink_box(image, (0, 0, 750, 560), poster.BAND)
    name = ink_box(image, (0, 1200, 750, 1280), poster.CREAM)
    for x0, _y0, x1, _y1 in (band, name):
        assert left <= x0 and x1 <= right
    assert name[2] - name[0] > 500  # the name row is full, cut with …, not empty


WORDS = ["双十二", "预热", "直播", "山茶花", "买一送一", "🎉", "🌸", "👍🏽", "🇨🇳", "👩‍👩‍👧", "Spring", "skincare",
         "Supercalifragilisticexpialidocious", "2026", "：", "！", " "]


@settings(max_examples=40)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=40), st.sampled_from([300, 630]),
       st.integers(min_value=1, max_value=3))
def test_wrapped_lines_fit_keep_the_text_and_never_split_an_emoji(words, width, max_lines):
    face = text.Face(58, bold=True)
    source = " ".join("".join(words).split())
    lines = text.wrap(source, face, width, max_lines=max_lines)
    if not source:
        assert lines == []
        return
    assert 1 <= len(lines) <= max_lines
    assert all(face.getlength(line) <= width for line in lines)
    whole = [unit for unit, _emoji in text.clusters(source)]
    kept = [unit for line in lines for unit, _emoji in text.clusters(line.removesuffix("…"))]
    # Every unit of every line is a whole unit of the text, in order (spaces at breaks dropped).
    rest = iter(whole)
    assert all(any(unit == other for other in rest) for unit in kept)
    if not lines[-1].endswith("…"):
        assert "".join(kept).replace(" ", "") == source.replace(" ", "")
