"""The promoter's share poster: a 750×1334 PNG (a phone screen) with the live and their invite QR.

Drawn per request: text is drawn as text, so a name like <script> is only ever pixels.
"""
import io
from dataclasses import dataclass

import segno
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageOps

from liveloop.promoters.fonts import font_source
from liveloop.promoters.qr import qr_png
from liveloop.promoters.text import Face, fit, wrap

WIDTH, HEIGHT = 750, 1334
MARGIN = 60
BAND = (159, 18, 57)        # camellia red, the header band
CREAM = (255, 247, 237)
INK = (41, 37, 36)
MUTED = (120, 113, 108)
WHITE = (255, 255, 255)
PINK = (254, 205, 211)      # the brand's name on the band
QR_BOX = 440


@dataclass(frozen=True)
class Layout:
    cover: int        # the cover's height at the top (0: none)
    text_top: int     # the brand's line
    band_end: int
    title_size: int
    title_lines: int
    card_top: int
    qr_box: int
    name_y: int


PLAIN = Layout(cover=0, text_top=70, band_end=560, title_size=58, title_lines=3, card_top=620, qr_box=QR_BOX,
               name_y=1220)
# A cover takes the top; the title gets two lines and the code stays large enough to scan.
WITH_COVER = Layout(cover=360, text_top=384, band_end=710, title_size=52, title_lines=2, card_top=730,
                    qr_box=340, name_y=1214)
LOGO_BOX, LOGO_GAP = 56, 12


def draw_poster(*, brand: str, title: str, when: str, promoter_name: str, invite_url: str,
                cover: Image.Image | None = None, logo: Image.Image | None = None,
                official_qr: Image.Image | None = None) -> bytes:
    """cover and logo: the brand's images (promoters.images), drawn when given. official_qr:
    the promoter's WeChat reservation code (推客), drawn instead of the invite link's code —
    scanned in WeChat it reserves the live and WeChat counts it for this promoter."""
    layout = WITH_COVER if cover is not None else PLAIN
    image = Image.new("RGB", (WIDTH, HEIGHT), CREAM)
    draw = ImageDraw.Draw(image)
    text_width = WIDTH - 2 * MARGIN

    if cover is not None:
        image.paste(ImageOps.fit(cover.convert("RGB"), (WIDTH, layout.cover), Image.Resampling.LANCZOS), (0, 0))
    draw.rectangle((0, layout.cover, WIDTH, layout.band_end), fill=BAND)
    y = _brand_row(image, brand, logo, layout.text_top, text_width)
    y += 36 if cover is None else 16
    title_face = Face(layout.title_size, bold=True)
    # Without a real bold face, a stroke in the fill colour gives the title its weight.
    stroke = 0 if font_source(bold=True).bold else 1
    for line in wrap(title, title_face, text_width, max_lines=layout.title_lines):
        y = _centred(image, line, title_face, y, fill=WHITE, stroke=stroke) + (14 if cover is None else 12)
    y += 20 if cover is None else 8
    _centred(image, fit(when, Face(40), text_width), Face(40), y, fill=WHITE)

    card_top, qr_box = layout.card_top, layout.qr_box
    draw.rounded_rectangle((MARGIN + 40, card_top, WIDTH - MARGIN - 40, card_top + qr_box + 120),
                           radius=24, fill=WHITE)
    if official_qr is not None:
        # Scaled with NEAREST: a code's modules stay sharp-edged for a scanner.
        qr = ImageOps.contain(official_qr.convert("RGB"), (qr_box, qr_box), Image.Resampling.NEAREST)
        caption = _("Scan with WeChat to reserve")
    else:
        qr = _qr_image(invite_url, qr_box)
        caption = _("Scan to reserve the live")
    image.paste(qr, ((WIDTH - qr.width) // 2, card_top + 30 + (qr_box - qr.height) // 2))
    _centred(image, caption, Face(38, bold=True), card_top + qr_box + 50, fill=BAND)

    label = _("Promoter: %(name)s") % {"name": ""}
    name_face = Face(34)
    name = fit(promoter_name, name_face, text_width - name_face.getlength(label))
    _centred(image, _("Promoter: %(name)s") % {"name": name}, name_face, layout.name_y, fill=INK)
    _centred(image, "Liveloop", Face(22), 1284, fill=MUTED)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _brand_row(image, brand: str, logo: Image.Image | None, y: int, width: int) -> int:
    """The brand's name, after its logo on a white tile when there is one; the y below."""
    face = Face(34)
    if logo is None:
        return _centred(image, fit(brand, face, width), face, y, fill=PINK)
    name = fit(brand, face, width - LOGO_BOX - LOGO_GAP)
    left = round((WIDTH - LOGO_BOX - LOGO_GAP - face.getlength(name)) / 2)
    ascent, descent = face.getmetrics()
    tile_top = y + (ascent + descent - LOGO_BOX) // 2
    ImageDraw.Draw(image).rounded_rectangle((left, tile_top, left + LOGO_BOX, tile_top + LOGO_BOX),
                                            radius=10, fill=WHITE)
    mark = ImageOps.contain(logo.convert("RGBA"), (LOGO_BOX - 8, LOGO_BOX - 8), Image.Resampling.LANCZOS)
    image.paste(mark, (left + (LOGO_BOX - mark.width) // 2, tile_top + (LOGO_BOX - mark.height) // 2), mark)
    face.draw(image, (left + LOGO_BOX + LOGO_GAP, y), name, fill=PINK)
    return y + max(ascent + descent, tile_top + LOGO_BOX - y)


def _centred(image, text: str, face: Face, y: int, *, fill, stroke: int = 0) -> int:
    """Draw one line centred at height y; return the y below it."""
    face.draw(image, ((WIDTH - face.getlength(text)) / 2, y), text, fill=fill, stroke=stroke)
    ascent, descent = face.getmetrics()
    return y + ascent + descent


def _qr_image(url: str, box: int) -> Image.Image:
    modules = segno.make(url, error="m").symbol_size(scale=1, border=4)[0]
    # Whole pixels per module keep the code sharp for a scanner.
    return Image.open(io.BytesIO(qr_png(url, scale=max(1, box // modules)))).convert("RGB")
