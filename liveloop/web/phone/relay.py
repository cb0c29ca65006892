"""The viewer page behind a promoter's invite link: which live, whose link, and the reservation."""
import re
import secrets
from datetime import datetime, timezone

from django.core import signing

from liveloop.events.ingest import ingest
from liveloop.lives.models import Live
from liveloop.promoters.models import Enrolment
from liveloop.rules import attribution

VIEWER_COOKIE = "ll_viewer"
# A WeChat openid is 28 characters of this alphabet; the bound keeps the event id within 128.
_VIEWER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def invite_of(live_id: str, code: str) -> tuple[Live, Enrolment] | None:
    """The live and the active enrolment a link names; None for anything unknown or foreign."""
    live = Live.objects.select_related("org", "account").filter(public_id=live_id).first()
    if live is None:
        return None
    enrolment = (Enrolment.objects.for_org(live.org).select_related("promoter")
                 .filter(programme__live=live, promoter__code=code, active=True).first())
    if enrolment is None:
        return None
    return live, enrolment


def valid_viewer(value: str | None) -> str | None:
    return value if value and _VIEWER_ID.fullmatch(value) else None


# A viewer id in the link is a claim anyone can type (`?openid=victim`): it is taken only when
# Liveloop signed it, for this live, in a link it sent itself to a viewer it knows. Changing the
# salt voids every such link.
VIEWER_SALT = "liveloop.relay.viewer.v1"


def sign_viewer(live: Live, viewer: str) -> str:
    """The `openid` value of an invite link Liveloop sends to a viewer it already knows."""
    if valid_viewer(viewer) is None:
        raise ValueError("not a viewer id")
    return signing.Signer(salt=VIEWER_SALT).sign_object({"v": viewer, "o": live.org_id, "l": live.public_id})


def proven_viewer(value: str | None, live: Live) -> str | None:
    """The viewer id a signed `openid` value carries, if it was signed for this very live (and its
    organisation); None for anything else: unsigned, tampered, or signed for another live."""
    if not value or len(value) > 400:
        return None
    try:
        data = signing.Signer(salt=VIEWER_SALT).unsign_object(value)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict) or data.get("o") != live.org_id or data.get("l") != live.public_id:
        return None
    return valid_viewer(data.get("v")) if isinstance(data.get("v"), str) else None


def linked_ids(identity) -> dict:
    """The other ids a WeChat login says its viewer has: the unionid when the official account
    is bound to an open platform (docs/events.md "One person, many ids")."""
    if identity is None or not identity.unionid or identity.unionid == identity.openid:
        return {}
    return {"unionid": identity.unionid}


def new_viewer() -> str:
    return secrets.token_urlsafe(18)


# The viewer cookie is signed: a browser that sets it to someone's openid (a claim, like
# `?openid=victim`) does not reserve in their name. Cookies set before it was signed hold one of
# new_viewer()'s ids, 24 characters: those are still taken, an openid (28) never.
COOKIE_SALT = "liveloop.relay.viewer-cookie.v1"
_ISSUED = re.compile(r"[A-Za-z0-9_-]{24}")


def viewer_cookie(viewer: str) -> str:
    return signing.Signer(salt=COOKIE_SALT).sign(viewer)


def cookie_viewer(value: str | None) -> str | None:
    """The viewer id in the browser's cookie, when Liveloop issued it; None otherwise."""
    if not value or len(value) > 200:
        return None
    try:
        return valid_viewer(signing.Signer(salt=COOKIE_SALT).unsign(value))
    except signing.BadSignature:
        return value if _ISSUED.fullmatch(value) else None


def can_reserve(live: Live) -> bool:
    return live.state in (attribution.SCHEDULED, attribution.LIVE)


def reserve(live: Live, code: str, viewer: str, now: datetime | None = None, attrs: dict | None = None):
    """Record the viewer's reservation through this promoter's link.

    The id is the same for every attempt by this viewer on this live, so a second tap is a
    duplicate and changes nothing. `attrs`: the device and network keys (phone.signals).
    """
    now = now or datetime.now(timezone.utc)
    event = {"id": f"relay:{live.public_id}:{viewer}:reservation", "type": "reservation",
             "live": live.public_id, "viewer": viewer, "promoter": code, "touchpoint": "personal",
             "at": now.isoformat()}
    if attrs:
        event["attrs"] = attrs
    return ingest(live.org, [event], source="relay", now=now)
