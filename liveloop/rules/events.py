"""The event contract (docs/events.md, v1): validation and normalisation of one incoming event.

Pure: no Django. `parse_event` turns a decoded JSON object into an `IncomingEvent` or raises
`EventError` naming the field and the reason, so each rejection in a batch can say what was wrong.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from liveloop.rules.dates import DateRangeError, to_utc
from liveloop.rules.fraud import MAX_KEY, SIGNAL_ATTRS
from liveloop.rules.identity import ID_ATTRS, linked_ids

# In the contract's order (docs/events.md), which the API's schema lists (liveloop/api/events.py).
EVENT_TYPES = (
    "reservation", "reservation_cancel", "room_enter", "room_leave",
    "order_paid", "order_refund", "follow", "capture", "online",
    "identify",  # links the viewer's other ids, given in attrs (rules.identity); no live
    # WeChat's commission order (佣金单) on an order, in one state: `amount` is the commission
    # WeChat pays its sharer, attrs say which SKU, its state and what was paid for it
    # (rules.attribution: what the brand's plan then pays; docs/events.md).
    "commission_order",
)
# Written by Liveloop itself when an operator changes a live's state; never accepted from producers.
SYSTEM_TYPES = frozenset({"live_started", "live_ended", "live_cancelled"})
SYSTEM_ID_PREFIX = "system:"  # ids of SYSTEM_TYPES events; a producer's id could otherwise block them
ORDER_TYPES = frozenset({"order_paid", "order_refund", "commission_order"})
# A commission order's states, WeChat's CommissionOrderStatus 20 / 100 / 200 (未结算, 已结算, 取消结算).
COMMISSION_STATES = ("unsettled", "settled", "cancelled")
MAX_SKU = 64
TOUCHPOINTS = frozenset({
    "article", "short_video", "moments", "community", "wecom",
    "personal", "mini_program", "live", "public",
})
FIELDS = frozenset({"id", "type", "live", "viewer", "promoter", "order", "amount", "count",
                    "at", "touchpoint", "attrs"})

MAX_ID = 128
MAX_CODE = 32
MAX_ORDER = 64
MAX_ATTRS_BYTES = 2048
# ¥10 billion in fen: far above any real order, far below 64-bit overflow of any sum we keep.
MAX_AMOUNT = 10**12
MAX_COUNT = 10**9
FUTURE_TOLERANCE = timedelta(days=1)


class EventError(ValueError):
    pass


@dataclass(slots=True)
class IncomingEvent:
    id: str
    type: str
    live: str | None
    viewer: str
    promoter: str | None
    order: str | None
    amount: int | None
    count: int | None
    at: datetime  # aware, UTC
    touchpoint: str | None
    attrs: dict | None


def _text(raw: dict, field: str, limit: int, required: bool) -> str | None:
    value = raw.get(field)
    if value is None:
        if required:
            raise EventError(f"{field}: required")
        return None
    if not isinstance(value, str):
        raise EventError(f"{field}: must be a string")
    if not 1 <= len(value) <= limit:
        raise EventError(f"{field}: must be 1–{limit} characters")
    if not value.isprintable():
        raise EventError(f"{field}: must contain printable characters only")
    return value


def _integer(raw: dict, field: str, limit: int, required: bool, unit: str = "") -> int | None:
    value = raw.get(field)
    if value is None:
        if required:
            raise EventError(f"{field}: required")
        return None
    # bool is an int in Python; a float (even 129.0) means someone computed money in floats.
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(f"{field}: must be an integer{unit}")
    if value < 0:
        raise EventError(f"{field}: must not be negative")
    if value > limit:
        raise EventError(f"{field}: must be at most {limit}")
    return value


def parse_time(value, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise EventError("at: required, an ISO 8601 time with offset")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise EventError("at: not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise EventError("at: needs a UTC offset, e.g. +08:00")
    try:
        at = to_utc(at)  # an OverflowError here once made the whole batch a 500
    except DateRangeError as error:
        raise EventError(f"at: {error}") from None
    if at > now + FUTURE_TOLERANCE:
        raise EventError("at: more than one day in the future")
    return at


def parse_event(raw, now: datetime) -> IncomingEvent:
    if not isinstance(raw, dict):
        raise EventError("event: must be a JSON object")
    unknown = raw.keys() - FIELDS
    if unknown:
        name = sorted(unknown)[0]
        # Quoted when it would not read as a name (empty, spaces, control characters).
        raise EventError(f"{name if name.isidentifier() else json.dumps(name)[:80]}: unknown field")
    event_id = _text(raw, "id", MAX_ID, True)
    if event_id.startswith(SYSTEM_ID_PREFIX):
        raise EventError(f"id: the prefix {SYSTEM_ID_PREFIX!r} is reserved for Liveloop's own events")
    kind = raw.get("type")
    # A string first: an object or array here is unhashable and must be a rejection, not a crash.
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise EventError(f"type: unknown type {kind!r}" if kind is not None else "type: required")
    if kind == "identify" and raw.get("live") is not None:
        raise EventError("live: an identify event links ids for the whole organisation, not one live")
    live = _text(raw, "live", MAX_ID, kind not in ("capture", "identify"))
    viewer = _text(raw, "viewer", MAX_ID, True)
    promoter = _text(raw, "promoter", MAX_CODE, False)
    is_order = kind in ORDER_TYPES
    order = raw.get("order")
    if is_order and isinstance(order, int) and not isinstance(order, bool):
        raise EventError("order: must be a string (64-bit ids lose digits as JSON numbers)")
    order = _text(raw, "order", MAX_ORDER, is_order)
    amount = _integer(raw, "amount", MAX_AMOUNT, is_order, " number of fen")
    count = _integer(raw, "count", MAX_COUNT, kind == "online")
    if not is_order and (order is not None or amount is not None):
        raise EventError(f"{'order' if order is not None else 'amount'}: only for order events")
    at = parse_time(raw.get("at"), now)
    touchpoint = raw.get("touchpoint")
    if touchpoint is not None and (not isinstance(touchpoint, str) or touchpoint not in TOUCHPOINTS):
        raise EventError(f"touchpoint: must be one of {', '.join(sorted(TOUCHPOINTS))}")
    attrs = raw.get("attrs")
    if attrs is not None:
        attrs = _attrs(attrs)
    if kind == "commission_order":
        _commission_attrs(attrs)
    if kind == "identify" and not linked_ids(viewer, attrs):
        raise EventError(f"attrs: an identify event names at least one other id of the viewer "
                         f"({', '.join(ID_ATTRS)})")
    return IncomingEvent(event_id, kind, live, viewer, promoter, order, amount, count, at,
                         touchpoint, attrs)


def _commission_attrs(attrs) -> None:
    """A commission order names its SKU (WeChat keys a commission order by order and SKU), its
    state and the amount paid for that SKU (fen): the part of the order WeChat commissions."""
    attrs = attrs or {}
    state = attrs.get("state")
    if state not in COMMISSION_STATES:
        raise EventError(f"attrs.state: one of {', '.join(COMMISSION_STATES)}")
    sku = attrs.get("sku")
    if not isinstance(sku, str) or not 1 <= len(sku) <= MAX_SKU or not sku.isprintable():
        raise EventError(f"attrs.sku: the SKU id, a string of 1–{MAX_SKU} printable characters")
    try:
        _integer(attrs, "paid", MAX_AMOUNT, True, " number of fen")
    except EventError as error:
        raise EventError(f"attrs.{error}") from None


def _attrs(attrs) -> dict:
    if not isinstance(attrs, dict):
        raise EventError("attrs: must be an object")
    for key, value in attrs.items():
        if isinstance(value, (dict, list)):
            raise EventError(f"attrs.{key}: must be a string, number, boolean or null (attrs is flat)")
        if isinstance(value, float) and value != value:
            raise EventError(f"attrs.{key}: NaN is not allowed")
        # PostgreSQL's JSON cannot hold a NUL character: refuse it here, with the field named.
        if "\x00" in key or isinstance(value, str) and "\x00" in value:
            raise EventError(f"attrs.{key}: NUL characters are not allowed")
        if key in ID_ATTRS and value is not None and (
                not isinstance(value, str) or not 1 <= len(value) <= MAX_ID or not value.isprintable()):
            raise EventError(f"attrs.{key}: an id of the viewer, a string of 1–{MAX_ID} printable characters")
        if key in SIGNAL_ATTRS and value is not None and (
                not isinstance(value, str) or not 1 <= len(value) <= MAX_KEY or not value.isprintable()):
            raise EventError(f"attrs.{key}: an opaque key, a string of 1–{MAX_KEY} printable characters")
    if len(json.dumps(attrs, ensure_ascii=False).encode()) > MAX_ATTRS_BYTES:
        raise EventError(f"attrs: larger than {MAX_ATTRS_BYTES} bytes")
    return attrs
