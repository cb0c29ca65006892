"""Text on posters: Chinese and Latin in the CJK font, emoji in the colour emoji font, one line.

Pillow draws a string with one font, so a line is split into runs by font: each emoji sequence
(🎉, 👍🏽, 🇨🇳, 👩‍👩‍👧 — the `emoji` package knows the sequences) goes to the emoji font, drawn at
its only size (109 px) and scaled to the text's size; everything else goes to the CJK font.
Wrapping and cutting work on the same units, so an emoji sequence is never split.
"""
from dataclasses import dataclass
from functools import lru_cache

import emoji
from PIL import Image, ImageDraw

from liveloop.promoters import fonts

# emoji's statuses: a bare ❤ or © (unqualified) is text by default; with FE0F, or an emoji that
# only exists as a picture (🎉), it is drawn in colour.
COLOUR = {emoji.STATUS["fully_qualified"], emoji.STATUS["minimally_qualified"]}
ELLIPSIS = "…"


@lru_cache(maxsize=1)
def _text_probe():
    return fonts.cjk_font(48)


@lru_cache(maxsize=4096)
def _cjk_has(char: str) -> bool:
    return fonts.has_glyphs(_text_probe(), char)


def clusters(text: str) -> list[tuple[str, bool]]:
    """text as units that wrap and cut whole: (emoji sequence, True) or (character, False)."""
    units = []
    for token in emoji.analyze(text, non_emoji=True, join_emoji=True):
        if isinstance(token.value, emoji.EmojiMatch):
            status = token.value.data.get("status")
            colour = status in COLOUR or not _cjk_has(token.chars)
            if colour:
                units.append((token.chars, True))
                continue
        units.extend((char, False) for char in token.chars)
    return units


def runs(text: str) -> list[tuple[str, bool]]:
    """Consecutive units of the same font joined: [(text, is_emoji), …]."""
    joined: list[tuple[str, bool]] = []
    for unit, is_emoji in clusters(text):
        if joined and joined[-1][1] == is_emoji:
            joined[-1] = (joined[-1][0] + unit, is_emoji)
        else:
            joined.append((unit, is_emoji))
    return joined


@dataclass(frozen=True)
class Face:
    """The CJK font at a size (bold or not) with the emoji font scaled to match."""
    size: int
    bold: bool = False

    @property
    def cjk(self):
        return fonts.cjk_font(self.size, bold=self.bold)

    @property
    def scale(self) -> float:
        return self.size / fonts.EMOJI_STRIKE

    def getmetrics(self) -> tuple[int, int]:
        return self.cjk.getmetrics()

    def _run_length(self, text: str, is_emoji: bool) -> float:
        if not is_emoji:
            return self.cjk.getlength(text)
        font = fonts.emoji_font()
        return font.getlength(text) * self.scale if font is not None else 0.0

    def getlength(self, text: str) -> float:
        return sum(self._run_length(run, is_emoji) for run, is_emoji in runs(text))

    def draw(self, image: Image.Image, xy: tuple[float, float], text: str, *, fill, stroke: int = 0) -> None:
        """Draw one line with its top (the CJK font's ascender line) at xy."""
        x, y = xy
        draw = ImageDraw.Draw(image)
        baseline = y + self.cjk.getmetrics()[0]
        for run, is_emoji in runs(text):
            if is_emoji:
                self._paste_emoji(image, x, baseline, run)
            else:
                draw.text((x, y), run, font=self.cjk, fill=fill, stroke_width=stroke, stroke_fill=fill)
            x += self._run_length(run, is_emoji)

    def _paste_emoji(self, image: Image.Image, x: float, baseline: float, run: str) -> None:
        font = fonts.emoji_font()
        if font is None:
            return  # logged once by fonts.emoji_font: left out rather than drawn as boxes
        ascent, descent = font.getmetrics()
        strike = Image.new("RGBA", (max(1, round(font.getlength(run))), ascent + descent), (0, 0, 0, 0))
        ImageDraw.Draw(strike).text((0, ascent), run, font=font, embedded_color=True, anchor="ls")
        size = (max(1, round(strike.width * self.scale)), max(1, round(strike.height * self.scale)))
        scaled = strike.resize(size, Image.Resampling.LANCZOS)
        image.paste(scaled, (round(x), round(baseline - ascent * self.scale)), scaled)


def wrap(text: str, font, width: float, max_lines: int) -> list[str]:
    """Break text into lines that fit width: between any two Chinese characters (or emoji),
    Latin words at spaces; the last line ends in … when the text does not fit max_lines."""
    lines, current = [], ""
    for unit, _is_emoji in clusters(" ".join(text.split())):
        if font.getlength(current + unit) <= width:
            current += unit
            continue
        head, space, tail = current.rpartition(" ")
        # A space in the second half of the line is a better break than the last character
        # that fits: it keeps a word, or a phrase like 买一送一, whole.
        mid_word = current[-1:].isascii() and unit.isascii()
        if (unit != " " and space and head and (mid_word or len(head) >= len(current) / 2)
                and font.getlength(tail + unit) <= width):
            lines.append(head)
            current = tail + unit
        else:
            lines.append(current.rstrip())
            current = unit.lstrip()
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _cut(lines[-1], font, width)
    return lines


def fit(text: str, font, width: float) -> str:
    """Text cut to width, whole emoji at a time, with … when it had to be cut."""
    return text if font.getlength(text) <= width else _cut(text, font, width)


def _cut(text: str, font, width: float) -> str:
    units = [unit for unit, _is_emoji in clusters(text)]
    while units and font.getlength("".join(units) + ELLIPSIS) > width:
        units.pop()
    return "".join(units).rstrip().rstrip(ELLIPSIS) + ELLIPSIS
