"""The planner's arithmetic (rules.forecast): hand-computed examples and properties."""
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from liveloop.rules.forecast import DEFAULT_FIT, DEFAULTS, Fit, PastLive, Rates, fit, forecast, reservations_needed


def test_defaults_ten_thousand_reservations_by_hand():
    # 40% of 10,000 show up (4,000) + 10,000 public viewers matched 1:1 = 14,000;
    # 4.3% of 14,000 = 602 buyers; × 1 order × ¥100 = ¥60,200 = 6,020,000 fen.
    result = forecast(10_000, DEFAULT_FIT)
    assert (result.viewers, result.buyers, result.gmv_fen) == (14_000, 602, 6_020_000)
    assert result.basis == "defaults"


def test_the_public_cap_stops_the_match():
    # 300,000 reservations: 120,000 show up + public capped at 100,000 = 220,000 viewers.
    result = forecast(300_000, DEFAULT_FIT)
    assert result.viewers == 220_000
    assert result.buyers == 9_460  # 4.3% of 220,000
    smaller_cap = forecast(10_000, DEFAULT_FIT, public_match_ratio=Fraction(1, 2), public_cap=3_000)
    assert smaller_cap.viewers == 4_000 + 3_000


def test_rounding_is_half_up_at_the_end():
    # 10 reservations: 4 + 10 = 14 viewers; 0.602 buyers → 1; GMV 60.2 yuan = 6,020 fen exactly.
    result = forecast(10, DEFAULT_FIT)
    assert (result.viewers, result.buyers, result.gmv_fen) == (14, 1, 6_020)


def test_fit_pools_sums_not_a_mean_of_ratios():
    small = PastLive(reservations=10, showed_up=10, entered=20, buyers=10, orders=10, gmv_fen=10_000)
    large = PastLive(reservations=1_000, showed_up=200, entered=1_000, buyers=20, orders=30, gmv_fen=600_000)
    fitted = fit([small, large])
    assert fitted.rates.show_up == Fraction(210, 1_010)
    assert fitted.rates.public_per_reservation == Fraction(10 + 800, 1_010)
    assert fitted.rates.conversion == Fraction(30, 1_020)
    assert fitted.rates.orders_per_buyer == Fraction(40, 30)
    assert fitted.rates.aov_fen == Fraction(610_000, 40)
    assert fitted.lives == 2 and fitted.basis == "history" and fitted.defaulted == ()
    assert fitted.errors == {} and not fitted.enough_history


def test_no_history_or_only_empty_lives_means_defaults():
    assert fit([]) is DEFAULT_FIT
    assert fit([PastLive(0, 0, 50, 1, 1, 100)]).basis == "defaults"


def test_a_rate_nobody_measured_falls_back_to_its_default():
    no_orders = PastLive(reservations=100, showed_up=30, entered=80, buyers=0, orders=0, gmv_fen=0)
    fitted = fit([no_orders])
    assert fitted.rates.conversion == 0
    assert fitted.rates.aov_fen == DEFAULTS.aov_fen
    assert set(fitted.defaulted) == {"orders_per_buyer", "aov_fen"}


def test_leave_one_out_error_by_hand():
    # Three lives, identical but for GMV per order: 100, 100, 400 fen.
    lives = [PastLive(100, 40, 140, 10, 10, gmv) for gmv in (1_000, 1_000, 4_000)]
    fitted = fit(lives)
    assert fitted.enough_history
    # Leaving out a 1,000: the others average 250 fen an order → 2,500 predicted, 150% off.
    # Leaving out the 4,000: the others give 100 → 1,000 predicted, 75% off.
    assert fitted.errors["aov_fen"] == (Fraction(3, 2) * 2 + Fraction(3, 4)) / 3
    assert fitted.errors["gmv"] == fitted.errors["aov_fen"]
    assert fitted.errors["show_up"] == 0 and fitted.errors["buyers"] == 0


def test_two_lives_are_not_enough_for_an_error():
    lives = [PastLive(100, 40, 140, 10, 10, 1_000)] * 2
    assert fit(lives).errors == {}


def test_reservations_needed_by_hand():
    # Defaults: each reservation brings 1.4 viewers → 0.0602 buyers → 602 fen below the cap.
    assert reservations_needed(6_020_000, DEFAULT_FIT) == 10_000
    assert reservations_needed(6_020_001, DEFAULT_FIT) == 10_001
    assert reservations_needed(0, DEFAULT_FIT) == 0
    # Past the knee (100,000 reservations = 60,200,000 fen), each adds only 0.4 × 430 = 172 fen.
    assert reservations_needed(60_200_000 + 172 * 10, DEFAULT_FIT) == 100_010


def test_unreachable_when_nobody_shows_up_and_the_public_is_capped():
    nobody = Fit(rates=Rates(Fraction(0), Fraction(1), Fraction(43, 1000), Fraction(1), Fraction(10_000)), lives=1)
    # At most 100 viewers → 4.3 buyers → 43,000 fen, however many reserve.
    assert forecast(10**9, nobody, public_cap=100).gmv_fen == 43_000
    assert reservations_needed(43_000, nobody, public_cap=100) == 100
    assert reservations_needed(43_001, nobody, public_cap=100) is None


def test_floats_are_refused():
    with pytest.raises(TypeError):
        forecast(10, DEFAULT_FIT, public_match_ratio=1.0)
    with pytest.raises(ValueError):
        forecast(-1, DEFAULT_FIT)


counts = st.integers(min_value=0, max_value=10**7)
ratios = st.fractions(min_value=0, max_value=5, max_denominator=10_000)
rates = st.builds(Rates, show_up=st.fractions(0, 1, max_denominator=1000),
                  public_per_reservation=ratios, conversion=st.fractions(0, 1, max_denominator=1000),
                  orders_per_buyer=st.fractions(1, 5, max_denominator=100),
                  aov_fen=st.fractions(0, 10**6, max_denominator=100))
fits = st.builds(Fit, rates=rates, lives=st.integers(0, 5))
caps = st.integers(min_value=0, max_value=200_000)


@given(fits, counts, counts, ratios, caps)
def test_forecast_is_monotonic_in_reservations(fitted, a, b, ratio, cap):
    low, high = sorted((a, b))
    before, after = forecast(low, fitted, ratio, cap), forecast(high, fitted, ratio, cap)
    assert before.viewers <= after.viewers and before.buyers <= after.buyers
    assert before.gmv_fen <= after.gmv_fen


@given(fits, counts, ratios, caps)
def test_no_floats_in_a_forecast(fitted, reservations, ratio, cap):
    result = forecast(reservations, fitted, ratio, cap)
    for value in (result.viewers, result.buyers, result.gmv_fen):
        assert type(value) is int


@given(fits, st.integers(min_value=0, max_value=10**10), ratios, caps)
def test_reservations_needed_reaches_the_target_and_one_fewer_does_not(fitted, target, ratio, cap):
    needed = reservations_needed(target, fitted, ratio, cap)
    if needed is None:
        # Unreachable: even a huge number of reservations falls short.
        assert forecast(10**12, fitted, ratio, cap).gmv_fen < target
        return
    assert type(needed) is int
    assert forecast(needed, fitted, ratio, cap).gmv_fen >= target
    if needed > 0:
        assert forecast(needed - 1, fitted, ratio, cap).gmv_fen < target


@given(st.lists(st.builds(PastLive, *[st.integers(0, 10**6)] * 6), max_size=6))
def test_fitted_rates_are_exact(history):
    fitted = fit(history)
    for name in ("show_up", "public_per_reservation", "conversion", "orders_per_buyer", "aov_fen"):
        assert isinstance(getattr(fitted.rates, name), Fraction)
    for error in fitted.errors.values():
        assert error is None or isinstance(error, Fraction)
