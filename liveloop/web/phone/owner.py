"""The promoter's own page: whose it is (from the signed link or cookie) and what it shows."""
from dataclasses import dataclass

from django.db.models import Q

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import LiveViewer
from liveloop.integrations.models import WechatIdentity
from liveloop.promoters.links import unsign_enrolment
from liveloop.promoters.models import Enrolment
from liveloop.rules.privacy import mask_viewer

INVITEES_SHOWN = 20


def enrolment_for(signed: str | None) -> Enrolment | None:
    """The enrolment a signed value names, within the organisation it was signed for, while the
    link is not revoked."""
    if not signed:
        return None
    ids = unsign_enrolment(signed)
    if ids is None:
        return None
    enrolment_id, org_id, version = ids
    # The version must be the person's current one: a revoked link opens nothing.
    return (Enrolment.objects.select_related("org", "promoter", "programme__live__account")
            .filter(pk=enrolment_id, org_id=org_id, promoter__link_version=version).first())


@dataclass
class Figures:
    reservations: int = 0
    entered: int = 0
    buyers: int = 0
    net: int = 0  # fen


def figures(enrolment: Enrolment) -> Figures:
    row = (PromoterStats.objects.for_org(enrolment.org)
           .filter(live_id=enrolment.programme.live_id, promoter_id=enrolment.promoter_id)
           .values("reservations", "entered", "buyers", "gmv", "refunded").first())
    if row is None:
        return Figures()
    return Figures(reservations=row["reservations"], entered=row["entered"], buyers=row["buyers"],
                   net=row["gmv"] - row["refunded"])


def invitees(enrolment: Enrolment) -> list[dict]:
    """The latest viewers holding a reservation credited to this promoter, masked.

    Latest by when Liveloop first saw the viewer in this live (the row's id), which for a
    viewer who came through an invite link is when they reserved.
    """
    rows = list(LiveViewer.objects.for_org(enrolment.org)
                .filter(live_id=enrolment.programme.live_id, reserved_for_id=enrolment.promoter_id)
                .order_by("-pk").values("viewer", "entered", "bought")[:INVITEES_SHOWN])
    names = nicknames(enrolment.org, [r["viewer"] for r in rows])
    return [{"viewer": mask_viewer(r["viewer"]), "nickname": names.get(r["viewer"], ""),
             "entered": r["entered"], "bought": r["bought"]} for r in rows]


def nicknames(org, viewers: list[str]) -> dict[str, str]:
    """The nickname WeChat gave (snsapi_userinfo) for each viewer id that is a login's openid
    or unionid; a viewer WeChat gave none for is left out (shown masked)."""
    if not viewers:
        return {}
    found = (WechatIdentity.objects.for_org(org).exclude(nickname="")
             .filter(Q(openid__in=viewers) | Q(unionid__in=viewers))
             .order_by("updated_at").values_list("openid", "unionid", "nickname"))
    names = {}
    for openid, unionid, nickname in found:  # the latest profile wins
        names[openid] = nickname
        if unionid:
            names[unionid] = nickname
    return names


def enrolment_in(programme, promoter) -> Enrolment | None:
    """The promoter's active enrolment in this programme, with what own_page_url needs."""
    return (Enrolment.objects.for_org(programme.org_id).select_related("promoter")
            .filter(programme=programme, promoter=promoter, active=True).first())


def other_enrolments(enrolment: Enrolment) -> list[Enrolment]:
    """The same person's other lives in this organisation, newest first."""
    return list(Enrolment.objects.for_org(enrolment.org)
                .filter(promoter_id=enrolment.promoter_id, active=True)
                .exclude(pk=enrolment.pk)
                .select_related("programme__live", "promoter")
                .order_by("-programme__live__announced_at")[:10])


def money(enrolment: Enrolment) -> dict:
    """What the promoter is owed and was paid (money.ledger.balances, fen), and the lines of
    their statements for this live: the live's commission and what was carried onto them."""
    from liveloop.money.ledger import balances
    from liveloop.money.models import StatementLine

    org, promoter = enrolment.org, enrolment.promoter
    lines = list(StatementLine.objects.for_org(org)
                 .filter(statement__promoter=promoter, statement__run__live_id=enrolment.programme.live_id)
                 .select_related("statement", "entry").order_by("statement_id", "pk"))
    from liveloop.web.money import ENTRY_KINDS
    for line in lines:
        line.shown = ENTRY_KINDS.get(line.entry.kind, line.label) if line.entry_id else line.label
    return {"balances": balances(org, promoter), "lines": lines,
            "statement": lines[0].statement if lines else None}
