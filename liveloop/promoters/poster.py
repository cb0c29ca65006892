"""The promoter's share poster: a 750×1334 PNG (a phone screen) with the live and their invite QR.

Drawn per request: text is drawn as text, so a name like <script> is only ever pixels.
"""
import io

import segno
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw

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
QR_BOX = 440


def draw_poster(*, brand: str, title: str, when: str, promoter_name: str, invite_url: str) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), CREAM)
    draw = ImageDraw.Draw(image)
    text_width = WIDTH - 2 * MARGIN

    draw.rectangle((0, 0, WIDTH, 560), fill=BAND)
    y = 70
    y = _centred(image, fit(brand, Face(34), text_width), Face(34), y, fill=(254, 205, 211))
    y += 36
    title_face = Face(58, bold=True)
    # Without a real bold face, a stroke in the fill colour gives the title its weight.
    stroke = 0 if font_source(bold=True).bold else 1
    for line in wrap(title, title_face, text_width, max_lines=3):
        y = _centred(image, line, title_face, y, fill=WHITE, stroke=stroke) + 14
    y += 20
    _centred(image, fit(when, Face(40), text_width), Face(40), y, fill=WHITE)

    card_top = 620
    draw.rounded_rectangle((MARGIN + 40, card_top, WIDTH - MARGIN - 40, card_top + QR_BOX + 120),
                           radius=24, fill=WHITE)
    qr = _qr_image(invite_url)
    image.paste(qr, ((WIDTH - qr.width) // 2, card_top + 30 + (QR_BOX - qr.height) // 2))
    _centred(image, _("Scan to reserve the live"), Face(38, bold=True), card_top + QR_BOX + 50, fill=BAND)

    label = _("Promoter: %(name)s") % {"name": ""}
    name_face = Face(34)
    name = fit(promoter_name, name_face, text_width - name_face.getlength(label))
    _centred(image, _("Promoter: %(name)s") % {"name": name}, name_face, 1220, fill=INK)
    _centred(image, "Liveloop", Face(22), 1284, fill=MUTED)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _centred(image, text: str, face: Face, y: int, *, fill, stroke: int = 0) -> int:
    """Draw one line centred at height y; return the y below it."""
    face.draw(image, ((WIDTH - face.getlength(text)) / 2, y), text, fill=fill, stroke=stroke)
    ascent, descent = face.getmetrics()
    return y + ascent + descent


def _qr_image(url: str) -> Image.Image:
    modules = segno.make(url, error="m").symbol_size(scale=1, border=4)[0]
    # Whole pixels per module keep the code sharp for a scanner.
    return Image.open(io.BytesIO(qr_png(url, scale=max(1, QR_BOX // modules)))).convert("RGB")
