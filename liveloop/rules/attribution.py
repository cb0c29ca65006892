"""Attribution and counting (docs/events.md "How an event is applied" and "Counting").

Pure: no Django. The same `Attribution` object serves two callers:

- ingest preloads the state of the viewers, orders and lives a batch touches, applies the
  batch, writes back what changed, and hands each fact with what it *counted* (the figure
  changes `apply` returns) to the projections (events.projections), which add them up;
- rebuild starts from nothing, replays the whole log in sequence order, and ends with the
  *totals* (`stats`, kept only when asked: `tally=True`), which must equal what ingest wrote.

Because both go through `apply`, the incremental state and a replay cannot drift apart by
construction; `liveloop rebuild --check` and the property tests verify it.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

FIGURES = ("reservations", "entered", "buyers", "orders", "gmv", "refunded", "follows", "captures")
RESERVATIONS, ENTERED, BUYERS, ORDERS, GMV, REFUNDED, FOLLOWS, CAPTURES = range(len(FIGURES))

TRAFFIC = ("room_enters", "room_leaves", "online_peak")
ENTERS, LEAVES, ONLINE_PEAK = range(len(TRAFFIC))

# What `apply` returns: the figure changes one fact made, (promoter or None, figure, amount).
Counted = list[tuple[int | None, int, int]]
NOTHING: Counted = []  # shared by the facts that count nothing: never appended to

FIRST_TOUCH = "first_touch"
LAST_TOUCH = "last_touch"
MODES = (FIRST_TOUCH, LAST_TOUCH)
# Going live more than this after the announced time lets reservations lapse (PRODUCT.md).
LAPSE_AFTER = timedelta(hours=1)

SCHEDULED, LIVE, ENDED, CANCELLED = "scheduled", "live", "ended", "cancelled"
STATE_WORDS = {SCHEDULED: "scheduled", LIVE: "on air", ENDED: "ended", CANCELLED: "cancelled"}
VERBS = {"live_started": "start", "live_ended": "end", "live_cancelled": "be cancelled"}
TRANSITIONS = {
    "live_started": ({SCHEDULED}, LIVE),
    "live_ended": ({LIVE}, ENDED),
    "live_cancelled": ({SCHEDULED}, CANCELLED),
}


@dataclass(slots=True)
class Fact:
    """An accepted event as attribution sees it: ids resolved, promoter already checked
    against the live's programme (None when absent or not a programme member)."""
    type: str
    live: int | None
    viewer: str
    promoter: int | None
    order: str | None
    amount: int | None
    count: int | None
    at: datetime
    attrs: dict | None = None
    touchpoint: str | None = None  # where the viewer came from; read by the audience breakdowns


@dataclass(slots=True)
class LiveState:
    mode: str = FIRST_TOUCH
    binding_days: int = 30
    state: str = SCHEDULED
    peak_online: int = 0
    lapsed: bool = False
    # Viewers who held a reservation when they first entered the room: how far the live's
    # reservations turned into viewers.
    showed_up: int = 0


@dataclass(slots=True)
class ViewerState:
    bound: int | None = None
    bound_at: datetime | None = None
    reserved: bool = False
    reserved_for: int | None = None
    entered: bool = False
    bought: bool = False
    followed: bool = False
    captured: bool = False
    # Whom the first entry was credited to: "effective views less their own" asks whether the
    # promoter's own entry is in their count, which the binding (it moves) cannot say.
    entered_for: int | None = None


@dataclass(slots=True)
class OrderState:
    live: int
    viewer: str
    promoter: int | None
    paid: int
    refunded: int = 0
    # WeChat's commission orders on this order (its 推客 programme): {sku: [state, paid, commission]}
    # as compact JSON text, so the stored row and a replay compare as equal strings; and the part
    # of `paid` WeChat commissions now (its SKUs not cancelled), which the brand's plan leaves
    # out unless it says otherwise (rules.earnings, docs/decisions.md).
    wechat: str = ""
    wechat_paid: int = 0


# A commission order only moves forward: unsettled → settled or cancelled, settled → cancelled.
COMMISSION_RANK = {"unsettled": 0, "settled": 1, "cancelled": 2}


def commissions_of(order: OrderState) -> dict:
    return json.loads(order.wechat) if order.wechat else {}


class Rejected(Exception):
    pass


# The words of a commission state refused as older than the one the log holds: a caller fetching
# WeChat's commission orders (integrations.tuike.commissions) takes such a refusal as done.
STALE_COMMISSION = " is already "


def binding_at(viewer: ViewerState, at: datetime, binding_days: int) -> int | None:
    """The promoter holding the viewer at `at`, or None once the binding has run out."""
    if viewer.bound is None:
        return None
    if at - viewer.bound_at >= timedelta(days=binding_days):
        return None
    return viewer.bound


def touch(viewer: ViewerState, promoter: int, at: datetime, mode: str, binding_days: int) -> None:
    """A reservation or room entry through a programme promoter's link."""
    if mode == LAST_TOUCH or binding_at(viewer, at, binding_days) is None:
        viewer.bound = promoter
        viewer.bound_at = at


def order_credit(fact_promoter: int | None, viewer: ViewerState, at: datetime,
                 binding_days: int) -> int | None:
    """The platform's own sharer record (the event's promoter) wins over the binding."""
    if fact_promoter is not None:
        return fact_promoter
    return binding_at(viewer, at, binding_days)


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _zero() -> list[int]:
    return [0] * len(FIGURES)


@dataclass
class Attribution:
    lives: dict[int, LiveState]
    viewers: dict[tuple[int, str], ViewerState] = field(default_factory=dict)
    orders: dict[str, OrderState] = field(default_factory=dict)
    # (live, promoter or None) -> figures, when `tally`: a replay's totals (ingest leaves the
    # adding up to the database: analytics.live_figures).
    stats: defaultdict = field(default_factory=lambda: defaultdict(_zero))
    tally: bool = True
    changed_viewers: set = field(default_factory=set)
    changed_orders: set = field(default_factory=set)
    changed_lives: set = field(default_factory=set)
    reset_lives: set = field(default_factory=set)

    def apply(self, fact: Fact) -> Counted:
        """Apply one accepted fact and return the figure changes it counted, or raise Rejected
        without changing anything."""
        kind = fact.type
        if fact.live is None:  # a capture outside any live: kept in the log, counted org-wide later
            return NOTHING
        live = self.lives[fact.live]
        if kind in TRANSITIONS:
            self._transition(fact, live)
            return NOTHING
        if live.state == CANCELLED:
            raise Rejected("live is cancelled")
        if kind == "online":
            if fact.count > live.peak_online:
                live.peak_online = fact.count
                self.changed_lives.add(fact.live)
            return NOTHING
        if kind == "room_leave":
            return NOTHING
        counted: Counted = []
        if kind == "order_refund":
            self._refund(fact, counted)
            return counted
        if kind == "commission_order":
            self._commission(fact)
            return NOTHING  # no figure moves; the ledger re-estimates the order's promoter
        if kind == "order_paid" and fact.order in self.orders:
            raise Rejected(f"order {fact.order} was already paid by another event")

        key = (fact.live, fact.viewer)
        viewer = self.viewers.get(key)
        if viewer is None:
            viewer = self.viewers[key] = ViewerState()
        before = (viewer.bound, viewer.bound_at, viewer.reserved, viewer.reserved_for,
                  viewer.entered, viewer.bought, viewer.followed, viewer.captured, viewer.entered_for)
        days = live.binding_days
        if fact.promoter is not None and kind in ("reservation", "room_enter"):
            touch(viewer, fact.promoter, fact.at, live.mode, days)

        if kind == "order_paid":
            credited = order_credit(fact.promoter, viewer, fact.at, days)
            self.orders[fact.order] = OrderState(fact.live, fact.viewer, credited, fact.amount)
            self.changed_orders.add(fact.order)
            counted.append((credited, ORDERS, 1))
            counted.append((credited, GMV, fact.amount))
            if not viewer.bought:
                viewer.bought = True
                counted.append((credited, BUYERS, 1))
        else:
            credited = binding_at(viewer, fact.at, days)
            if kind == "reservation":
                if not viewer.reserved:
                    viewer.reserved = True
                    viewer.reserved_for = credited
                    counted.append((credited, RESERVATIONS, 1))
            elif kind == "reservation_cancel":
                if viewer.reserved:
                    counted.append((viewer.reserved_for, RESERVATIONS, -1))
                    viewer.reserved = False
                    viewer.reserved_for = None
            elif kind == "room_enter":
                if not viewer.entered:
                    viewer.entered = True
                    viewer.entered_for = credited
                    if viewer.reserved:
                        live.showed_up += 1
                        self.changed_lives.add(fact.live)
                    counted.append((credited, ENTERED, 1))
            elif kind == "follow":
                if not viewer.followed:
                    viewer.followed = True
                    counted.append((credited, FOLLOWS, 1))
            elif kind == "capture":
                if not viewer.captured:
                    viewer.captured = True
                    # Added through a promoter's own contact code (WeCom state): like the
                    # platform's sharer record on an order, the named promoter wins.
                    counted.append((order_credit(fact.promoter, viewer, fact.at, days), CAPTURES, 1))
        after = (viewer.bound, viewer.bound_at, viewer.reserved, viewer.reserved_for,
                 viewer.entered, viewer.bought, viewer.followed, viewer.captured, viewer.entered_for)
        if after != before:
            self.changed_viewers.add(key)
        if self.tally:
            self._tally(fact.live, counted)
        return counted

    def _refund(self, fact: Fact, counted: Counted) -> None:
        order = self.orders.get(fact.order)
        if order is None:
            raise Rejected(f"refund on unknown order {fact.order}")
        if order.live != fact.live:
            raise Rejected(f"order {fact.order} belongs to another live")
        if order.refunded + fact.amount > order.paid:
            raise Rejected(f"refund exceeds amount paid ({order.paid})")
        order.refunded += fact.amount
        self.changed_orders.add(fact.order)
        counted.append((order.promoter, REFUNDED, fact.amount))
        if self.tally:
            self._tally(fact.live, counted)

    def _commission(self, fact: Fact) -> None:
        order = self.orders.get(fact.order)
        if order is None:
            # Sent again once the order is in (the WeChat worker retries): a commission cannot
            # wait in the rules' state for an order that may never come.
            raise Rejected(f"commission on unknown order {fact.order}")
        if order.live != fact.live:
            raise Rejected(f"order {fact.order} belongs to another live")
        attrs = fact.attrs
        sku, state = attrs["sku"], attrs["state"]
        skus = commissions_of(order)
        before = skus.get(sku)
        if before is not None and COMMISSION_RANK[state] <= COMMISSION_RANK[before[0]]:
            # A late or replayed state under a new id: WeChat's callbacks may arrive out of order.
            raise Rejected(f"WeChat's commission on order {fact.order} SKU {sku}{STALE_COMMISSION}{before[0]}")
        skus[sku] = [state, attrs["paid"], fact.amount]
        order.wechat = json.dumps(dict(sorted(skus.items())), separators=(",", ":"), ensure_ascii=False)
        order.wechat_paid = sum(paid for s, paid, _ in skus.values() if s != "cancelled")
        self.changed_orders.add(fact.order)

    def _tally(self, live: int, counted: Counted) -> None:
        for promoter, figure, amount in counted:
            self.stats[(live, promoter)][figure] += amount

    def _transition(self, fact: Fact, live: LiveState) -> None:
        allowed_from, to = TRANSITIONS[fact.type]
        if live.state not in allowed_from:
            raise Rejected(f"the live is {STATE_WORDS[live.state]}: it cannot {VERBS[fact.type]}")
        live.state = to
        self.changed_lives.add(fact.live)
        if to == LIVE:
            announced = (fact.attrs or {}).get("announced_at")
            live.lapsed = announced is not None and fact.at - datetime.fromisoformat(announced) > LAPSE_AFTER
        elif to == CANCELLED:
            # Cancelling a preview resets its reservations (PRODUCT.md); the log keeps them.
            self.reset_lives.add(fact.live)
            for (live_id, _), row in self.stats.items():
                if live_id == fact.live:
                    row[RESERVATIONS] = 0  # ingest also zeroes the stored rows it did not load
            for (live_id, viewer_id), viewer in self.viewers.items():
                if live_id == fact.live and viewer.reserved:
                    viewer.reserved = False
                    viewer.reserved_for = None
                    self.changed_viewers.add((live_id, viewer_id))
