"""Withholding on labour remuneration (劳务报酬所得 预扣预缴), docs/decisions.md "Money rules"."""
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.rules.tax import labour_withholding, net_after_tax

PROPERTY = settings(max_examples=300, deadline=None)
YUAN = 100


@pytest.mark.parametrize("income, withheld", [
    (0, 0),
    (800 * YUAN, 0),
    (80_001, 0),                      # ¥800.01: 0.2 fen → 0
    (80_003, 1),                      # 0.6 fen → 1
    (2_000 * YUAN, 240 * YUAN),       # (2,000 − 800) × 20%
    (4_000 * YUAN, 640 * YUAN),       # (4,000 − 800) × 20%
    (400_001, 64_000),                # 400,001 × 80% × 20% = 64,000.16 fen
    (10_000 * YUAN, 1_600 * YUAN),    # 10,000 × 80% × 20%
    (25_000 * YUAN, 4_000 * YUAN),    # taxable 20,000 × 20%
    (2_500_001, 400_000),             # taxable 20,000.008 × 30% − 2,000 = 400,000.24 fen
    (30_000 * YUAN, 5_200 * YUAN),    # 24,000 × 30% − 2,000
    (62_500 * YUAN, 13_000 * YUAN),   # taxable 50,000 × 30% − 2,000
    (6_250_001, 1_300_000),           # taxable 50,000.008 × 40% − 7,000 = 1,300,000.32 fen
    (100_000 * YUAN, 25_000 * YUAN),  # 80,000 × 40% − 7,000
])
def test_statutory_examples_and_band_edges(income, withheld):
    assert labour_withholding(income) == withheld
    assert net_after_tax(income) == income - withheld


@pytest.mark.parametrize("income", [400_000, 2_500_000, 6_250_000])
def test_no_jump_where_the_formula_changes(income):
    # Just past each edge the new formula starts where the old one ended (within a fen).
    steps = [labour_withholding(income + delta) for delta in (-1, 0, 1, 2)]
    assert steps == sorted(steps)
    assert steps[-1] - steps[0] <= 1


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100"])
def test_income_must_be_whole_fen(bad):
    with pytest.raises(ValueError):
        labour_withholding(bad)


def by_the_law_in_yuan(income_fen):
    """The same rule read from the law, in decimal yuan, rounded half-up to the fen."""
    income = Decimal(income_fen) / 100
    if income <= 800:
        tax = Decimal(0)
    elif income <= 4000:
        tax = (income - 800) * Decimal("0.2")
    else:
        taxable = income * Decimal("0.8")
        if taxable <= 20_000:
            tax = taxable * Decimal("0.2")
        elif taxable <= 50_000:
            tax = taxable * Decimal("0.3") - 2000
        else:
            tax = taxable * Decimal("0.4") - 7000
    return int((tax * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


incomes = st.integers(0, 10**9) | st.integers(70_000, 7_000_000)


@PROPERTY
@given(incomes)
def test_matches_the_rule_read_in_yuan(income):
    assert labour_withholding(income) == by_the_law_in_yuan(income)


@PROPERTY
@given(incomes, st.integers(0, 10_000_000))
def test_withholding_never_falls_as_income_rises(income, rise):
    assert labour_withholding(income + rise) >= labour_withholding(income)


@PROPERTY
@given(incomes)
def test_withholding_stays_below_the_top_effective_rate(income):
    withheld = labour_withholding(income)
    # 40% on 80% of the payment is 32%, less the quick deduction: below the 40% band rate too.
    assert 0 <= withheld * 100 <= income * 32
    assert net_after_tax(income) >= income * 68 // 100
    # One more fen of income moves the exact tax by at most 0.32 fen: the rounded one by ≤ 1.
    assert 0 <= labour_withholding(income + 1) - withheld <= 1
