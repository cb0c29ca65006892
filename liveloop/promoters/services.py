"""Joining a live's programme: one person, one code in the organisation, at most `cap` a live."""
from dataclasses import dataclass

from django.db import transaction

from liveloop.analytics.models import PromoterStats
from liveloop.promoters.models import Enrolment, Programme, Promoter, Team, new_code


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
    existing = None
    if person.code:
        existing = Promoter.objects.for_org(org).filter(code=person.code).first()
    if existing is None and person.phone:
        existing = Promoter.objects.for_org(org).filter(phone=person.phone).first()
    if existing is not None:
        if person.phone and existing.phone and person.phone != existing.phone:
            raise EnrolmentError(f"code {existing.code} belongs to someone with another phone")
        return existing
    code = person.code or _free_code(org)
    return Promoter.objects.create(org=org, code=code, name=person.name, phone=person.phone,
                                   team=team_named(org, person.team))


def _free_code(org) -> str:
    while True:
        code = new_code()
        if not Promoter.objects.for_org(org).filter(code=code).exists():
            return code
