"""Shop order and after-sale details → Liveloop events (EVENTS.md). Pure: no database."""
from __future__ import annotations

from datetime import datetime, timezone

REFUNDED = frozenset({"MERCHANT_REFUND_SUCCESS", "MERCHANT_RETURN_SUCCESS"})
PAY_EVENT = "channels_ec_order_pay"
AFTERSALE_EVENT = "channels_ec_aftersale_update"


class MappingError(ValueError):
    """The detail lacks a field the event needs."""


def _at(unix) -> str:
    try:
        return datetime.fromtimestamp(int(unix), timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):  # OSError: beyond the platform's time_t
        raise MappingError(f"not a unix time: {unix!r}") from None


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


def order_paid(appid: str, order: dict, live: str, promoter: str | None) -> dict:
    detail = order.get("order_detail") or {}
    if not order.get("order_id") or not order.get("openid"):
        raise MappingError("order detail without order_id or openid")
    pay_time = (detail.get("pay_info") or {}).get("pay_time")
    event = {
        "id": f"wx:{appid}:pay:{order['order_id']}",
        "type": "order_paid",
        "live": live,
        "viewer": order["openid"],
        "order": str(order["order_id"]),
        "amount": _fen((detail.get("price_info") or {}).get("order_price"), "order_price"),
        "at": _at(pay_time),
        "attrs": {"source": "wechat_shop"},
    }
    if promoter:
        event["promoter"] = promoter
    return event


def order_refund(appid: str, aftersale: dict, live: str) -> dict:
    if not all(aftersale.get(f) for f in ("after_sale_order_id", "order_id", "openid")):
        raise MappingError("after-sale detail without after_sale_order_id, order_id or openid")
    return {
        "id": f"wx:{appid}:refund:{aftersale['after_sale_order_id']}",
        "type": "order_refund",
        "live": live,
        "viewer": aftersale["openid"],
        "order": str(aftersale["order_id"]),
        "amount": _fen((aftersale.get("refund_info") or {}).get("amount"), "refund_info.amount"),
        "at": _at(aftersale.get("update_time")),
        "attrs": {"source": "wechat_shop", "aftersale_type": str(aftersale.get("type", ""))[:20]},
    }
