"""Deterministic, realistic events for one live: the same seed gives the same batches.

The stream follows a live's day: reservations (most through a promoter's invite) in the days
before, then room entries, orders, refunds, viewer samples and leaves while it is on air.
Event ids are random 128-bit UUIDs, the worst realistic case for the log's unique index
(PERFORMANCE-FACTS: time-ordered keys insert several times faster).

Every refund names an order paid earlier in the *same* batch, so batches stay valid whatever
order concurrent clients deliver them in: a clean run accepts every event.
"""
from __future__ import annotations

import json
import random
import uuid
from bisect import bisect
from datetime import datetime, timedelta, timezone
from itertools import accumulate

SHANGHAI = timezone(timedelta(hours=8))
# A past 双十一 evening: fixed for determinism, and no `at` is rejected as in the future.
DEFAULT_ANNOUNCED = datetime(2025, 11, 11, 20, 0, tzinfo=SHANGHAI)
RESERVATION_DAYS = 3
ON_AIR = timedelta(hours=3)
# Share of the stream before the live starts; the rest happens on air.
RESERVATION_SHARE = 0.4

BEFORE = {"reservation": 0.95, "reservation_cancel": 0.02, "follow": 0.03}
ON_AIR_MIX = {"room_enter": 0.52, "room_leave": 0.15, "order_paid": 0.18, "order_refund": 0.03,
              "online": 0.03, "follow": 0.05, "reservation": 0.04}
TOUCHPOINTS = ["moments", "community", "wecom", "personal", "article", "short_video",
               "mini_program"]
REGIONS = ["浙江", "广东", "江苏", "上海", "北京", "四川", "山东", "湖北"]
PRICES = [990, 1990, 2990, 5900, 8900, 12900, 19900, 29900, 59900]  # fen
OPENID = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CODE = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def promoter_codes(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(f"codes-{seed}")
    codes: list[str] = []
    seen = set()
    while len(codes) < count:
        code = "P" + "".join(rng.choice(CODE) for _ in range(6))
        if code not in seen:
            seen.add(code)
            codes.append(code)
    return codes


class _Picker:
    """Weighted choice over a fixed table, without rebuilding cumulative weights per draw."""

    def __init__(self, rng: random.Random, weights: dict):
        self.rng = rng
        self.keys = list(weights)
        self.cumulative = list(accumulate(weights.values()))

    def __call__(self):
        return self.keys[bisect(self.cumulative, self.rng.random() * self.cumulative[-1])]


class LiveStream:
    """The events of one live whose programme holds `codes`."""

    def __init__(self, live: str, codes: list[str], seed: int = 1,
                 announced_at: datetime = DEFAULT_ANNOUNCED):
        self.live = live
        self.codes = codes
        self.announced_at = announced_at
        # Seeded by `seed` alone: live ids are random, the stream must not depend on them.
        self.rng = random.Random(f"stream-{seed}")
        # A few promoters bring most viewers (Zipf-like), as in real programmes.
        self.promoter = _Picker(self.rng, {code: 1 / (rank + 1) ** 0.8
                                           for rank, code in enumerate(codes)})
        self.before = _Picker(self.rng, BEFORE)
        self.on_air = _Picker(self.rng, ON_AIR_MIX)
        self.reservers: list[tuple[str, str | None]] = []
        self.entered: list[str] = []
        self.order_ids: set[str] = set()
        self.online = 0

    def batches(self, events: int, size: int = 500) -> list[list[dict]]:
        return list(self.stream(events, size))

    def stream(self, events: int, size: int = 500):
        """The batches of `batches()` one at a time, for logs too big to hold as dicts at once."""
        start = self.announced_at - timedelta(days=RESERVATION_DAYS)
        split = int(events * RESERVATION_SHARE)
        for first in range(0, events, size):
            paid_here: list[dict] = []
            batch = []
            for index in range(first, min(first + size, events)):
                if index < split:
                    at = start + (self.announced_at - start) * (index / max(split, 1))
                    batch.append(self._before(at))
                else:
                    at = self.announced_at + ON_AIR * ((index - split) / max(events - split, 1))
                    batch.append(self._during(at, paid_here))
            yield batch

    def _event(self, kind: str, viewer: str, at: datetime, **fields) -> dict:
        event = {"id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), "type": kind,
                 "live": self.live, "viewer": viewer, "at": at.isoformat(timespec="milliseconds")}
        event.update({k: v for k, v in fields.items() if v is not None})
        return event

    def _new_viewer(self) -> str:
        return "o" + "".join(self.rng.choice(OPENID) for _ in range(27))

    def _before(self, at: datetime) -> dict:
        kind = self.before()
        if kind != "reservation" and self.reservers:
            viewer, _ = self.rng.choice(self.reservers)
            return self._event(kind, viewer, at)
        return self._reservation(at)

    def _reservation(self, at: datetime) -> dict:
        code = self.promoter() if self.rng.random() < 0.85 else None
        viewer = self._new_viewer() if self.rng.random() < 0.97 or not self.reservers \
            else self.rng.choice(self.reservers)[0]
        self.reservers.append((viewer, code))
        attrs = None
        if self.rng.random() < 0.6:
            attrs = {"gender": self.rng.choice("fm"), "city_tier": self.rng.randint(1, 5),
                     "region": self.rng.choice(REGIONS)}
        return self._event("reservation", viewer, at, promoter=code,
                           touchpoint=self.rng.choice(TOUCHPOINTS) if code else "public",
                           attrs=attrs)

    def _during(self, at: datetime, paid_here: list[dict]) -> dict:
        kind = self.on_air()
        if kind == "reservation":
            return self._reservation(at)
        if kind == "online":
            self.online = max(0, self.online + self.rng.randint(-200, 600))
            return self._event("online", "account", at, count=self.online)
        if kind == "order_refund" and paid_here:
            order = paid_here.pop(self.rng.randrange(len(paid_here)))
            amount = order["amount"] if self.rng.random() < 0.6 else self.rng.randint(1, order["amount"])
            return self._event("order_refund", order["viewer"], at, order=order["order"],
                               amount=amount)
        if kind in ("order_paid", "room_leave", "follow") and self.entered:
            viewer = self.rng.choice(self.entered)
            if kind != "order_paid":
                return self._event(kind, viewer, at)
            paid = self._event("order_paid", viewer, at, order=self._order_id(),
                               amount=self.rng.choice(PRICES) * self.rng.randint(1, 3),
                               promoter=self.promoter() if self.rng.random() < 0.3 else None)
            paid_here.append(paid)
            return paid
        return self._room_enter(at)

    def _room_enter(self, at: datetime) -> dict:
        if self.reservers and self.rng.random() < 0.5:
            viewer, code = self.rng.choice(self.reservers)
        else:
            viewer, code = self._new_viewer(), (self.promoter() if self.rng.random() < 0.4 else None)
        self.entered.append(viewer)
        return self._event("room_enter", viewer, at, promoter=code,
                           touchpoint="live" if code is None else self.rng.choice(TOUCHPOINTS))

    def _order_id(self) -> str:
        # Platform order ids are 64-bit: strings, never JSON numbers.
        while True:
            order = str(self.rng.randrange(10**18, 2**63))
            if order not in self.order_ids:
                self.order_ids.add(order)
                return order


LOG_COLUMNS = ["org_id", "eid", "type", "live_id", "viewer", "promoter_code", "promoter_id",
               "order", "amount", "count", "at", "touchpoint", "attrs", "source"]


def log_rows(batches: list[list[dict]], org_id: int, live_id: int, promoter_ids: dict,
             sqlite: bool) -> list[tuple]:
    """The events as rows of the log's columns (LOG_COLUMNS), ready for the engine's own insert.

    SQLite gets `at` as Django stores it (naive UTC text) and attrs as JSON text; PostgreSQL
    gets an aware datetime and the dict (dumped as jsonb by COPY).
    """
    rows = []
    for batch in batches:
        for e in batch:
            at = datetime.fromisoformat(e["at"]).astimezone(timezone.utc)
            attrs = e.get("attrs")
            if sqlite:
                at = at.replace(tzinfo=None).isoformat(sep=" ")
                attrs = json.dumps(attrs, ensure_ascii=False) if attrs is not None else None
            code = e.get("promoter")
            rows.append((org_id, e["id"], e["type"], live_id, e["viewer"], code,
                         promoter_ids.get(code), e.get("order"), e.get("amount"), e.get("count"),
                         at, e.get("touchpoint"), attrs, "bench"))
    return rows
