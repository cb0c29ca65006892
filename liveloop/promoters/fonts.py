"""Finding a font that has Chinese glyphs, for posters drawn on the server.

In order: the LIVELOOP_CJK_FONT setting ("path" or "path#index" for a .ttc collection);
the system's Noto Sans CJK SC through fontconfig (Debian's fonts-noto-cjk); the pinned
cvttf_NotoSansCJK_Regular package's font. Without any of them posters would show boxes
(tofu) instead of Chinese, so we refuse to draw rather than hand out a broken poster.

Emoji (🎉 🌸, common in live titles and names) come from a colour emoji font: LIVELOOP_EMOJI_FONT,
else Debian's fonts-noto-color-emoji through fontconfig. Without one a poster still draws, its
emoji left out, and the log says why once (posters.emoji_font_missing).
"""
import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageChops, ImageFont

# A code point no font maps: drawn as the font's missing-glyph box (.notdef).
MISSING = "\U0010fffd"
PROBE = "预约直播"
# Noto Color Emoji is a bitmap (CBDT) font: FreeType loads it only at the size of its strikes.
EMOJI_STRIKE = 109

log = logging.getLogger(__name__)


class FontNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class FontSource:
    path: str
    index: int
    bold: bool  # a real bold face; otherwise posters thicken the regular one


def _from_setting() -> FontSource | None:
    value = getattr(settings, "LIVELOOP_CJK_FONT", "")
    if not value:
        return None
    path, _, index = value.partition("#")
    if not Path(path).is_file():
        raise FontNotFound(f"LIVELOOP_CJK_FONT names {path!r}, which is not a file")
    return FontSource(path, int(index or 0), bold=False)


def _fc_match(pattern: str) -> tuple[str, int, str, str] | None:
    """fontconfig's file, index, family and style for pattern."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        out = subprocess.run([fc_match, "-f", "%{file}\n%{index}\n%{family}\n%{style}", pattern],
                             capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    path, index, family, style = (out.split("\n") + ["", "", "", ""])[:4]
    return path, int(index or 0), family, style


def _from_fontconfig(bold: bool) -> FontSource | None:
    found = _fc_match("Noto Sans CJK SC" + (":bold" if bold else ""))
    # fc-match always answers with something; only accept the family we asked for.
    if found is None or "Noto Sans CJK" not in found[2] or not Path(found[0]).is_file():
        return None
    return FontSource(found[0], found[1], bold="Bold" in found[3])


def _from_package() -> FontSource | None:
    try:
        import cvttf_NotoSansCJK_Regular as package
    except ImportError:
        return None
    path = Path(package.__file__).parent / "NotoSansCJKtc-Regular.otf"
    return FontSource(str(path), 0, bold=False) if path.is_file() else None


@lru_cache(maxsize=2)
def font_source(bold: bool = False) -> FontSource:
    source = _from_setting() or _from_fontconfig(bold) or _from_package()
    if source is None:
        raise FontNotFound("no font with Chinese glyphs: install fonts-noto-cjk, or the "
                           "cvttf_NotoSansCJK_Regular package, or set LIVELOOP_CJK_FONT")
    return source


@lru_cache(maxsize=32)
def cjk_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    source = font_source(bold)
    return ImageFont.truetype(source.path, size, index=source.index)


def emoji_font_path() -> str | None:
    value = getattr(settings, "LIVELOOP_EMOJI_FONT", "")
    if value:
        return value if Path(value).is_file() else None
    found = _fc_match("Noto Color Emoji")
    if found is None or "Emoji" not in found[2] or not Path(found[0]).is_file():
        return None
    return found[0]


@lru_cache(maxsize=1)
def emoji_font() -> ImageFont.FreeTypeFont | None:
    """The colour emoji font at its one strike size, or None (logged once) when there is none."""
    path = emoji_font_path()
    if path is not None:
        try:
            return ImageFont.truetype(path, EMOJI_STRIKE)
        except OSError as error:  # not a font, or a colour font without a 109 px strike
            log.warning("posters.emoji_font_unusable path=%s error=%s: emoji are left out of posters",
                        path, error)
            return None
    log.warning("posters.emoji_font_missing: no colour emoji font (install fonts-noto-color-emoji or "
                "set LIVELOOP_EMOJI_FONT); emoji are left out of posters")
    return None


def has_glyphs(font: ImageFont.FreeTypeFont, text: str) -> bool:
    """True when every character of text draws as something other than the missing-glyph box."""
    missing = _bitmap(font, MISSING)
    for char in text:
        drawn = _bitmap(font, char)
        if drawn.getbbox() is None:
            return False
        if drawn.size == missing.size and ImageChops.difference(drawn, missing).getbbox() is None:
            return False
    return True


def _bitmap(font, text: str) -> Image.Image:
    mask = font.getmask(text)
    return Image.frombytes("L", mask.size, bytes(mask)) if mask.size[0] and mask.size[1] else Image.new("L", (1, 1))
