"""rules.reconcile on a hand-made live: WeChat's 推客 counts beside Liveloop's, the coverage,
the differences and which are flagged, figures asserted exactly."""
from decimal import Decimal

import pytest

from liveloop.rules.reconcile import DEFAULT_THRESHOLD_PCT, MIN_GAP, check_threshold, gap, reconcile

A, B, C = 1, 2, 3
# WeChat: A's sharer brought 120 reservations and 80 viewers; B's 10 reservations (viewers not
# synced); C has no sharer linked. Liveloop saw 97 / 75 for A, 4 / 4 for B, 5 / 3 for C.
WECHAT = {A: {"reservations": 120, "viewers": 80}, B: {"reservations": 10}}
LIVELOOP = {A: {"reservations": 97, "entered": 75}, B: {"reservations": 4, "entered": 4},
            C: {"reservations": 5, "entered": 3}}


def test_the_hand_made_live_per_promoter():
    rows, _ = reconcile(WECHAT, LIVELOOP)
    a, b, c = rows
    assert (a.key, b.key, c.key) == (A, B, C)
    # The example: WeChat says 120, Liveloop saw 97 → 81%, 23 not seen.
    r = a.gaps["reservations"]
    assert (r.wechat, r.liveloop, r.difference, r.coverage, r.flagged) == (120, 97, 23, Decimal(81), False)
    v = a.gaps["viewers"]
    assert (v.wechat, v.liveloop, v.difference, v.coverage, v.flagged) == (80, 75, 5, Decimal(94), False)
    # B: 6 of 10 unseen: 60% of the larger count, and ≥ MIN_GAP people: flagged.
    r = b.gaps["reservations"]
    assert (r.difference, r.coverage, r.flagged) == (6, Decimal(40), True) and b.flagged
    assert b.gaps["viewers"].wechat is None and not b.gaps["viewers"].flagged
    # C: WeChat's counts unknown, not 0: nothing compared, nothing flagged.
    assert c.gaps["reservations"].coverage is None and not c.flagged


def test_the_live_total_with_and_without_wechat_s_own_total():
    _, total = reconcile(WECHAT, LIVELOOP, wechat_total={"reservations": 140},
                         liveloop_total={"reservations": 117, "entered": 90})
    r = total.gaps["reservations"]
    assert (r.wechat, r.liveloop, r.difference, r.coverage, r.flagged) == (140, 117, 23, Decimal(84), False)
    # Without WeChat's total, like with like: only the promoters WeChat counted (A's viewers).
    v = total.gaps["viewers"]
    assert (v.wechat, v.liveloop, v.difference) == (80, 75, 5)
    _, total = reconcile(WECHAT, LIVELOOP)
    assert (total.gaps["reservations"].wechat, total.gaps["reservations"].liveloop) == (130, 101)


def test_the_threshold_is_the_organisation_s():
    rows, _ = reconcile(WECHAT, LIVELOOP, threshold_pct=15)
    assert rows[0].gaps["reservations"].flagged  # 23 of 120 is 19% > 15%
    rows, _ = reconcile(WECHAT, LIVELOOP, threshold_pct=DEFAULT_THRESHOLD_PCT)
    assert not rows[0].gaps["reservations"].flagged  # 19% ≤ 20%


@pytest.mark.parametrize("wechat,liveloop,flagged", [
    (2, 0, False),             # 100% but fewer than MIN_GAP people: noise
    (MIN_GAP, 0, True),
    (0, 10, True),             # Liveloop counted people WeChat never confirmed
    (0, 0, False),
    (3000, 2970, False),       # 30 people, 1%
    (100, 80, False),          # exactly 20% is not more than 20%
    (100, 79, True),
])
def test_flag_bounds(wechat, liveloop, flagged):
    assert gap(wechat, liveloop).flagged is flagged


def test_no_rate_when_wechat_counted_nothing():
    assert gap(0, 4).coverage is None and gap(0, 4).difference == -4


@pytest.mark.parametrize("value", [0, 101, 20.0, True, "20", None])
def test_threshold_setting_bounds(value):
    with pytest.raises(ValueError):
        check_threshold(value)
    assert check_threshold(1) == 1 and check_threshold(100) == 100
