"""The promoter's share poster: a 750×1334 PNG (a phone screen) with the live and their invite QR.

Drawn per request: text is drawn as text, so a name like <script> is only ever pixels.
"""
import io

import segno
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw

from liveloop.promoters.fonts import cjk_font, font_source
from liveloop.promoters.qr import qr_png

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
    y = _centred(draw, _fit(brand, cjk_font(34), text_width), cjk_font(34), y, fill=(254, 205, 211))
    y += 36
    title_font = cjk_font(58, bold=True)
    # Without a real bold face, a stroke in the fill colour gives the title its weight.
    stroke = 0 if font_source(bold=True).bold else 1
    for line in wrap(title, title_font, text_width, max_lines=3):
        y = _centred(draw, line, title_font, y, fill=WHITE, stroke=stroke) + 14
    y += 20
    _centred(draw, when, cjk_font(40), y, fill=WHITE)

    card_top = 620
    draw.rounded_rectangle((MARGIN + 40, card_top, WIDTH - MARGIN - 40, card_top + QR_BOX + 120),
                           radius=24, fill=WHITE)
    qr = _qr_image(invite_url)
    image.paste(qr, ((WIDTH - qr.width) // 2, card_top + 30 + (QR_BOX - qr.height) // 2))
    _centred(draw, _("Scan to reserve the live"), cjk_font(38, bold=True), card_top + QR_BOX + 50, fill=BAND)

    label = _("Promoter: %(name)s") % {"name": ""}
    name_font = cjk_font(34)
    name = _fit(promoter_name, name_font, text_width - name_font.getlength(label))
    _centred(draw, _("Promoter: %(name)s") % {"name": name}, name_font, 1220, fill=INK)
    _centred(draw, "Liveloop", cjk_font(22), 1284, fill=MUTED)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _centred(draw, text: str, font, y: int, *, fill, stroke: int = 0) -> int:
    """Draw one line centred at height y; return the y below it."""
    width = font.getlength(text)
    draw.text(((WIDTH - width) / 2, y), text, font=font, fill=fill, stroke_width=stroke, stroke_fill=fill)
    ascent, descent = font.getmetrics()
    return y + ascent + descent


def _qr_image(url: str) -> Image.Image:
    modules = segno.make(url, error="m").symbol_size(scale=1, border=4)[0]
    # Whole pixels per module keep the code sharp for a scanner.
    return Image.open(io.BytesIO(qr_png(url, scale=max(1, QR_BOX // modules)))).convert("RGB")


def wrap(text: str, font, width: float, max_lines: int) -> list[str]:
    """Break text into lines that fit width: between any two Chinese characters, preferably at
    a space; the last line ends in … when the text does not fit max_lines."""
    lines, current = [], ""
    for char in " ".join(text.split()):
        if font.getlength(current + char) <= width:
            current += char
            continue
        head, space, tail = current.rpartition(" ")
        # A space in the second half of the line is a better break than the last character
        # that fits: it keeps a word, or a phrase like 买一送一, whole.
        mid_word = current[-1].isascii() and char.isascii()
        if (char != " " and space and head and (mid_word or len(head) >= len(current) / 2)
                and font.getlength(tail + char) <= width):
            lines.append(head)
            current = tail + char
        else:
            lines.append(current.rstrip())
            current = char.lstrip()
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def _fit(text: str, font, width: float) -> str:
    """Text cut to width, with … when it had to be cut."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip("…") + "…"
