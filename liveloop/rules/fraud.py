"""Reservations a promoter's row should not be trusted with (docs/decisions.md "Farmed and
self-referred reservations"). Pure: no Django.

Both flags leave the figures as they are: a flagged reservation still counts as a reservation
(and money decides for itself what it pays, rules.earnings); the promoter's row carries how
many of its reservations are suspect, so an operator sees it rather than finding out later.

- **Farmed.** An attributed reservation (counted, credited to a promoter) carries opaque keys
  of the device and of the network it came from (`attrs.device`, `attrs.net`, docs/events.md).
  It is suspect when some span of `WINDOW` holds it and the counted reservations of at least
  `THRESHOLDS[kind]` distinct viewers in the same live, credited to the same promoter, with
  the same key of that kind. Each (live, promoter, viewer) enters a cluster once, with the
  first counted reservation it makes there: the same viewer reserving again is not a second
  viewer. Promoters never combine: two promoters' reservations from one device are two
  clusters.

  The suspect set is a function of the set of entries alone, not of the order they arrive in:
  a span with enough entries is found when its last entry arrives, whatever came before. So
  ingest in any batching, one pass and a replay of the log flag the same reservations, as long
  as each sees the entries within `WINDOW` of the ones it adds (ingest loads those). Flags are
  never withdrawn: a cancelled reservation was still farmed.
- **Self-referred.** The viewer holding the reservation is the credited promoter themself: one
  of the promoter's own ids (money.inputs.own_ids: their shop openid and the person it belongs
  to). The promoter's own ids are their settings, not facts in the log, so this figure follows
  the state — reservations held now by one of the promoter's own ids, the very reservation
  money already leaves out — and is recomputed when those ids change.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from liveloop.rules.attribution import RESERVATIONS

DEVICE, NET = "device", "net"
SIGNAL_ATTRS = (DEVICE, NET)
MAX_KEY = 64
WINDOW = timedelta(minutes=10)
# Distinct viewers within WINDOW before a cluster is suspect (docs/decisions.md): a phone is
# one person, two at most; a network is an office, a family or a carrier NAT.
THRESHOLDS = {DEVICE: 3, NET: 10}


def signal_keys(attrs: dict | None) -> dict[str, str]:
    """The device and network keys an event carries (only well-formed ones)."""
    if not attrs:
        return {}
    return {kind: value for kind in SIGNAL_ATTRS
            if isinstance(value := attrs.get(kind), str) and 1 <= len(value) <= MAX_KEY}


@dataclass(slots=True)
class Signal:
    """One counted, attributed reservation with keys: its time, keys and whether it is suspect."""
    at: datetime
    device: str | None = None
    net: str | None = None
    suspect: bool = False


class FarmWatch:
    """Entries by (live, promoter, viewer) and their clusters. Ingest preloads the stored
    entries near its batch (`add_known`); a replay starts empty. `suspects` holds the change
    of each (live, promoter)'s suspect count: deltas for ingest, totals for a replay."""

    def __init__(self, window: timedelta = WINDOW, thresholds: dict | None = None):
        self.window = window
        self.thresholds = thresholds or THRESHOLDS
        self.signals: dict[tuple[int, int, str], Signal] = {}
        # (live, promoter, kind, key) -> sorted [(at, viewer)]
        self.clusters: dict[tuple, list] = defaultdict(list)
        self.suspects: defaultdict = defaultdict(int)
        self.changed: set = set()   # entries new or turned suspect, for ingest to write
        self.known: dict = {}       # entry -> stored row id (ingest)
        # (live, viewer) whose reservation may have moved: where self-referrals can change.
        self.touched: set = set()

    def fact(self, fact, counted) -> None:
        """Note the reservation an accepted fact counted, if any: attribution counts a
        reservation (+1, for reserved_for) exactly when the viewer held none before."""
        if fact.type not in ("reservation", "reservation_cancel"):
            return
        self.touched.add((fact.live, fact.viewer))
        for promoter, figure, amount in counted:
            if figure == RESERVATIONS and amount == 1 and promoter is not None:
                self.reserved(fact.live, promoter, fact.viewer, fact.at, fact.attrs)

    def add_known(self, live: int, promoter: int, viewer: str, signal: Signal) -> None:
        entry = (live, promoter, viewer)
        self.signals[entry] = signal
        for kind in SIGNAL_ATTRS:
            key = getattr(signal, kind)
            if key is not None:
                insort(self.clusters[(live, promoter, kind, key)], (signal.at, viewer))

    def reserved(self, live: int, promoter: int, viewer: str, at: datetime, attrs: dict | None) -> None:
        """A reservation counted for `promoter` (attribution's reserved_for) in `live`."""
        keys = signal_keys(attrs)
        entry = (live, promoter, viewer)
        if not keys or entry in self.signals:
            return
        self.add_known(live, promoter, viewer, Signal(at, keys.get(DEVICE), keys.get(NET)))
        self.changed.add(entry)
        for kind, key in keys.items():
            self._check(live, promoter, kind, key, at)

    def _check(self, live: int, promoter: int, kind: str, key: str, at: datetime) -> None:
        """Flag every span of the window that holds the new entry (at `at`) and enough viewers."""
        cluster = self.clusters[(live, promoter, kind, key)]
        need = self.thresholds[kind]
        if len(cluster) < need:
            return
        times = [t for t, _ in cluster]
        # Spans [start, start + window) that can hold `at` start at an entry in (at − window, at].
        first = bisect_right(times, at - self.window)
        last = bisect_right(times, at)
        flagged_to = first
        for start in range(first, last):
            end = bisect_left(times, times[start] + self.window)
            if end - start >= need:
                for index in range(max(start, flagged_to), end):
                    self._flag((live, promoter, cluster[index][1]))
                flagged_to = max(flagged_to, end)

    def _flag(self, entry) -> None:
        signal = self.signals[entry]
        if not signal.suspect:
            signal.suspect = True
            self.suspects[entry[:2]] += 1
            self.changed.add(entry)


def self_referrals(held, own: dict[int, frozenset]) -> dict[tuple[int, int], int]:
    """Per (live, promoter): reservations held by one of that promoter's own ids.
    `held`: (live, viewer, reserved_for) of viewers holding a reservation now."""
    counts: dict = defaultdict(int)
    for live, viewer, promoter in held:
        if promoter is not None and viewer in own.get(promoter, ()):
            counts[(live, promoter)] += 1
    return dict(counts)
