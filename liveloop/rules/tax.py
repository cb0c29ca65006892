"""Withholding of individual income tax on labour remuneration (劳务报酬所得), pure.

The pre-withholding rule (个人所得税 劳务报酬所得 预扣预缴) of 国家税务总局公告2018年第61号
《个人所得税扣缴申报管理办法（试行）》: the income amount (收入额) is the payment less 800 yuan
when the payment is at most 4,000 yuan, less 20% above that; the pre-withholding rate (预扣率,
预扣率表二) on it is 20% up to 20,000 yuan, 30% with a quick deduction of 2,000 up to 50,000,
and 40% with 7,000 above. What one payment (每次) is belongs to the caller: continuous income
from the same item within a month counts as one (个人所得税法实施条例).

Computed exactly in fractions of a fen and rounded half-up once to the fen. The formula is
continuous — (4,000 − 800) × 20% = 4,000 × 80% × 20% = 640, and the quick deductions close
the band edges — so the withholding never falls when the payment rises.
"""
from __future__ import annotations

from fractions import Fraction

from liveloop.lib.numbers import round_half_up

FLAT_DEDUCTION_UP_TO = 400_000  # ¥4,000: up to here 800 yuan is deducted, above it 20%
FLAT_DEDUCTION = 80_000  # ¥800
# (income amount up to, in fen or None, rate in percent, quick deduction in fen)
BANDS = ((2_000_000, 20, 0), (5_000_000, 30, 200_000), (None, 40, 700_000))


def labour_withholding(income_fen: int) -> int:
    """The tax to withhold from one payment (每次收入) of labour remuneration, in fen."""
    if not isinstance(income_fen, int) or isinstance(income_fen, bool) or income_fen < 0:
        raise ValueError(f"income must be a whole number of fen ≥ 0, got {income_fen!r}")
    if income_fen <= FLAT_DEDUCTION:
        return 0
    if income_fen <= FLAT_DEDUCTION_UP_TO:
        return round_half_up(Fraction((income_fen - FLAT_DEDUCTION) * 20, 100))
    taxable = Fraction(income_fen * 80, 100)
    for upper, percent, quick_deduction in BANDS:
        if upper is None or taxable <= upper:
            return round_half_up(taxable * percent / 100 - quick_deduction)
    raise AssertionError("the last band is open")


def net_after_tax(income_fen: int) -> int:
    return income_fen - labour_withholding(income_fen)
