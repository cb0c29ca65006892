"""Sharers (分享员) ↔ promoters, and back-filling attribution from the sharer order list.

A promoter is linked to a sharer by Promoter.openid. The sharer list carries openid, nickname,
bind time, type and unionid only (WECHAT.md): no phone, and a nickname is chosen by the sharer,
so it is never enough to link — anyone could take a promoter's name and be credited with their
orders. Sync therefore links by openid only and, for an unmatched sharer, names the promoter
whose name equals the nickname as a suggestion for an operator to confirm with link_promoter.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from liveloop.analytics.fraud import refresh_self_referrals
from liveloop.events.ingest import ingest
from liveloop.integrations.models import ShopLive
from liveloop.integrations.wechat import mapping
from liveloop.integrations.wechat.client import MAX_PAGE_SIZE, ShopClient
from liveloop.lib.seq import chunks
from liveloop.promoters.models import Promoter

MAX_PAGES = 1000  # a guard against an API that never returns a short page
INGEST_BATCH = 200


class LinkError(ValueError):
    pass


def _all_pages(fetch) -> list[dict]:
    rows: list[dict] = []
    for page in range(1, MAX_PAGES + 1):
        batch = fetch(page)
        rows.extend(batch)
        if len(batch) < MAX_PAGE_SIZE:
            break
    return rows


@dataclass
class SyncReport:
    linked: list[dict] = field(default_factory=list)       # {openid, nickname, promoter}
    unmatched: list[dict] = field(default_factory=list)    # {openid, nickname, suggestion}
    not_in_shop: list[str] = field(default_factory=list)   # codes of linked promoters the shop lacks

    @property
    def total(self) -> int:
        return len(self.linked) + len(self.unmatched)


def sync_sharers(shop, client: ShopClient | None = None) -> SyncReport:
    client = client or ShopClient.for_shop(shop)
    sharers = _all_pages(lambda page: client.sharer_list(page=page))
    promoters = list(Promoter.objects.for_org(shop.org).only("code", "name", "openid"))
    by_openid = {p.openid: p for p in promoters if p.openid}
    unlinked_by_name: dict[str, list[Promoter]] = {}
    for promoter in promoters:
        if not promoter.openid:
            unlinked_by_name.setdefault(promoter.name.strip(), []).append(promoter)
    report = SyncReport()
    seen = set()
    for sharer in sharers:
        openid = str(sharer.get("openid") or "")
        if not openid or openid in seen:
            continue
        seen.add(openid)
        nickname = str(sharer.get("nickname") or "")
        promoter = by_openid.get(openid)
        if promoter:
            report.linked.append({"openid": openid, "nickname": nickname, "promoter": promoter.code})
            continue
        namesakes = unlinked_by_name.get(nickname.strip(), []) if nickname.strip() else []
        report.unmatched.append({"openid": openid, "nickname": nickname,
                                 "suggestion": namesakes[0].code if len(namesakes) == 1 else None})
    report.not_in_shop = sorted(p.code for p in by_openid.values() if p.openid not in seen)
    return report


def link_promoter(promoter: Promoter, openid: str) -> Promoter:
    """Link (or, with an empty openid, unlink) a promoter to a sharer of the org's shop."""
    openid = (openid or "").strip()
    if len(openid) > Promoter._meta.get_field("openid").max_length:
        raise LinkError("openid too long")
    if openid:
        holder = (Promoter.objects.for_org(promoter.org).filter(openid=openid)
                  .exclude(pk=promoter.pk).first())
        if holder:
            raise LinkError(f"openid already linked to promoter {holder.code}")
    promoter.openid = openid
    try:
        with transaction.atomic():
            promoter.save(update_fields=["openid"])
            # The promoter's own ids moved: the self-referral flags on their rows follow (rules.fraud).
            refresh_self_referrals(promoter.org, [promoter.pk])
    except IntegrityError:  # linked by someone else between the check and the save
        raise LinkError("openid already linked to another promoter") from None
    return promoter


@dataclass
class BackfillReport:
    orders: int = 0
    accepted: int = 0
    duplicates: int = 0
    unmapped: dict[str, int] = field(default_factory=dict)  # Channels live id → orders
    not_in_live: int = 0
    rejected: list[dict] = field(default_factory=list)      # {order, error}


def backfill(shop, since: datetime, until: datetime, client: ShopClient | None = None) -> BackfillReport:
    """Ingest the shop's sharer orders paid between since and until as order_paid events.

    Event ids are the push path's, so orders already pushed come back as duplicates and running
    it twice changes nothing.
    """
    if until <= since:
        raise ValueError("until must be after since")
    client = client or ShopClient.for_shop(shop)
    start, end = int(since.timestamp()), int(until.timestamp())
    rows = _all_pages(lambda page: client.sharer_orders(start, end, page=page))
    lives = dict(ShopLive.objects.for_org(shop.org).filter(shop=shop)
                 .values_list("channels_live_id", "live__public_id"))
    codes = dict(Promoter.objects.for_org(shop.org).exclude(openid="").values_list("openid", "code"))
    report = BackfillReport()
    events = []
    seen = set()
    for row in rows:
        order_id = str(row.get("order_id") or "")
        if not order_id or order_id in seen:
            continue
        seen.add(order_id)
        report.orders += 1
        detail = client.order_detail(order_id)
        channels_live = mapping.channels_live_id(detail) or \
            ((row.get("finder_scene_info") or {}).get("live_export_id") or None)
        if not channels_live:
            report.not_in_live += 1
            continue
        if channels_live not in lives:
            report.unmapped[channels_live] = report.unmapped.get(channels_live, 0) + 1
            continue
        openid = row.get("sharer_openid") or mapping.sharer_openid(detail)
        try:
            events.append(mapping.order_paid(shop.appid, detail, lives[channels_live], codes.get(openid)))
        except mapping.MappingError as error:
            report.rejected.append({"order": order_id, "error": str(error)})
    for batch in chunks(events, INGEST_BATCH):
        result = ingest(shop.org, batch, source="wechat")
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.rejected += [{"order": batch[r["index"]]["order"], "error": r["error"]}
                            for r in result.rejected]
    return report
