"""Money and rounding, exact: amounts are integer fen, rates are Fractions, nothing goes through
a float. Pure Python (the rules import it too, and they import no Django)."""
from __future__ import annotations

import operator
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction


def yuan(fen: int, *, cents: bool = True) -> str:
    """The ¥ text people read: 12900 → "¥129.00", -5 → "-¥0.05", 1234500 → "¥12,345.00".
    With cents=False the whole yuan only, the fen dropped (a limit in a message, where the
    cents are noise): 1234599 → "¥12,345"."""
    # operator.index refuses floats and Decimals: a fractional fen is a bug upstream, not a rounding.
    fen = operator.index(fen)
    whole, part = divmod(abs(fen), 100)
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{whole:,}.{part:02d}" if cents else f"{sign}¥{whole:,}"


def yuan_amount(fen: int, places: int | None = None) -> Decimal:
    """Integer fen as a yuan Decimal for a spreadsheet cell, never through a float. Exact by
    default (12900 → Decimal('129'), 12950 → Decimal('129.5')); with places=2 as finance writes
    it (600 → Decimal('6.00'))."""
    exact = Decimal(fen) / 100
    return exact if places is None else exact.quantize(Decimal(1).scaleb(-places))


def yuan_text(fen: int) -> str:
    """Yuan with two places and no ¥, for a CSV: 2645448 → "26454.48", -5 → "-0.05". Decimal all
    the way, so a column sums to the page's figure exactly."""
    return str(yuan_amount(fen, 2))


def round_half_up(value: Fraction | int) -> int:
    """An exact value to a whole number, half up (toward +∞): floor(value + ½), so 5/2 → 3 and
    -1/2 → 0. How money is rounded: once, at the end of an exact computation."""
    # In integers on the numerator and denominator: building Fractions here was a fair share of
    # accruing commission.
    numerator, denominator = value.numerator, value.denominator  # denominator > 0
    return (2 * numerator + denominator) // (2 * denominator)


def whole_yuan(fen: int) -> int:
    """Fen to whole yuan, half up (a chart's axis; exact amounts are in the tables): 149 → 1,
    150 → 2, -150 → -1."""
    # floor(fen/100 + 1/2) in integers: the room's charts round sixty of these on every poll,
    # and a Fraction each cost thirty times as much. operator.index refuses a float, as Fraction did.
    return (operator.index(fen) + 50) // 100


def half_up(value: Fraction | int, places: int = 0) -> Decimal:
    """An exact value (int or Fraction) as a Decimal with `places` decimals, for display; a tie
    rounds away from zero (Decimal's ROUND_HALF_UP: 0.125 → 0.13, -0.125 → -0.13)."""
    value = Fraction(value)
    # Decimal division of two integers (28 significant digits), then the rounding: no float.
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent(part: int, whole: int, places: int = 1) -> Decimal | None:
    """part / whole as a percentage with `places` decimals, half up, from integers: 1/3 →
    Decimal('33.3'); None when whole is 0 (no rate, not 0%)."""
    return half_up(Fraction(part * 100, whole), places) if whole else None
