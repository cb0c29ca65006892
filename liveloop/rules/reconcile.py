"""WeChat's 推客 counts beside Liveloop's own (docs/decisions.md "Reconciling WeChat's counts").

Pure: no Django. WeChat counts what happened on its side (the reservations a sharer's QR code
or share link brought, the viewers a sharer's shares brought into the room) but never says who;
Liveloop counts the viewers it saw through its relay (the invite page, the mini-program) and
knows who each one is. Neither is wrong: WeChat is the platform's truth for *how many*,
Liveloop's for *who*. This module puts them side by side:

- **coverage** = Liveloop's count / WeChat's, as a whole percentage (half up): how much of what
  WeChat counted Liveloop can name. 97 seen of 120 → 81%. None when WeChat counted nothing
  (no rate, not 0%) or WeChat's count is not known (not synced, no sharer linked).
- **difference** = WeChat's − Liveloop's: positive when WeChat counted people Liveloop never
  saw (a QR code scanned inside WeChat without the relay), negative when Liveloop counted more
  (intended reservations on the invite page never confirmed in WeChat).
- **flagged** when the gap is worth an operator's look: at least `MIN_GAP` people and more than
  the organisation's threshold (a percentage of the larger count). Both bounds: a 1-of-2 gap is
  50% and noise; 30 of 3,000 is many people and 1%.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from liveloop.lib.numbers import percent

# The organisation's threshold when it set none: a fifth of the larger count.
DEFAULT_THRESHOLD_PCT = 20
MIN_THRESHOLD_PCT, MAX_THRESHOLD_PCT = 1, 100
# Below this many people a gap is not flagged, whatever its percentage.
MIN_GAP = 3

# The pairs compared, WeChat's count → Liveloop's figure of the promoter row:
# reservations through a sharer's notice QR / share link ↔ Liveloop's reservations;
# viewers a sharer's shares brought into the room ↔ Liveloop's entered.
PAIRS = (("reservations", "reservations"), ("viewers", "entered"))


@dataclass(frozen=True, slots=True)
class Gap:
    wechat: int | None  # None: WeChat's count is not known
    liveloop: int
    difference: int | None
    coverage: Decimal | None  # percent, whole
    flagged: bool


def gap(wechat: int | None, liveloop: int, threshold_pct: int = DEFAULT_THRESHOLD_PCT) -> Gap:
    if wechat is None:
        return Gap(None, liveloop, None, None, False)
    difference = wechat - liveloop
    larger = max(wechat, liveloop)
    # In integers: |gap| / larger > pct / 100, no float between.
    flagged = abs(difference) >= MIN_GAP and abs(difference) * 100 > threshold_pct * larger
    return Gap(wechat, liveloop, difference, percent(liveloop, wechat, 0), flagged)


@dataclass(frozen=True, slots=True)
class Row:
    key: object  # a promoter id, or None for the whole live
    gaps: dict  # WeChat's figure name -> Gap

    @property
    def flagged(self) -> bool:
        return any(g.flagged for g in self.gaps.values())


def reconcile(wechat: dict, liveloop: dict, threshold_pct: int = DEFAULT_THRESHOLD_PCT,
              wechat_total: dict | None = None, liveloop_total: dict | None = None) -> tuple[list[Row], Row]:
    """Per promoter and for the live.

    - `wechat`: {promoter: {"reservations": n, "viewers": n}} for the promoters linked to a
      sharer whose counts were synced (a figure missing: not known);
    - `liveloop`: {promoter: {"reservations": n, "entered": n}} for every promoter of the live;
    - `wechat_total`: the live's own counts from WeChat (the notice's reservations, the live's
      promoted viewers) and `liveloop_total` Liveloop's (its live total, unattributed included);
      when WeChat gives no total, both sides are the sums over the promoters WeChat counted.

    A promoter without a sharer has WeChat's counts unknown, not 0: nothing to flag."""
    rows = []
    sums_w = dict.fromkeys((w for w, _ in PAIRS), 0)
    sums_l = dict.fromkeys((l for _, l in PAIRS), 0)
    known = dict.fromkeys((w for w, _ in PAIRS), False)
    for promoter in sorted(liveloop, key=lambda p: (p is None, p)):
        ours, theirs = liveloop[promoter], wechat.get(promoter, {})
        gaps = {}
        for w, l in PAIRS:
            value = theirs.get(w)
            if value is not None:  # summed only where both sides are known: like with like
                sums_w[w] += value
                sums_l[l] += ours.get(l, 0)
                known[w] = True
            gaps[w] = gap(value, ours.get(l, 0), threshold_pct)
        rows.append(Row(promoter, gaps))
    total = {}
    for w, l in PAIRS:
        theirs = (wechat_total or {}).get(w)
        if theirs is not None:
            ours = (liveloop_total or {}).get(l, sums_l[l])
        else:
            theirs, ours = (sums_w[w] if known[w] else None), sums_l[l]
        total[w] = gap(theirs, ours, threshold_pct)
    return rows, Row(None, total)


def check_threshold(value) -> int:
    """The organisation's setting: a whole percentage 1–100; raises ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_THRESHOLD_PCT <= value <= MAX_THRESHOLD_PCT:
        raise ValueError(f"a whole percentage {MIN_THRESHOLD_PCT}–{MAX_THRESHOLD_PCT}")
    return value
