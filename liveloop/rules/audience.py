"""The audience of a live: breakdowns by dimension, watch time and the flywheel
(docs/decisions.md "Post-live report").

Pure: no Django. `Audience.fact` takes every accepted fact, in sequence order, with the figure
changes `Attribution.apply` counted for it, so the breakdowns add up to exactly the live's
figures and ingest and a replay cannot drift apart (analytics.audience is its projection).

- **Dimensions.** A viewer's value of a dimension (touchpoint, share scene, gender, city tier,
  region, age band) is the first value that viewer's room-side events in the live carry
  (room_enter, room_leave, order_paid, follow, capture); it never changes afterwards. Each
  change of entered, buyers, orders, gmv, refunded, follows and captures is added to the row of
  the value the viewer has when it is counted ("" while unknown), so for every dimension the
  rows add up to the live's totals.
- **Watch time.** A room_enter opens a stay unless one is open; a room_leave closes the open
  stay and adds leave − enter (whole seconds, never below zero); a leave without an open stay
  is ignored (the viewer was in the room before counting began). Stays still open are closed
  when read, at the live's end (docs): kept here as their count and the sum of their start
  seconds, so the read is one row whatever the audience.
- **Flywheel.** A viewer whose first room entry counted for nobody (public traffic) and who
  is captured (`capture`, counted once) adds one to the live's public captures — the net
  private-domain growth — whichever of the two facts arrives first.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from liveloop.rules.attribution import (BUYERS, CAPTURES, ENTERED, FIGURES, FOLLOWS, GMV, ORDERS, REFUNDED,
                                        Attribution, Counted, Fact)

DIMENSIONS = ("touchpoint", "share_scene", "gender", "city_tier", "region", "age_band")
# The figures broken down (reservations are the preview's, not the room's audience).
BREAKDOWN = ("entered", "buyers", "orders", "gmv", "refunded", "follows", "captures")
_SLOT = {FIGURES.index(name): slot for slot, name in enumerate(BREAKDOWN)}
assert set(_SLOT) == {ENTERED, BUYERS, ORDERS, GMV, REFUNDED, FOLLOWS, CAPTURES}
# Per live: closed watch seconds, stays open, the sum of the open stays' start (epoch seconds),
# public captures. All four add up across batches (ingest writes deltas).
LIVE_FIGURES = ("watch_seconds", "open_stays", "open_since_sum", "public_captures")
WATCH, OPEN, OPEN_SUM, PUBLIC_CAPTURES = range(len(LIVE_FIGURES))

UNKNOWN = ""
MAX_VALUE = 32  # a longer value is cut: rows stay small and the column has a bound
ROOM_SIDE = frozenset({"room_enter", "room_leave", "order_paid", "follow", "capture"})


@dataclass(slots=True)
class Profile:
    """One viewer in one live, as the audience figures need them (the order of the columns)."""
    touchpoint: str | None = None
    share_scene: str | None = None
    gender: str | None = None
    city_tier: str | None = None
    region: str | None = None
    age_band: str | None = None
    # How the viewer first entered: True public traffic, False through a promoter, None not yet.
    public: bool | None = None
    public_captured: bool = False
    open_since: datetime | None = None


def seconds(at: datetime) -> int:
    """Whole epoch seconds (an aware datetime): watch time is counted to the second."""
    return int(at.timestamp() // 1)


def dimension_value(raw) -> str | None:
    """The text of a dimension's value; None for nothing usable (missing, empty, nested)."""
    if raw is None or isinstance(raw, (dict, list)):
        return None
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    text = str(raw).strip()[:MAX_VALUE]
    return text or None


def _zero_breakdown() -> list[int]:
    return [0] * len(BREAKDOWN)


def _zero_live() -> list[int]:
    return [0] * len(LIVE_FIGURES)


class Audience:
    def __init__(self, attribution: Attribution, profiles: dict | None = None):
        self.attribution = attribution  # read only: whether a viewer is captured
        # (live, viewer) -> Profile; ingest preloads those its batch touches.
        self.profiles: dict[tuple[int, str], Profile] = profiles if profiles is not None else {}
        # (live, dimension, value) -> BREAKDOWN; live -> LIVE_FIGURES: deltas, or a replay's totals.
        self.breakdown: defaultdict = defaultdict(_zero_breakdown)
        self.lives: defaultdict = defaultdict(_zero_live)
        self.changed: set = set()
        self.known: dict = {}  # (live, viewer) -> stored row id, for the caller that stores profiles

    def fact(self, fact: Fact, counted: Counted) -> None:
        """The audience's share of an accepted fact, once attribution has applied it."""
        if fact.live is None or fact.type not in ROOM_SIDE and fact.type != "order_refund":
            return
        if fact.type == "order_refund":
            # The refund's viewer is the buyer (the contract); their values as they are now.
            # Ingest loads the profiles of the viewers its batch names, so the refund's own.
            self._add(self.profiles.get((fact.live, fact.viewer)), fact.live, counted)
            return
        key = (fact.live, fact.viewer)
        profile = self.profiles.get(key)
        if profile is None:
            if fact.type == "room_leave":
                return  # a leave without a stay changes nothing and records nobody
            profile = self.profiles[key] = Profile()
        before = (profile.touchpoint, profile.share_scene, profile.gender, profile.city_tier, profile.region,
                  profile.age_band, profile.public, profile.public_captured, profile.open_since)
        self._learn(profile, fact)
        self._add(profile, fact.live, counted)
        live = self.lives[fact.live]
        for promoter, figure, _amount in counted:
            if figure == ENTERED:
                profile.public = promoter is None
                captured = self.attribution.viewers[key].captured
                if profile.public and captured and not profile.public_captured:
                    profile.public_captured = True
                    live[PUBLIC_CAPTURES] += 1
            elif figure == CAPTURES and profile.public and not profile.public_captured:
                profile.public_captured = True
                live[PUBLIC_CAPTURES] += 1
        if fact.type == "room_enter" and profile.open_since is None:
            profile.open_since = fact.at
            live[OPEN] += 1
            live[OPEN_SUM] += seconds(fact.at)
        elif fact.type == "room_leave" and profile.open_since is not None:
            start = seconds(profile.open_since)
            live[WATCH] += max(0, seconds(fact.at) - start)
            live[OPEN] -= 1
            live[OPEN_SUM] -= start
            profile.open_since = None
        after = (profile.touchpoint, profile.share_scene, profile.gender, profile.city_tier, profile.region,
                 profile.age_band, profile.public, profile.public_captured, profile.open_since)
        if after != before:
            self.changed.add(key)

    @staticmethod
    def _learn(profile: Profile, fact: Fact) -> None:
        if profile.touchpoint is None:
            profile.touchpoint = dimension_value(fact.touchpoint)
        attrs = fact.attrs
        if not attrs:
            return  # the other dimensions come from attrs only (a replay's hot path)
        for name in DIMENSIONS[1:]:
            if getattr(profile, name) is None:
                setattr(profile, name, dimension_value(attrs.get(name)))

    def _add(self, profile: Profile | None, live: int, counted) -> None:
        for _promoter, figure, amount in counted:
            slot = _SLOT.get(figure)
            if slot is None:
                continue
            for name in DIMENSIONS:
                value = getattr(profile, name) if profile is not None else None
                self.breakdown[(live, name, value or UNKNOWN)][slot] += amount


def watch_total(closed: int, open_stays: int, open_since_sum: int, end: datetime,
                open_after_end: list[datetime] = ()) -> int:
    """All watch seconds of a live: the closed stays plus every open stay closed at `end`.

    `open_after_end` are the starts of open stays later than `end` (entries after the live
    ended, or in the future of a running live's `now`): they count zero, not a negative time.
    """
    total = closed + open_stays * seconds(end) - open_since_sum
    for start in open_after_end:
        total += seconds(start) - seconds(end)
    return total
