"""Turns stored pushes into events: fetch details from the shop API, map, ingest.

Any number of workers may run: a row is claimed by a conditional UPDATE (queued → processing),
so two workers never take the same one. A row left in processing by a dead worker goes back
to the queue after STALE. Network trouble and ingest rejections are retried with exponential
backoff; after max attempts the row is `failed` with its last error, for an operator to see.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db.models import F, Q

from liveloop.events.ingest import ingest
from liveloop.events.models import Order
from liveloop.integrations.models import PushMessage, ShopLive
from liveloop.integrations.wechat import mapping
from liveloop.integrations.wechat.client import ShopApiError, ShopClient, ShopUnavailable
from liveloop.promoters.models import Promoter

log = logging.getLogger(__name__)
STALE = timedelta(minutes=10)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


# How the worker words a failure in `last_error`: the shop page tells the two kinds apart.
UNUSABLE = "unexpected detail: "


class Retry(Exception):
    """Worth trying again later (network, busy API, an order not ingested yet)."""


class Skip(Exception):
    """Nothing to ingest for this push (another event type, no refund, a live not mapped)."""


@dataclass
class Outcome:
    done: int = 0
    skipped: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.done + self.skipped + self.retrying + self.failed


def max_attempts() -> int:
    return getattr(settings, "LIVELOOP_WECHAT_MAX_ATTEMPTS", 8)


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def process(limit: int = 50, now: datetime | None = None, client_options: dict | None = None) -> Outcome:
    now = now or datetime.now(timezone.utc)
    outcome = Outcome()
    PushMessage.objects.filter(state=PushMessage.PROCESSING, claimed_at__lt=now - STALE).update(
        state=PushMessage.QUEUED)
    due = (PushMessage.objects.filter(state=PushMessage.QUEUED)
           .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
           .order_by("pk").values_list("pk", flat=True)[:limit])
    for pk in list(due):
        claimed = PushMessage.objects.filter(pk=pk, state=PushMessage.QUEUED).update(
            state=PushMessage.PROCESSING, claimed_at=now, attempts=F("attempts") + 1)
        if claimed:
            message = PushMessage.objects.select_related("shop", "org").get(pk=pk)
            _handle(message, now, client_options or {}, outcome)
    return outcome


def _handle(message: PushMessage, now: datetime, client_options: dict, outcome: Outcome) -> None:
    try:
        handle(message, ShopClient.for_shop(message.shop, **client_options))
    except Skip as reason:
        _finish(message, PushMessage.SKIPPED, now, str(reason))
        outcome.skipped += 1
    except mapping.MappingError as error:
        _finish(message, PushMessage.FAILED, now, f"{UNUSABLE}{error}")
        outcome.failed += 1
    except Exception as error:
        # An API error may be a permission granted later, and an unforeseen error must not
        # stop the worker or leave the row claimed: all get the same bounded patience.
        if not isinstance(error, (Retry, ShopUnavailable, ShopApiError)):
            log.exception("wechat push %s: unexpected error", message.pk)
        if message.attempts >= max_attempts():
            _finish(message, PushMessage.FAILED, now, f"{type(error).__name__}: {error}")
            outcome.failed += 1
            log.warning("wechat push %s failed after %s attempts", message.pk, message.attempts)
        else:
            message.state = PushMessage.QUEUED
            message.next_attempt_at = now + backoff(message.attempts)
            message.last_error = f"{type(error).__name__}: {error}"[:2000]
            message.save(update_fields=["state", "next_attempt_at", "last_error"])
            outcome.retrying += 1
    else:
        _finish(message, PushMessage.DONE, now, "")
        outcome.done += 1


def retry(org, pk: int) -> bool:
    """Put a failed push back in the queue with fresh patience (an operator fixed the shop's
    data, or the API is back). Only from failed, in one conditional UPDATE: a double click or
    a running worker cannot claim it twice, and a retried push ingests under the same event
    id, so an order that did get in is a duplicate, never a second order."""
    return bool(PushMessage.objects.for_org(org).filter(pk=pk, state=PushMessage.FAILED).update(
        state=PushMessage.QUEUED, attempts=0, next_attempt_at=None, claimed_at=None, processed_at=None))


def unusable(message: PushMessage) -> bool:
    """Failed because the payload itself cannot make an event (not the network, not ingest)."""
    return message.state == PushMessage.FAILED and message.last_error.startswith(UNUSABLE)


def _finish(message: PushMessage, state: str, now: datetime, error: str) -> None:
    message.state = state
    message.processed_at = now
    message.last_error = error[:2000]
    message.save(update_fields=["state", "processed_at", "last_error"])


def handle(message: PushMessage, client: ShopClient) -> None:
    payload = message.payload
    if message.event == mapping.PAY_EVENT:
        order_id = (payload.get("order_info") or {}).get("order_id")
        if not order_id:
            raise Skip("pay push without order_info.order_id")
        _ingest(message, _paid_event(message, client.order_detail(str(order_id)), payload))
    elif message.event == mapping.AFTERSALE_EVENT:
        update = payload.get("finder_shop_aftersale_status_update") or {}
        if update.get("status") not in mapping.REFUNDED or not update.get("after_sale_order_id"):
            raise Skip(f"after-sale status {update.get('status')!r}: no money went back")
        detail = client.aftersale_detail(str(update["after_sale_order_id"]))
        # A detail without a status says nothing against the push's (optional fields never
        # stop a refund); one that names another status is newer news: no money went back.
        if detail.get("status") is not None and detail.get("status") not in mapping.REFUNDED:
            raise Skip(f"after-sale detail status {detail.get('status')!r}: no money went back")
        order_id = mapping.refund_order_id(detail, payload)
        if not order_id:
            raise mapping.MappingError("after-sale detail without after_sale_order_id, order_id or openid")
        live = _refund_live(message, order_id, client)
        _ingest(message, mapping.order_refund(message.shop.appid, detail, live, payload))
    else:
        raise Skip(f"event {message.event!r} is not used")


def _live_for(message: PushMessage, order: dict) -> str:
    channels_live = mapping.channels_live_id(order)
    if channels_live is None:
        raise Skip("order not placed in a live")
    mapped = (ShopLive.objects.for_org(message.org).filter(shop=message.shop, channels_live_id=channels_live)
              .select_related("live").first())
    if mapped is None:
        raise Skip(f"Channels live {channels_live!r} is not mapped to a Liveloop live")
    return mapped.live.public_id


def _paid_event(message: PushMessage, order: dict, push: dict) -> dict:
    live = _live_for(message, order)
    promoter = None
    openid = mapping.sharer_openid(order)
    if openid:
        promoter = (Promoter.objects.for_org(message.org).filter(openid=openid)
                    .values_list("code", flat=True).first())
    return mapping.order_paid(message.shop.appid, order, live, promoter, push)


def _refund_live(message: PushMessage, order_id: str, client: ShopClient) -> str:
    known = (Order.objects.for_org(message.org).filter(order=order_id)
             .values_list("live__public_id", flat=True).first())
    if known:
        return known
    # The pay push may not be processed yet: the live comes from the order; ingest will
    # refuse a refund on an unknown order and the row is retried.
    return _live_for(message, client.order_detail(order_id))


def _ingest(message: PushMessage, event: dict) -> None:
    result = ingest(message.org, [event], source="wechat")
    if result.rejected:
        raise Retry(f"ingest rejected {event['id']}: {result.rejected[0]['error']}")
