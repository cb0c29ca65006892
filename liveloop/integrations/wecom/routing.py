"""After a live, send each viewer to the WeCom contact code of whoever earned them: the
promoter (guide) they are bound to in that live, else that promoter's team (store), else the
brand. The link carries the viewer id signed, so it can be neither guessed nor altered."""
from __future__ import annotations

from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from liveloop.events.models import LiveViewer
from liveloop.integrations.models import ContactWay
from liveloop.lives.models import Live
from liveloop.promoters.models import Promoter

SALT = "liveloop.wecom.route"


def contact_for(org, live, viewer: str) -> ContactWay | None:
    """The binding is read as stored (LiveViewer.bound, else the promoter the reservation was
    credited to); an expired binding still names the promoter who brought the viewer."""
    ways = ContactWay.objects.for_org(org)
    standing = (LiveViewer.objects.for_org(org).filter(live=live, viewer=viewer)
                .values_list("bound_id", "reserved_for_id").first())
    promoter_id = (standing[0] or standing[1]) if standing else None
    if promoter_id is not None:
        way = ways.filter(kind=ContactWay.PROMOTER, promoter_id=promoter_id).first()
        if way is not None:
            return way
        team_id = (Promoter.objects.for_org(org).filter(pk=promoter_id)
                   .values_list("team_id", flat=True).first())
        if team_id is not None:
            way = ways.filter(kind=ContactWay.TEAM, team_id=team_id).first()
            if way is not None:
                return way
    return ways.filter(kind=ContactWay.BRAND).first()


def sign_viewer(live, viewer: str) -> str:
    # The live is inside the signature: a link made for one live opens no other.
    return signing.dumps([live.public_id, viewer], salt=SALT, compress=True)


def route_link(live, viewer: str) -> str:
    """The path to give a viewer of `live` (prefix the site's origin to share it)."""
    return reverse("wecom:route", args=[live.public_id, sign_viewer(live, viewer)])


def route(request, live_public_id: str, signed: str):
    try:
        signed_live, viewer = signing.loads(signed, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise Http404("bad link") from None
    if signed_live != live_public_id:
        raise Http404("bad link")
    live = Live.objects.select_related("org").filter(public_id=live_public_id).first()
    if live is None:
        raise Http404("unknown live")
    way = contact_for(live.org, live, viewer)
    if way is not None:
        return HttpResponseRedirect(way.qr_url)
    page = format_html(
        '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{}</title></head><body><main><h1>{}</h1><p>{}</p></main></body></html>",
        _("Thank you for watching"), _("Thank you for watching"),
        _("There is no contact code to add yet. Please check back later."))
    return HttpResponse(page)
