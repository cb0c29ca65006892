"""The reservation made on WeChat Channels through the brand's mini-program (miniprogram/).

The invite page hands the viewer to the mini-program by a URL Link whose query carries a
*ticket*: the live, the promoter's code and the invite page's viewer id, signed by Liveloop (so
the mini-program cannot be pointed at another viewer or promoter). The mini-program reserves
with wx.reserveChannelsLive and reports back with a fresh wx.login code; code2Session turns it
into the mini-program openid (and unionid). A reservation reported as made is a `reservation`
event with `attrs.confirmed` (docs/events.md "Confirmed reservations"), its viewer the ticket's
and `attrs.mp_openid` / `attrs.unionid` linking the ids to one person.
"""
from __future__ import annotations

import hashlib
import logging
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone

from django.core import signing
from django.core.cache import cache

from liveloop.events.ingest import ingest
from liveloop.events.models import Event
from liveloop.integrations.wechat import oauth
from liveloop.integrations.wechat.client import ShopApiError, ShopUnavailable
from liveloop.lives.models import Live
from liveloop.rules import attribution

log = logging.getLogger(__name__)

TICKET_SALT = "liveloop.wechat.mp-ticket.v1"
PAGE = "pages/reserve/reserve"
SOURCE = "wechat_mp"
# A viewer's URL Link is kept a day (it lives 30): each page view does not cost an API call, and
# WeChat lets only the first person who opens a URL Link use it again, so it is per viewer.
LINK_CACHE_SECONDS = 24 * 3600
RESERVED = "reserved"
OUTCOMES = (RESERVED, "failed", "cancelled", "not_reservable")
MAX_QUERY = 1024  # generate_urllink: the query is at most 1024 characters


def sign_ticket(live: Live, code: str, viewer: str) -> str:
    return signing.Signer(salt=TICKET_SALT).sign_object({"o": live.org_id, "l": live.public_id, "p": code,
                                                         "v": viewer}, compress=True)


def read_ticket(value) -> dict | None:
    if not isinstance(value, str) or not value or len(value) > 900:
        return None
    try:
        data = signing.Signer(salt=TICKET_SALT).unsign_object(value)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "lpv"):
        return None
    return data if isinstance(data.get("o"), int) else None


def link_query(apps, live: Live, code: str, viewer: str, entering: bool,
               share: tuple[str, str] | None = None) -> str:
    """What the mini-program's page reads in onLoad (WeChat passes the URL Link's query).
    share: the promoter's (notice id, promoterShareLink) from WeChat's 推客 programme — the page
    passes the link to wx.reserveChannelsLive for that notice, so WeChat counts the
    reservation for the promoter too. Left out when it would make the query too long."""
    query = f"t={sign_ticket(live, code, viewer)}&f={apps.finder_username}"
    if entering:
        query += "&enter=1"
    if share:
        shared = query + "&" + urllib.parse.urlencode({"n": share[0], "s": share[1]})
        if len(shared) <= MAX_QUERY:
            return shared
        log.warning("share link left out of org %s's URL Link: the query would be %s characters",
                    apps.org_id, len(shared))
    return query


def url_link(apps, live: Live, code: str, viewer: str, entering: bool = False,
             share: tuple[str, str] | None = None) -> str | None:
    """The viewer's URL Link into the mini-program, None when WeChat would not give one (the
    caller goes on without it)."""
    shared = hashlib.sha256("\n".join(share).encode()).hexdigest()[:12] if share else "-"
    key = f"mp-link:{apps.org_id}:{apps.mp_appid}:{live.public_id}:{code}:{viewer}:{int(entering)}:{shared}"
    found = cache.get(key)
    if found:
        return found
    try:
        made = oauth.url_link(apps, PAGE, link_query(apps, live, code, viewer, entering, share))
    except (ShopApiError, ShopUnavailable, KeyError) as error:
        log.warning("no URL Link for org %s: %s", apps.org_id, error)
        return None
    cache.set(key, made, LINK_CACHE_SECONDS)
    return made


class ReportError(Exception):
    """A report refused: `field` names what was wrong, for the mini-program's answer."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass
class Reported:
    recorded: bool
    duplicate: bool = False


def report(apps, ticket: dict, js_code: str, outcome: str, now: datetime | None = None) -> Reported:
    """The mini-program's report of wx.reserveChannelsLive. Only a reservation WeChat made is
    recorded; every report spends its code (code2Session), so none is replayed."""
    if outcome not in OUTCOMES:
        raise ReportError("outcome", f"one of {', '.join(OUTCOMES)}")
    live = Live.objects.for_org(apps.org).filter(public_id=ticket["l"]).first()
    if live is None or ticket["o"] != apps.org_id:
        raise ReportError("ticket", "not for a live of this organisation")
    try:
        session = oauth.code2session(apps, js_code)
    except ShopApiError as error:
        raise ReportError("code", f"WeChat refused it ({error.errcode})") from None
    if outcome != RESERVED or live.state not in (attribution.SCHEDULED, attribution.LIVE):
        return Reported(recorded=False)
    now = now or datetime.now(timezone.utc)
    attrs = {"confirmed": True, "mp_openid": session["openid"]}
    if session.get("unionid"):
        attrs["unionid"] = session["unionid"]
    # Keyed by the mini-program openid WeChat vouched for: reporting again is a duplicate.
    event = {"id": f"mp:{live.public_id}:{session['openid']}:reservation", "type": "reservation",
             "live": live.public_id, "viewer": ticket["v"], "promoter": ticket["p"],
             "touchpoint": "mini_program", "at": now.isoformat(), "attrs": attrs}
    result = ingest(apps.org, [event], source=SOURCE, now=now)
    if result.rejected:
        raise ReportError("ticket", result.rejected[0]["error"])
    return Reported(recorded=True, duplicate=bool(result.duplicates))


def confirmed_by_promoter(live: Live) -> dict[int | None, int]:
    """Reservations confirmed on Channels per promoter named by the link (None: not in the
    programme), counted from the log: one per person. The mini-program's event ids share a
    prefix, so the log's (org, eid) index finds them without a scan."""
    prefix = f"mp:{live.public_id}:"
    rows = (Event.objects.for_org(live.org)
            .filter(eid__gte=prefix, eid__lt=prefix[:-1] + ";", type="reservation", source=SOURCE)
            .values_list("promoter_id", "person", "viewer"))
    persons: dict[int | None, set[str]] = {}
    for promoter_id, person, viewer in rows:
        persons.setdefault(promoter_id, set()).add(person or viewer)
    return {promoter_id: len(ids) for promoter_id, ids in persons.items()}
