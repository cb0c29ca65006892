"""Sync one live's 推客 figures from WeChat: per linked sharer, the reservations it brought to
the live's notice, the live promotion statistics once the live has its id, and — once per
notice — the sharer's official reservation QR code and share link.

Everything is fetched first and written in one transaction: a sync that fails half-way writes
no figure, and what an earlier sync stored stays. The live's sync state (TuikeNotice) records
every attempt: a success, or the reason in words and when the next try is due —
  - a refused token is fetched again once (the client);
  - rate limits (45009, -1 busy) and timeouts are retried by the client, then here with
    exponential backoff and jitter;
  - refused credentials, the programme switched off or no cooperation stop retrying until an
    operator acts (saving the account, or the live page's sync button);
  - a sharer WeChat refuses (its documented parameter errors) is skipped and named, the others
    still sync.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from liveloop.integrations.models import TuikeAccount, TuikeLiveSharer, TuikeNotice, TuikeSharer
from liveloop.integrations.tuike import qr
from liveloop.integrations.tuike.client import (BUSY_ERRORS, CREDENTIAL_ERRORS, STOP_ERRORS, BadCredentials,
                                                ShopApiError, ShopUnavailable, TuikeClient)
from liveloop.rules import attribution

log = logging.getLogger(__name__)

# WeChat: the live promotion statistics are valid from 2025-10-25 (Beijing time).
STATS_FROM = datetime(2025, 10, 24, 16, 0, tzinfo=timezone.utc)
STATS_MARGIN = timedelta(days=1)       # the statistics window opens a day before the notice's start
SHARER_ERRORS = frozenset({10024000, 10071003, 10071030, 10071048})  # one sharer refused
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
JITTER = 0.25


def sync_every() -> timedelta:
    return timedelta(minutes=getattr(settings, "LIVELOOP_TUIKE_SYNC_MINUTES", 15))


def backoff(failures: int, rng=random) -> timedelta:
    """Doubling from a minute up to an hour, ±25 % so many lives do not retry in step."""
    base = min(BACKOFF_BASE * 2 ** max(failures - 1, 0), BACKOFF_CAP)
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


@dataclass
class Fetched:
    sharer: TuikeSharer
    count: int
    stats: dict | None
    material: dict | None  # {qrcode_url, share_link, qr_image} when fetched this time


@dataclass
class SyncResult:
    ok: bool
    synced: int = 0
    refused: list[str] = field(default_factory=list)   # sharers WeChat refused (appid: code)
    reason: str = ""
    next_sync_at: datetime | None = None


def sync_live(notice: TuikeNotice, now: datetime | None = None, client: TuikeClient | None = None,
              client_options: dict | None = None, rng=random) -> SyncResult:
    # The reason is stored once for every reader: in the product's first language, Chinese.
    with translation.override(settings.LANGUAGE_CODE):
        return _sync(notice, now or datetime.now(timezone.utc), client, client_options, rng)


def _sync(notice, now, client, client_options, rng) -> SyncResult:
    notice = TuikeNotice.objects.select_related("live", "org").get(pk=notice.pk)
    account = TuikeAccount.objects.for_org(notice.org).first()
    if account is None:
        return _stop(notice, now, None, _("No 推客 account is connected: connect it in Settings → 推客."))
    client = client or TuikeClient(account, **(client_options or {}))
    new_files: list[str] = []
    try:
        fetched, refused = _fetch(notice, client, now, new_files)
    except BadCredentials as error:
        _forget(new_files)
        return _stop(notice, now, error.errcode, _(
            "WeChat refused the 推客 account's AppID or AppSecret (error %(code)s). Correct them in "
            "Settings → 推客; syncing has stopped until then.") % {"code": error.errcode})
    except ShopApiError as error:
        _forget(new_files)
        if error.errcode in CREDENTIAL_ERRORS:
            return _stop(notice, now, error.errcode, _(
                "WeChat refused this account the 推客 API (error %(code)s): check its permissions and "
                "the server's IP allow-list; syncing has stopped until then.") % {"code": error.errcode})
        if error.errcode in STOP_ERRORS:
            return _stop(notice, now, error.errcode, _stop_reason(error.errcode))
        if error.errcode in BUSY_ERRORS:
            return _retry(notice, now, error.errcode, _busy_reason(), rng)
        return _retry(notice, now, error.errcode, _(
            "WeChat answered with error %(code)s (%(message)s); trying again later.")
            % {"code": error.errcode, "message": error.errmsg[:80]}, rng)
    except ShopUnavailable as error:
        _forget(new_files)
        text = str(error)
        busy = any(f"errcode {code}:" in text for code in BUSY_ERRORS)
        return _retry(notice, now, None, _busy_reason() if busy else _(
            "WeChat did not answer in time (a timeout or a network failure); trying again later."), rng)
    except Exception:
        _forget(new_files)
        raise
    return _write(notice, now, fetched, refused)


def _busy_reason() -> str:
    return _("WeChat asked us to slow down (rate limit or system busy); trying again later.")


def _stop_reason(code: int) -> str:
    if code == 10071049:
        return _("WeChat says the 推客 programme is switched off for this account (error 10071049); "
                 "syncing has stopped.")
    if code == 10071055:
        return _("WeChat does not know the shop-linked account id (error 10071055): correct it in "
                 "Settings → 推客; syncing has stopped.")
    return _("WeChat says this account has no cooperation covering this live (error %(code)s); "
             "syncing has stopped.") % {"code": code}


def _window(notice: TuikeNotice, now: datetime) -> tuple[int, int] | None:
    live = notice.live
    start = max((notice.start_time or live.started_at or live.announced_at) - STATS_MARGIN, STATS_FROM)
    end = min(now, live.ended_at + STATS_MARGIN) if live.ended_at else now
    return (int(start.timestamp()), int(end.timestamp())) if end > start else None


def _fetch(notice: TuikeNotice, client: TuikeClient, now: datetime, new_files: list[str]):
    org, live = notice.org, notice.live
    if not notice.live_export_id and live.state == attribution.LIVE:
        # On air: the account's current live is this one when it has exactly one.
        current = [row for row in client.lives() if row.get("export_id")]
        if len(current) == 1:
            notice.live_export_id = str(current[0]["export_id"])[:200]
    sharers = list(TuikeSharer.objects.for_org(org).filter(promoter__isnull=False, bound=True)
                   .select_related("promoter").order_by("pk"))
    held = {row.sharer_id: row for row in TuikeLiveSharer.objects.for_org(org).filter(live=live)}
    window = _window(notice, now) if notice.live_export_id else None
    fetched, refused = [], []
    for sharer in sharers:
        try:
            count = client.reservation_count(notice.notice_id, sharer.sharer_appid)
            stats = (client.live_stats(notice.live_export_id, sharer.sharer_appid, *window)
                     if window else None)
            row = held.get(sharer.pk)
            material = None
            if row is None or row.notice_id != notice.notice_id or not row.share_link or not row.qr_image:
                material = _material(notice, sharer, client, new_files)
        except BadCredentials:
            raise
        except ShopApiError as error:
            if error.errcode not in SHARER_ERRORS:
                raise
            refused.append(f"{sharer.nickname or sharer.sharer_appid} ({error.errcode})")
            continue
        fetched.append(Fetched(sharer, count, stats, material))
    return fetched, refused


def _material(notice, sharer, client, new_files) -> dict:
    url = client.notice_qr_code(notice.notice_id, sharer.sharer_appid)
    link = client.notice_share_link(notice.notice_id, sharer.sharer_appid)
    image = ""
    if url:
        try:
            image = qr.save(notice.org_id, notice.live.public_id, sharer.sharer_appid, qr.clean(qr.fetch(url)))
            new_files.append(image)
        except qr.QrError as error:
            # The link still works on the invite page; the poster keeps Liveloop's own code.
            log.warning("tuike.qr org=%s sharer=%s: %s", notice.org_id, sharer.sharer_appid, error)
    return {"qrcode_url": url[:1000] if url.startswith(("https://", "http://")) else "",
            "share_link": link[:2000], "qr_image": image}


def _write(notice: TuikeNotice, now: datetime, fetched: list[Fetched], refused: list[str]) -> SyncResult:
    org, live = notice.org, notice.live
    stale_files = []
    with transaction.atomic():
        held = {row.sharer_id: row for row in
                TuikeLiveSharer.objects.for_org(org).select_for_update().filter(live=live)}
        for item in fetched:
            row = held.get(item.sharer.pk) or TuikeLiveSharer(org=org, live=live, sharer=item.sharer)
            row.promoter = item.sharer.promoter
            row.reservation_count, row.synced_at = item.count, now
            if item.stats is not None:
                for name, value in item.stats.items():
                    setattr(row, name, value)
                row.stats_synced_at = now
            if item.material is not None:
                if row.qr_image and row.qr_image != item.material["qr_image"]:
                    stale_files.append(row.qr_image)
                row.notice_id = notice.notice_id
                row.qrcode_url = item.material["qrcode_url"]
                row.share_link = item.material["share_link"]
                row.qr_image = item.material["qr_image"]
                row.material_at = now
            elif not row.notice_id:
                row.notice_id = notice.notice_id
            row.save()
        reason = (_("WeChat refused these 推客: %(names)s.") % {"names": "、".join(refused)})[:300] \
            if refused else ""
        # An UPDATE, not save(): a notice unlinked meanwhile stays unlinked (save would insert it).
        TuikeNotice.objects.filter(pk=notice.pk).update(
            sync_state=TuikeNotice.OK, last_success_at=now, last_attempt_at=now, failures=0, last_errcode=None,
            claimed_at=None, last_error=reason, next_sync_at=now + sync_every(),
            live_export_id=notice.live_export_id)
        transaction.on_commit(lambda: _forget(stale_files))
    return SyncResult(True, synced=len(fetched), refused=refused, reason=reason, next_sync_at=now + sync_every())


def _forget(names: list[str]) -> None:
    for name in names:
        qr.remove(name)


def _state(notice: TuikeNotice, now: datetime, state: str, code, reason: str, next_at) -> SyncResult:
    # Only the state columns: figures stay as the last success left them.
    TuikeNotice.objects.filter(pk=notice.pk).update(
        sync_state=state, last_attempt_at=now, last_errcode=code, last_error=reason[:300],
        failures=notice.failures + 1, next_sync_at=next_at, claimed_at=None)
    return SyncResult(False, reason=reason, next_sync_at=next_at)


def _stop(notice, now, code, reason) -> SyncResult:
    return _state(notice, now, TuikeNotice.STOPPED, code, reason, None)


def _retry(notice, now, code, reason, rng) -> SyncResult:
    return _state(notice, now, TuikeNotice.RETRYING, code, reason, now + backoff(notice.failures + 1, rng))


def resume_stopped(org) -> int:
    """After the account is saved: lives whose sync stopped try again at the next pass."""
    return TuikeNotice.objects.for_org(org).filter(sync_state=TuikeNotice.STOPPED).update(
        sync_state=TuikeNotice.RETRYING, next_sync_at=None, failures=0)
