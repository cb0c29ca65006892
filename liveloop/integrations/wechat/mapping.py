"""Shop order and after-sale details → Liveloop events (EVENTS.md). Pure: no database."""
from __future__ import annotations

from datetime import datetime, timezone

REFUNDED = frozenset({"MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS"})
PAY_EVENT = "channels_ec_order_pay"
AFTERSALE_EVENT = "channels_ec_aftersale_update"


class MappingError(ValueError):
    """The detail lacks a field the event needs."""


def _at(*candidates) -> str:
    """The first usable unix time among `candidates`, most telling first. Times are optional
    in the shop's details (an after-sale may come without create_time or update_time): a
    missing or unreadable one falls back to the next — the push's own CreateTime last but one
    resort — rather than losing the order or refund."""
    for unix in candidates:
        if unix is None or isinstance(unix, bool):
            continue
        try:
            return datetime.fromtimestamp(int(unix), timezone.utc).isoformat()
        except (TypeError, ValueError, OverflowError, OSError):
            continue
    raise MappingError(f"no usable time (tried {', '.join(repr(c) for c in candidates)})")


def _fen(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MappingError(f"{what}: not a whole number of fen: {value!r}")
    return value


def channels_live_id(order: dict) -> str | None:
    """The Channels live the order was placed in, if any (ext_info.live_id)."""
    ext = (order.get("order_detail") or {}).get("ext_info") or {}
    live_id = ext.get("live_id")
    return str(live_id) if live_id else None


def sharer_openid(order: dict) -> str | None:
    sharer = (order.get("order_detail") or {}).get("sharer_info") or {}
    return sharer.get("sharer_openid") or None


def _id(*candidates) -> str | None:
    for value in candidates:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()[:128]
    return None


def order_paid(appid: str, order: dict, live: str, promoter: str | None, push: dict | None = None) -> dict:
    """`push`: the push that announced the order (None for a back-fill): its order id, buyer
    (FromUserName) and CreateTime stand in for the detail's when those are missing."""
    push = push or {}
    detail = order.get("order_detail") or {}
    order_id = _id(order.get("order_id"), (push.get("order_info") or {}).get("order_id"))
    viewer = _id(order.get("openid"), push.get("FromUserName"))
    if not order_id or not viewer:
        raise MappingError("order detail without order_id or openid")
    event = {
        "id": f"wx:{appid}:pay:{order_id}",
        "type": "order_paid",
        "live": live,
        "viewer": viewer,
        "order": order_id,
        "amount": _fen((detail.get("price_info") or {}).get("order_price"), "order_price"),
        # When it was paid; else the pay time the push carried, else when the pay push was
        # sent, which is the payment. Without a push (a back-fill) an order without a pay time
        # may be unpaid: no time, not recorded.
        "at": _at((detail.get("pay_info") or {}).get("pay_time"),
                  (push.get("order_info") or {}).get("pay_time"), push.get("CreateTime")),
        "attrs": {"source": "wechat_shop"},
    }
    # The buyer's unionid (when the shop shares an open platform with the brand's official
    # account and mini-program) makes the shop openid one person with the other ids.
    unionid = _id(order.get("unionid"))
    if unionid and unionid != viewer:
        event["attrs"]["unionid"] = unionid
    if promoter:
        event["promoter"] = promoter
    return event


def refund_order_id(aftersale: dict, push: dict | None = None) -> str | None:
    """The order an after-sale refunds: the detail's, else the one its push named."""
    update = (push or {}).get("finder_shop_aftersale_status_update") or {}
    return _id(aftersale.get("order_id"), update.get("order_id"))


def order_refund(appid: str, aftersale: dict, live: str, push: dict | None = None) -> dict:
    """`push`: the status update that announced the refund; its after-sale id, order id, buyer
    (FromUserName) and CreateTime stand in for the detail's when those are missing."""
    push = push or {}
    update = push.get("finder_shop_aftersale_status_update") or {}
    aftersale_id = _id(aftersale.get("after_sale_order_id"), update.get("after_sale_order_id"))
    order_id = refund_order_id(aftersale, push)
    viewer = _id(aftersale.get("openid"), push.get("FromUserName"))
    if not aftersale_id or not order_id or not viewer:
        raise MappingError("after-sale detail without after_sale_order_id, order_id or openid")
    kind = aftersale.get("type")
    return {
        "id": f"wx:{appid}:refund:{aftersale_id}",
        "type": "order_refund",
        "live": live,
        "viewer": viewer,
        "order": order_id,
        "amount": _fen((aftersale.get("refund_info") or {}).get("amount"), "refund_info.amount"),
        # When the after-sale last changed (the refund); else when the refund-success status
        # was pushed, which is that change; else when the buyer asked for it.
        "at": _at(aftersale.get("update_time"), push.get("CreateTime"), aftersale.get("create_time")),
        "attrs": {"source": "wechat_shop",
                  "aftersale_type": str(kind)[:20] if isinstance(kind, (str, int)) else ""},
    }
