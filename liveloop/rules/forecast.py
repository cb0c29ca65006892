"""The planner's arithmetic: forecast an upcoming live's viewers, buyers and GMV from its
reservations, and the inverse (reservations needed for a target GMV). Pure: no Django.

Exact throughout (fractions.Fraction, integer fen); rounded half-up to whole viewers, buyers
and fen only at the very end, so a forecast never depends on float representation.

    viewers = show_up × R + min(public_match × R, public_cap)
    buyers  = conversion × viewers
    gmv     = buyers × orders_per_buyer × average_order_value

The public-traffic match (WeChat's recommendation pairs reserved viewers with public ones,
about 1:1) stops at the cap: beyond R = cap / public_match only show-ups grow, so the curve is
piecewise linear, steep then shallow.
"""
from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil

from liveloop.lib.numbers import round_half_up

RATES = ("show_up", "public_per_reservation", "conversion", "orders_per_buyer", "aov_fen")
HISTORY, DEFAULTS_BASIS = "history", "defaults"
# Leave-one-out needs at least two other lives to fit on, or the "error" is one live against one.
MIN_LIVES_FOR_ERROR = 3


@dataclass(frozen=True)
class PastLive:
    reservations: int
    showed_up: int
    entered: int
    buyers: int
    orders: int
    gmv_fen: int


@dataclass(frozen=True)
class Rates:
    show_up: Fraction                 # reservers who enter / reservations
    public_per_reservation: Fraction  # viewers without a reservation / reservations
    conversion: Fraction              # buyers / viewers who entered
    orders_per_buyer: Fraction
    aov_fen: Fraction                 # average order value: GMV / orders


# Field figures, used with no history. show_up 40%: no public figure exists; a cautious middle
# of what brands report for reminded reservers. Public match 1:1: WeChat's stated practice.
# Conversion 4.3%: the live figure quoted for the field. Orders per buyer 1: no figure, so the
# plainest. AOV ¥100: there is no field figure for money at all; a stated round number that
# the organisation's own history replaces as soon as it has one ended live with orders.
DEFAULTS = Rates(show_up=Fraction(2, 5), public_per_reservation=Fraction(1),
                 conversion=Fraction(43, 1000), orders_per_buyer=Fraction(1), aov_fen=Fraction(10_000))


@dataclass(frozen=True)
class Fit:
    rates: Rates
    lives: int = 0
    # Rates whose denominator summed to 0 over the history, so the field default stands in.
    defaulted: tuple[str, ...] = RATES
    # Leave-one-out mean absolute percentage error (a Fraction: 1/10 = 10%) per rate and for the
    # end-to-end "buyers" and "gmv" predictions; empty with fewer than MIN_LIVES_FOR_ERROR lives.
    errors: dict = field(default_factory=dict)

    @property
    def basis(self) -> str:
        return HISTORY if self.lives else DEFAULTS_BASIS

    @property
    def enough_history(self) -> bool:
        return self.lives >= MIN_LIVES_FOR_ERROR


DEFAULT_FIT = Fit(rates=DEFAULTS)


@dataclass(frozen=True)
class Forecast:
    reservations: int
    viewers: int
    buyers: int
    gmv_fen: int
    basis: str


# What each rate divides, as (numerator, denominator) of a past live; the same pair gives the
# per-rate error: predict the numerator of the left-out live from its denominator.
_PARTS = {
    "show_up": lambda p: (p.showed_up, p.reservations),
    "public_per_reservation": lambda p: (max(p.entered - p.showed_up, 0), p.reservations),
    "conversion": lambda p: (p.buyers, p.entered),
    "orders_per_buyer": lambda p: (p.orders, p.buyers),
    "aov_fen": lambda p: (p.gmv_fen, p.orders),
}


def _pooled(history, name: str) -> Fraction | None:
    # Pooled (sum over sum), not a mean of per-live ratios: a live with 30 reservations and
    # 3 buyers would otherwise weigh as much as one with 30,000, and small lives swing wildly.
    # Pooling weighs each live by its size, which is what a forecast in viewers and fen needs.
    numerator = sum(_PARTS[name](p)[0] for p in history)
    denominator = sum(_PARTS[name](p)[1] for p in history)
    return Fraction(numerator, denominator) if denominator else None


def _rates(history) -> tuple[Rates, tuple[str, ...]]:
    values, defaulted = {}, []
    for name in RATES:
        value = _pooled(history, name)
        if value is None:
            value = getattr(DEFAULTS, name)
            defaulted.append(name)
        values[name] = value
    return Rates(**values), tuple(defaulted)


def _predict(rates: Rates, reservations: int) -> tuple[Fraction, Fraction]:
    """Buyers and GMV of a past live from its reservations, with the fitted public traffic:
    the past live's public viewers were observed, uncapped, so the cap setting plays no part."""
    viewers = (rates.show_up + rates.public_per_reservation) * reservations
    buyers = rates.conversion * viewers
    return buyers, buyers * rates.orders_per_buyer * rates.aov_fen


def _mape(pairs) -> Fraction | None:
    # Lives whose actual figure is 0 have no percentage error and are left out.
    errors = [abs(predicted - actual) / actual for predicted, actual in pairs if actual]
    return sum(errors, Fraction(0)) / len(errors) if errors else None


def _loo_errors(history: list[PastLive]) -> dict:
    pairs = {name: [] for name in (*RATES, "buyers", "gmv")}
    for i, left_out in enumerate(history):
        rest = history[:i] + history[i + 1:]
        for name in RATES:
            rate = _pooled(rest, name)
            if rate is not None:
                numerator, denominator = _PARTS[name](left_out)
                pairs[name].append((rate * denominator, numerator))
        rates, defaulted = _rates(rest)
        if not defaulted:
            buyers, gmv = _predict(rates, left_out.reservations)
            pairs["buyers"].append((buyers, left_out.buyers))
            pairs["gmv"].append((gmv, left_out.gmv_fen))
    return {name: _mape(found) for name, found in pairs.items()}


def fit(history) -> Fit:
    """Rates pooled over the organisation's past lives; field defaults with no history (or for
    a rate none of them measured). Lives without reservations say nothing per reservation and
    are left out."""
    history = [p for p in history if p.reservations > 0]
    if not history:
        return DEFAULT_FIT
    rates, defaulted = _rates(history)
    errors = _loo_errors(history) if len(history) >= MIN_LIVES_FOR_ERROR else {}
    return Fit(rates=rates, lives=len(history), defaulted=defaulted, errors=errors)


def _check(reservations: int, public_match_ratio: Fraction, public_cap: int) -> None:
    if isinstance(public_match_ratio, float):
        raise TypeError("public_match_ratio: a Fraction or int, never a float")
    if reservations < 0 or public_match_ratio < 0 or public_cap < 0:
        raise ValueError("reservations, public_match_ratio and public_cap must not be negative")


def _viewers(rates: Rates, reservations: int, public_match_ratio: Fraction, public_cap: int) -> Fraction:
    return rates.show_up * reservations + min(Fraction(public_match_ratio) * reservations, public_cap)


def _gmv_per_viewer(rates: Rates) -> Fraction:
    return rates.conversion * rates.orders_per_buyer * rates.aov_fen


def forecast(reservations: int, fitted: Fit, public_match_ratio: Fraction = Fraction(1),
             public_cap: int = 100_000) -> Forecast:
    _check(reservations, public_match_ratio, public_cap)
    rates = fitted.rates
    viewers = _viewers(rates, reservations, public_match_ratio, public_cap)
    buyers = rates.conversion * viewers
    gmv = buyers * rates.orders_per_buyer * rates.aov_fen
    return Forecast(reservations=reservations, viewers=round_half_up(viewers),
                    buyers=round_half_up(buyers), gmv_fen=round_half_up(gmv), basis=fitted.basis)


def reservations_needed(target_gmv_fen: int, fitted: Fit, public_match_ratio: Fraction = Fraction(1),
                        public_cap: int = 100_000) -> int | None:
    """The fewest reservations whose forecast GMV reaches the target, or None if no number does.

    The forecast GMV is continuous and non-decreasing in reservations, so the answer is the
    ceiling of the real point x* where the exact GMV reaches target − ½ fen (the half-up
    rounding). Below the knee R = cap / public_match each reservation brings show-ups and
    public viewers; beyond it only show-ups. So a target past the knee needs many more
    reservations, and with a show-up rate of 0 (or a zero conversion, order value…) a target
    beyond what the capped public traffic alone brings is unreachable: None.
    """
    _check(0, public_match_ratio, public_cap)
    need = Fraction(target_gmv_fen) - Fraction(1, 2)
    if need <= 0:
        return 0
    rates = fitted.rates
    per_viewer = _gmv_per_viewer(rates)
    if per_viewer == 0:
        return None
    ratio = Fraction(public_match_ratio)
    steep = per_viewer * (rates.show_up + ratio)
    if ratio > 0 and steep > 0 and steep * (Fraction(public_cap) / ratio) >= need:
        return ceil(need / steep)
    if ratio == 0 and steep > 0:
        return ceil(need / steep)
    if rates.show_up == 0:
        return None
    # Past the knee: GMV = per_viewer × (show_up × R + cap).
    return ceil((need / per_viewer - public_cap) / rates.show_up)
