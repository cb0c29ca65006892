"""Joining a live's programme: one person, one code in the organisation, at most `cap` a live."""
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from django.db import transaction

from liveloop.analytics.models import PromoterStats
from liveloop.promoters.links import revoke_links
from liveloop.promoters.models import Enrolment, JoinCode, Programme, Promoter, Team, new_code, phone_match
from liveloop.rules.phones import canonical_phone

MAX_INVITE_CODES = 50  # one request's worth of one-person codes: a page of QR codes to hand out


class EnrolmentError(Exception):
    pass


@dataclass
class NewPromoter:
    name: str
    phone: str = ""
    team: str = ""
    code: str = ""


def team_named(org, name: str) -> Team | None:
    if not name:
        return None
    team, _ = Team.objects.get_or_create(org=org, name=name)
    return team


@transaction.atomic
def enrol(programme: Programme, people: list[NewPromoter]) -> list[Promoter]:
    """Enrol each person (an existing promoter when the code or phone is known, else a new one).

    All or nothing: a programme without room for everyone enrols no one.
    """
    org = programme.org
    # Lock the programme row so two joins cannot both take the last place.
    programme = Programme.objects.select_for_update().get(pk=programme.pk)
    if not programme.is_open:
        raise EnrolmentError("recruiting is closed for this live")
    promoters = []
    for person in people:
        promoter = _find_or_create(org, person)
        if not Enrolment.objects.filter(org=org, programme=programme, promoter=promoter).exists():
            if programme.enrolments.count() >= programme.cap:
                raise EnrolmentError(f"the programme is full ({programme.cap} promoters)")
            Enrolment.objects.create(org=org, programme=programme, promoter=promoter)
            PromoterStats.objects.create(org=org, live_id=programme.live_id, promoter=promoter)
        promoters.append(promoter)
    return promoters


def _find_or_create(org, person: NewPromoter) -> Promoter:
    # Every way in (the join form, the API, an import) stores one form of a number, so the same
    # person typed as "+86 138…" and "138…" is one promoter, not two.
    person = replace(person, phone=canonical_phone(person.phone))
    existing = None
    if person.code:
        existing = Promoter.objects.for_org(org).filter(code=person.code).first()
    if existing is None and person.phone:
        existing = find_promoter_by_phone(org, person.phone)
    if existing is not None:
        if person.phone and existing.phone and person.phone != existing.phone:
            raise EnrolmentError(f"code {existing.code} belongs to someone with another phone")
        return existing
    code = person.code or _free_code(org)
    return Promoter.objects.create(org=org, code=code, name=person.name, phone=person.phone,
                                   team=team_named(org, person.team))


def find_promoter_by_phone(org, phone: str) -> Promoter | None:
    """The organisation's promoter with this (normalised) mobile number: the one place a phone
    is looked up, so how phones are stored can change here alone."""
    phone = canonical_phone(phone)
    if not phone:
        return None
    return Promoter.objects.for_org(org).filter(phone_match(org, phone)).first()


def _free_code(org) -> str:
    while True:
        code = new_code()
        if not Promoter.objects.for_org(org).filter(code=code).exists():
            return code


def recruit_code(programme: Programme) -> JoinCode:
    """The programme's recruit QR code (多人码); made here for a live created before codes existed."""
    code = (JoinCode.objects.filter(programme=programme, single_use=False, revoked_at__isnull=True)
            .order_by("pk").first())
    return code or JoinCode.objects.create(org=programme.org, programme=programme)


def set_recruiting(programme: Programme, is_open: bool) -> Programme:
    """Close or reopen recruiting: a closed programme's join links answer "closed"."""
    Programme.objects.filter(pk=programme.pk).update(is_open=is_open)
    programme.is_open = is_open
    return programme


@transaction.atomic
def set_active(enrolment: Enrolment, active: bool) -> Enrolment:
    """Disable or re-enable a promoter in one live. A disabled promoter keeps past credit and
    their place against the cap; events naming their code from now on are not credited to them."""
    if enrolment.active != active:
        enrolment.active = active
        enrolment.disabled_at = None if active else datetime.now(timezone.utc)
        enrolment.save(update_fields=["active", "disabled_at"])
        if not active:
            # Someone is removed for a reason (left the brand, lost the phone, abused the link):
            # the links they hold, to this live and their others, stop working at once. Their
            # other lives' pages come back with a link the operator re-issues.
            revoke_links(enrolment.promoter)
    return enrolment


def reissue_links(promoter: Promoter) -> Promoter:
    """The operator's "re-issue link": the person's old links and cookies, to every live they
    joined, stop working, and the programme and promoter pages show the new links to send them."""
    revoke_links(promoter)
    return promoter


@transaction.atomic
def create_invite_codes(programme: Programme, count: int) -> list[JoinCode]:
    """`count` one-person codes (单人码): each lets the first person who joins with it in."""
    if not 1 <= count <= MAX_INVITE_CODES:
        raise EnrolmentError(f"between 1 and {MAX_INVITE_CODES} codes at a time")
    return [JoinCode.objects.create(org=programme.org, programme=programme, single_use=True)
            for _ in range(count)]


def revoke_invite_code(code: JoinCode) -> JoinCode:
    """Withdraw an unused one-person code; a used one already did its job and stays as a record."""
    revoked = (JoinCode.objects.filter(pk=code.pk, single_use=True, used_by__isnull=True,
                                       used_at__isnull=True, revoked_at__isnull=True)
               .update(revoked_at=datetime.now(timezone.utc)))
    code.refresh_from_db()
    if not revoked and code.revoked_at is None:
        raise EnrolmentError("only an unused one-person code can be revoked")
    return code
