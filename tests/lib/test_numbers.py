"""liveloop.lib: the one ¥ format, the one half-up rounding, chunks and spreadsheet cells."""
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from liveloop.lib.numbers import half_up, percent, round_half_up, whole_yuan, yuan, yuan_amount, yuan_text
from liveloop.lib.seq import chunks
from liveloop.lib.sheets import csv_cell


@pytest.mark.parametrize(("fen", "text"), [
    (0, "¥0.00"), (5, "¥0.05"), (-5, "-¥0.05"), (12900, "¥129.00"), (1234500, "¥12,345.00"),
    (-1234567, "-¥12,345.67"), (10**15 + 1, "¥10,000,000,000,000.01"),
])
def test_yuan_is_exact_text_with_separators(fen, text):
    assert yuan(fen) == text


@pytest.mark.parametrize(("fen", "text"), [
    (0, "¥0"), (1234599, "¥12,345"), (1_000_000_000, "¥10,000,000"), (10_000_000_000, "¥100,000,000"),
])
def test_yuan_without_cents_drops_the_fen(fen, text):
    assert yuan(fen, cents=False) == text


@pytest.mark.parametrize("value", [1.5, Decimal("1.5"), "150"])
def test_yuan_refuses_anything_but_whole_fen(value):
    with pytest.raises(TypeError):
        yuan(value)


def test_yuan_amount_is_exact_or_to_the_fen():
    assert str(yuan_amount(12950)) == "129.5"
    assert str(yuan_amount(12900)) == "129"
    assert str(yuan_amount(600, 2)) == "6.00"
    assert str(yuan_amount(-5, 2)) == "-0.05"
    assert yuan_amount(10**20 + 1, 2) == Decimal("1000000000000000000.01")
    assert yuan_text(2645448) == "26454.48"
    assert yuan_text(0) == "0.00"
    assert yuan_text(-5) == "-0.05"


@pytest.mark.parametrize(("value", "whole"), [
    (Fraction(1, 2), 1), (Fraction(3, 2), 2), (Fraction(5, 2), 3), (Fraction(49, 100), 0),
    (Fraction(-1, 2), 0), (Fraction(-3, 2), -1), (Fraction(-51, 100), -1), (0, 0), (7, 7),
    (Fraction(10**30 + 1, 2), 10**30 // 2 + 1),
])
def test_round_half_up_rounds_a_half_toward_plus_infinity(value, whole):
    assert round_half_up(value) == whole


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_whole_yuan_is_half_up_in_integers(fen):
    assert whole_yuan(fen) == (fen + 50) // 100
    assert whole_yuan(149) == 1 and whole_yuan(150) == 2 and whole_yuan(-150) == -1 and whole_yuan(-151) == -2


@given(st.fractions(min_value=-10**9, max_value=10**9))
def test_round_half_up_is_the_floor_of_half_more(amount):
    assert round_half_up(amount) == math.floor(amount + Fraction(1, 2))


@pytest.mark.parametrize(("value", "places", "text"), [
    (Fraction(1, 2), 0, "1"), (Fraction(5, 2), 0, "3"), (Fraction(1, 8), 2, "0.13"),
    (Fraction(-1, 8), 2, "-0.13"), (Fraction(-1, 2), 0, "-1"), (0, 1, "0.0"), (Fraction(2, 3), 3, "0.667"),
    (10**20, 2, "100000000000000000000.00"),
])
def test_half_up_for_display_rounds_a_tie_away_from_zero(value, places, text):
    assert str(half_up(value, places)) == text


def test_percent_is_none_without_a_whole():
    assert percent(1, 3) == Decimal("33.3")
    assert percent(2, 3, 2) == Decimal("66.67")
    assert percent(1, 8) == Decimal("12.5")
    assert percent(1, 16) == Decimal("6.3")  # 6.25 → 6.3: half up, not to even
    assert percent(0, 5) == Decimal("0.0")
    assert percent(3, 0) is None


def test_chunks_cut_in_order_and_keep_the_rest():
    assert list(chunks(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunks(iter("abc"))) == [["a", "b", "c"]]
    assert list(chunks([], 3)) == []
    assert [len(c) for c in chunks(range(1001))] == [500, 500, 1]
    with pytest.raises(ValueError):
        list(chunks([1], 0))


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(1)", "'=HYPERLINK(1)"), ("+1", "'+1"), ("-1", "'-1"), ("@a", "'@a"), ("\tx", "'\tx"),
    ("张三", "张三"), (None, ""), (-5, -5), (Decimal("-0.05"), Decimal("-0.05")),
])
def test_csv_cell_keeps_formulas_as_text_and_numbers_as_numbers(value, cell):
    assert csv_cell(value) == cell
