"""Display of the report's exact figures: fractions are rounded here, and only here."""
from fractions import Fraction

from django import template

from liveloop.lib.numbers import half_up, yuan

register = template.Library()
NOTHING = "—"


def percent_text(value) -> str:
    """Fraction(2, 5) → "40.0%"; None (nothing to divide by) → "—"."""
    if value is None:
        return NOTHING
    return f"{half_up(Fraction(value) * 100, 1)}%"


def fen_of(value) -> int | None:
    """A fraction of fen rounded half up to a whole fen (money shown is always whole fen)."""
    if value is None:
        return None
    return int(half_up(Fraction(value)))


def money_text(value) -> str:
    fen = fen_of(value)
    return NOTHING if fen is None else yuan(fen)


def duration_text(value) -> str:
    """Seconds (a fraction) as m:ss, or h:mm:ss from an hour, rounded half up to the second."""
    if value is None:
        return NOTHING
    total = int(half_up(Fraction(value)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


register.filter("percent", percent_text)
register.filter("money", money_text)
register.filter("duration", duration_text)
