"""WeChat's commission orders (推客 佣金单) into the event log (docs/wechat.md "推客: commission
orders", docs/events.md "WeChat's commission orders").

The 机构's callback `head_supplier_commission_order_update` says that a commission order
changed (order id, SKU id, version). It is stored as a TuikeCommissionUpdate (one per order,
SKU and version: a repeated callback adds nothing) and answered at once; the worker then asks
WeChat for the commission order itself (`/channels/ec/league/headsupplier/order/get`) and writes
its state as a `commission_order` event through ingest. The event is built from WeChat's answer,
never from the callback's body, so a forged callback (it would also need the account's Token
and EncodingAESKey) can at most make Liveloop ask WeChat about an order.

The event names the Liveloop order it is about; an update for an order Liveloop does not have
yet (the shop's order push comes later) waits and is tried again with backoff, and is given up
after MAX_ATTEMPTS with its reason kept.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.db import IntegrityError, transaction
from django.db.models import Q

from liveloop.events.ingest import ingest
from liveloop.events.models import Order
from liveloop.integrations.models import TuikeAccount, TuikeCommissionUpdate
from liveloop.integrations.tuike.client import TuikeClient
from liveloop.integrations.wechat.client import ShopApiError, ShopUnavailable
from liveloop.rules.attribution import STALE_COMMISSION
from liveloop.rules.events import MAX_AMOUNT, MAX_ORDER, MAX_SKU

log = logging.getLogger(__name__)

COMMISSION_EVENT = "head_supplier_commission_order_update"
ORDER_GET = "/channels/ec/league/headsupplier/order/get"
# WeChat's CommissionOrderStatus → the event's state (rules.events.COMMISSION_STATES).
STATES = {20: "unsettled", 100: "settled", 200: "cancelled"}
MAX_VERSION = 64
MAX_ATTEMPTS = 24
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_CAP = timedelta(hours=2)
STALE = timedelta(minutes=10)


def _id(value, limit: int) -> str | None:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if 1 <= len(text) <= limit and text.isprintable() else None


def record_update(org, message: dict, now: datetime | None = None) -> TuikeCommissionUpdate | bool | None:
    """Store a verified callback's update; None when it is not one (answered 400), False when the
    same version was stored before (a repeat: nothing new)."""
    info = message.get("order_info")
    if not isinstance(info, dict):
        return None
    order_id, sku_id = _id(info.get("order_id"), MAX_ORDER), _id(info.get("sku_id"), MAX_SKU)
    version = _id(info.get("version"), MAX_VERSION)
    if order_id is None or sku_id is None or version is None:
        return None
    now = now or datetime.now(timezone.utc)
    try:
        with transaction.atomic():
            return TuikeCommissionUpdate.objects.create(org=org, order_id=order_id, sku_id=sku_id, version=version,
                                                        received_at=now, due_at=now)
    except IntegrityError:
        return False


class Unusable(ValueError):
    """WeChat's answer does not describe a commission order Liveloop can record."""


def _fen(value, name: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT:
        raise Unusable(f"{name} is not an amount in fen: {str(value)[:40]!r}")
    return value


def event_of(update: TuikeCommissionUpdate, detail: dict, order: Order) -> dict:
    """The `commission_order` event for WeChat's commission order `detail` (order/get's
    `commssion_order`, WeChat's spelling) on Liveloop's `order`."""
    status = detail.get("status")
    if status not in STATES:
        raise Unusable(f"unknown commission order status {str(status)[:20]!r}")
    if str(detail.get("order_id")) != update.order_id or str(detail.get("sku_id")) != update.sku_id:
        raise Unusable("WeChat answered about another commission order")
    body = detail.get("order_detail") or {}
    product = body.get("product_info") or {}
    commission = body.get("commission_info") or {}
    sharer = commission.get("sharer_info") or {}
    paid = _fen(product.get("actual_payment", 0), "actual_payment")
    fee = _fen(sharer.get("amount", 0), "sharer_info.amount")
    at = detail.get("update_time")
    when = (datetime.fromtimestamp(at, tz=timezone.utc) if isinstance(at, int) and not isinstance(at, bool)
            and 0 < at < 2**33 else datetime.now(timezone.utc))
    state = STATES[status]
    attrs = {"sku": update.sku_id, "state": state, "paid": paid}
    if _id(sharer.get("sharer_appid"), 64):
        attrs["sharer_appid"] = str(sharer["sharer_appid"])
    return {"id": f"wxc:{update.order_id}:{update.sku_id}:{state}", "type": "commission_order",
            "live": order.live.public_id, "viewer": order.viewer, "order": update.order_id, "amount": fee,
            "at": when.isoformat(), "attrs": attrs}


@dataclass
class Outcome:
    recorded: int = 0
    waiting: int = 0
    given_up: int = 0

    @property
    def handled(self) -> int:
        return self.recorded + self.waiting + self.given_up


def backoff(attempts: int, rng=random) -> timedelta:
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
    return delay * rng.uniform(0.75, 1.25)


def due(now: datetime):
    return (TuikeCommissionUpdate.objects.filter(done_at__isnull=True, due_at__lte=now)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE)))


def process(limit: int = 50, now: datetime | None = None, client_options: dict | None = None, rng=random) -> Outcome:
    """One pass: each due update claimed by a conditional UPDATE (two workers never take the
    same), fetched, written as an event, or put back with its reason."""
    now = now or datetime.now(timezone.utc)
    outcome = Outcome()
    clients: dict = {}
    for pk in list(due(now).order_by("due_at", "pk").values_list("pk", flat=True)[:limit]):
        if not due(now).filter(pk=pk).update(claimed_at=now):
            continue
        update = TuikeCommissionUpdate.objects.select_related("org").get(pk=pk)
        final = False  # an answer that will not improve by asking again
        try:
            done = _handle(update, clients, client_options, now)
        except Unusable as error:
            done, reason, final = False, str(error), True
        except (ShopApiError, ShopUnavailable) as error:
            done, reason = False, str(error)
        else:
            reason = "" if done else "the order is not in Liveloop yet"
        if done:
            TuikeCommissionUpdate.objects.filter(pk=pk).update(done_at=now, claimed_at=None, last_error="")
            outcome.recorded += 1
            continue
        attempts = update.attempts + 1
        given_up = final or attempts >= MAX_ATTEMPTS
        TuikeCommissionUpdate.objects.filter(pk=pk).update(
            attempts=attempts, claimed_at=None, last_error=reason[:300], given_up=given_up,
            done_at=now if given_up else None, due_at=now + backoff(attempts, rng))
        if given_up:
            log.warning("tuike.commission org=%s order=%s sku=%s given up: %s", update.org_id, update.order_id,
                        update.sku_id, reason)
            outcome.given_up += 1
        else:
            outcome.waiting += 1
    return outcome


def _handle(update: TuikeCommissionUpdate, clients: dict, client_options, now) -> bool:
    org = update.org
    order = Order.objects.for_org(org).select_related("live").filter(order=update.order_id).first()
    if order is None:
        return False
    client = clients.get(org.pk)
    if client is None:
        account = TuikeAccount.objects.for_org(org).first()
        if account is None:
            raise Unusable("no 推客 account is connected")
        client = clients[org.pk] = TuikeClient(account, **(client_options or {}))
    payload = client.call(ORDER_GET, {"order_id": update.order_id, "sku_id": update.sku_id})
    detail = payload.get("commssion_order") or payload.get("commission_order")
    if not isinstance(detail, dict):
        raise Unusable("WeChat's answer has no commission order")
    result = ingest(org, [event_of(update, detail, order)], source="wechat", now=now)
    for rejected in result.rejected:
        # A state WeChat has since moved past (the rules refuse it as stale) is done: the log
        # already holds a later state. Any other refusal is kept as the reason.
        if STALE_COMMISSION not in rejected["error"]:
            raise Unusable(f"refused: {rejected['error']}"[:300])
    return True
