"""Lives ↔ WeChat live notices, and 推客 (sharers) ↔ promoters.

A sharer is linked to a promoter only by an operator, or by a bind callback whose unionid is
the promoter's own WeChat login (WechatIdentity, proven by WeChat's web login or code2Session).
WeChat's nickname is chosen by the sharer — anyone can take a promoter's name — so a promoter
of the same name is only offered as a suggestion. One sharer ↔ one promoter per organisation:
two unique constraints; a race between two operators ends in one link and a refusal.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from liveloop.integrations.models import TuikeLiveSharer, TuikeNotice, TuikeSharer, WechatIdentity
from liveloop.promoters.models import Promoter

NOTICE_ID_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # WeChat's ids: printable ASCII, no spaces
SHARER_APPID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BOUND, UNBOUND = 1, 2  # the bind callback's bind_status


class LinkError(ValueError):
    """Why a link was refused, in the page's language."""


def _at(seconds) -> datetime | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds < 2**33:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# -- lives ↔ notices ----------------------------------------------------------------------------

def clean_notice_id(value) -> str:
    notice_id = str(value or "").strip()
    if not NOTICE_ID_RE.match(notice_id):
        raise LinkError(_("A live notice id is 1 to 200 letters, digits or symbols, without spaces."))
    return notice_id


def notice_of(live) -> TuikeNotice | None:
    return TuikeNotice.objects.for_org(live.org).filter(live=live).first()


def link_notice(live, notice_id, *, description: str = "", start_time=None, export_id: str = "") -> TuikeNotice:
    """Link the live to its WeChat live notice; refused when the live has one already or the
    notice is another live's (unique per organisation, also in the database)."""
    notice_id = clean_notice_id(notice_id)
    export_id = str(export_id or "").strip()
    if export_id and not NOTICE_ID_RE.match(export_id):
        raise LinkError(_("A live id is 1 to 200 letters, digits or symbols, without spaces."))
    org = live.org
    if TuikeNotice.objects.for_org(org).filter(live=live).exists():
        raise LinkError(_("This live is already linked to a WeChat live notice: unlink it first."))
    taken = TuikeNotice.objects.for_org(org).filter(notice_id=notice_id).select_related("live").first()
    if taken is not None:
        raise LinkError(_("This notice is already linked to the live “%(title)s”.") % {"title": taken.live.title})
    try:
        with transaction.atomic():
            return TuikeNotice.objects.create(org=org, live=live, notice_id=notice_id,
                                              description=str(description or "")[:200],
                                              start_time=_at(start_time), live_export_id=export_id)
    except IntegrityError:  # linked by someone else between the check and the insert
        raise LinkError(_("This live or this notice was linked meanwhile.")) from None


def set_export_id(notice: TuikeNotice, export_id: str) -> TuikeNotice:
    export_id = str(export_id or "").strip()
    if export_id and not NOTICE_ID_RE.match(export_id):
        raise LinkError(_("A live id is 1 to 200 letters, digits or symbols, without spaces."))
    notice.live_export_id = export_id
    notice.save(update_fields=["live_export_id"])
    return notice


def unlink_notice(live) -> str | None:
    """The notice id unlinked, None when there was none. What was synced stays (with the notice
    id it was for), so the live's history is kept; the poster stops using its QR codes."""
    notice = notice_of(live)
    if notice is None:
        return None
    notice.delete()
    return notice.notice_id


# -- sharers ↔ promoters ------------------------------------------------------------------------

@dataclass
class SharerImport:
    new: int = 0
    seen: int = 0
    skipped: int = 0
    unbound: list[str] = field(default_factory=list)  # known, bound before, missing from the list now


def record_sharers(org, rows: list[dict], now: datetime | None = None) -> SharerImport:
    """The bound-sharer list (get_bind_sharer_list) into TuikeSharer: nickname, avatar, bind time
    and commission refreshed; never a promoter link. Sharers we knew as bound and the list no
    longer has are marked unbound (the 机构 unbound them)."""
    report = SharerImport()
    known = {s.sharer_appid: s for s in TuikeSharer.objects.for_org(org)}
    listed = set()
    with transaction.atomic():
        for row in rows:
            appid = str(row.get("sharer_appid") or "")
            if not SHARER_APPID_RE.match(appid) or appid in listed:
                report.skipped += 1
                continue
            listed.add(appid)
            values = {"nickname": str(row.get("nickname") or "")[:100],
                      "bind_time": _at(row.get("bind_time")), "bound": True,
                      "commission_ratio": _int(row.get("commission_ratio")),
                      "commission_type": _int(row.get("commission_type"), 0, 9)}
            head = str(row.get("head_img_url") or "")
            values["head_img_url"] = head if head.startswith("https://") and len(head) <= 500 else ""
            sharer = known.get(appid)
            if sharer is None:
                TuikeSharer.objects.create(org=org, sharer_appid=appid, source=TuikeSharer.LIST, **values)
                report.new += 1
            else:
                for name, value in values.items():
                    setattr(sharer, name, value)
                sharer.save()
                report.seen += 1
        for appid, sharer in known.items():
            if appid not in listed and sharer.bound:
                sharer.bound = False
                sharer.save(update_fields=["bound", "seen_at"])
                report.unbound.append(appid)
    return report


def _int(value, low: int = 0, high: int = 10**7) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


def suggestions(org) -> dict[int, Promoter]:
    """For each unlinked sharer, the one unlinked promoter whose name equals its nickname: to
    show beside it, for an operator to confirm. Never applied on its own."""
    linked = set(TuikeSharer.objects.for_org(org).filter(promoter__isnull=False).values_list("promoter_id", flat=True))
    by_name: dict[str, list[Promoter]] = {}
    for promoter in Promoter.objects.for_org(org).only("code", "name"):
        if promoter.pk not in linked and promoter.name.strip():
            by_name.setdefault(promoter.name.strip(), []).append(promoter)
    found = {}
    for sharer in TuikeSharer.objects.for_org(org).filter(promoter__isnull=True).exclude(nickname=""):
        namesakes = by_name.get(sharer.nickname.strip(), [])
        if len(namesakes) == 1:
            found[sharer.pk] = namesakes[0]
    return found


def link_sharer(sharer: TuikeSharer, promoter: Promoter, now: datetime | None = None) -> TuikeSharer:
    if sharer.org_id != promoter.org_id:
        raise LinkError(_("Unknown promoter."))
    if sharer.promoter_id == promoter.pk:
        return sharer
    if sharer.promoter_id is not None:
        raise LinkError(_("This 推客 is already linked to another promoter: unlink it first."))
    holder = TuikeSharer.objects.for_org(sharer.org).filter(promoter=promoter).first()
    if holder is not None:
        raise LinkError(_("Promoter %(code)s is already linked to the 推客 %(name)s.")
                        % {"code": promoter.code, "name": holder.nickname or holder.sharer_appid})
    try:
        with transaction.atomic():
            # Conditional: a concurrent link of this sharer leaves nothing to update.
            done = TuikeSharer.objects.for_org(sharer.org).filter(pk=sharer.pk, promoter__isnull=True).update(
                promoter=promoter, linked_at=now or datetime.now(timezone.utc))
    except IntegrityError:  # the promoter was linked to another sharer meanwhile
        raise LinkError(_("This promoter was linked to another 推客 meanwhile.")) from None
    if not done:
        raise LinkError(_("This 推客 was linked meanwhile."))
    sharer.refresh_from_db()
    return sharer


def unlink_sharer(sharer: TuikeSharer) -> Promoter | None:
    promoter = sharer.promoter
    TuikeSharer.objects.for_org(sharer.org).filter(pk=sharer.pk).update(promoter=None, linked_at=None)
    sharer.promoter, sharer.linked_at = None, None
    return promoter


# -- the bind callback --------------------------------------------------------------------------

@dataclass
class BindOutcome:
    sharer: TuikeSharer | None
    applied: bool            # False: stale (older than what we hold) or not a bind event
    linked: Promoter | None = None  # linked by the unionid of the promoter's own WeChat login


def apply_bind(org, message: dict, now: datetime | None = None) -> BindOutcome:
    """One decrypted 推客绑定机构的回调 (Event promoter_bind_result). Applied in CreateTime order:
    a replayed or late older message changes nothing."""
    if message.get("Event") != "promoter_bind_result":
        return BindOutcome(None, False)
    appid = message.get("sharer_appid")
    status = message.get("bind_status")
    created = _at(message.get("CreateTime"))
    if not isinstance(appid, str) or not SHARER_APPID_RE.match(appid) or type(status) is not int \
            or status not in (BOUND, UNBOUND) or created is None:
        raise ValueError("not a promoter_bind_result message")
    openid = _short(message.get("sharer_openid"), 128)
    unionid = _short(message.get("sharer_unionid"), 128)
    with transaction.atomic():
        sharer, _created = TuikeSharer.objects.select_for_update().get_or_create(
            org=org, sharer_appid=appid, defaults={"source": TuikeSharer.CALLBACK, "bound": False})
        if sharer.bind_event_at is not None and created <= sharer.bind_event_at:
            return BindOutcome(sharer, False)
        sharer.bind_event_at = created
        sharer.bound = status == BOUND
        if status == BOUND:
            sharer.bind_time = created
            sharer.sharer_openid = openid or sharer.sharer_openid
            sharer.sharer_unionid = unionid or sharer.sharer_unionid
        sharer.save()
        linked = _link_by_unionid(sharer, now) if status == BOUND else None
    return BindOutcome(sharer, True, linked)


def _short(value, limit: int) -> str:
    return value if isinstance(value, str) and len(value) <= limit else ""


def _link_by_unionid(sharer: TuikeSharer, now) -> Promoter | None:
    """The promoter whose own WeChat login has this unionid, when exactly one does and neither
    side is linked yet. A unionid is WeChat's, across the brand's apps: not a claim."""
    if sharer.promoter_id is not None or not sharer.sharer_unionid:
        return None
    promoters = set(WechatIdentity.objects.for_org(sharer.org).filter(
        unionid=sharer.sharer_unionid, promoter__isnull=False).values_list("promoter_id", flat=True))
    if len(promoters) != 1:
        return None
    promoter = Promoter.objects.for_org(sharer.org).get(pk=promoters.pop())
    try:
        with transaction.atomic():
            link_sharer(sharer, promoter, now)
    except LinkError:
        return None
    return promoter


def materials_for(live, promoter) -> TuikeLiveSharer | None:
    """The promoter's official QR code and share link for the live's current notice, when
    synced (the poster and the invite page use them); None otherwise."""
    notice = notice_of(live)
    if notice is None:
        return None
    return (TuikeLiveSharer.objects.for_org(live.org)
            .filter(live=live, notice_id=notice.notice_id, sharer__promoter=promoter)
            .select_related("sharer").first())
