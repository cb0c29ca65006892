"""Joining a live's programme by its recruit QR or a one-person code (the promoter's phone)."""
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from liveloop.promoters.models import Enrolment, JoinCode, Programme, Promoter, Team
from liveloop.actions.promoters import EnrolmentError, NewPromoter, enrol, find_promoter_by_phone
from liveloop.rules import attribution



class JoinError(Exception):
    """Why a join was refused; `reason` picks the page and its status."""
    FULL, CLOSED, CODE_USED = "full", "closed", "code_used"
    # The number belongs to a promoter and whoever typed it has not proven to be them.
    PROOF_NEEDED = "proof_needed"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Joined:
    enrolment: Enrolment
    promoter: Promoter


def join_code_for(token: str) -> JoinCode | None:
    """The live, unrevoked code behind a join link; a used one-person code is still returned
    so the page can say it was used rather than that it never existed."""
    return (JoinCode.objects.select_related("programme__live__account", "org")
            .filter(token=token, revoked_at__isnull=True).first())


def teams_of(org):
    return Team.objects.for_org(org).order_by("name_pinyin", "name")


def check_open(code: JoinCode) -> None:
    """Refusals that do not depend on who is joining, so the form is not even shown."""
    if code.single_use and code.used_at is not None:
        raise JoinError(JoinError.CODE_USED)
    programme, live = code.programme, code.programme.live
    if not programme.is_open or live.state in (attribution.ENDED, attribution.CANCELLED):
        raise JoinError(JoinError.CLOSED)
    if programme.enrolments.count() >= programme.cap:
        raise JoinError(JoinError.FULL)


@transaction.atomic
def join(code: JoinCode, *, name: str, phone: str, team: Team | None, proven: Promoter | None = None) -> Joined:
    """Enrol the person behind this phone in the code's programme and use up a one-person code.

    The phone identifies the person across the organisation's lives, but it is no secret: a
    known phone is let in (reusing that promoter and their code) only when `proven` is that
    promoter (their own-page cookie, or a one-time code they received). Otherwise the refusal
    is PROOF_NEEDED, the same whether or not they are in this programme, and nothing is written.
    A proven promoter already in the programme gets their enrolment back, even when recruiting
    has closed since: it is their own page.
    """
    org = code.org
    # Lock the code first: two people racing on one single-use code must not both get in.
    code = JoinCode.objects.select_for_update().select_related("programme__live").get(pk=code.pk)
    programme = Programme.objects.select_for_update().get(pk=code.programme_id)
    code.programme = programme
    existing = find_promoter_by_phone(org, phone)
    if existing is not None:
        if proven is None or proven.pk != existing.pk:
            raise JoinError(JoinError.PROOF_NEEDED)
        enrolled = Enrolment.objects.for_org(org).filter(programme=programme, promoter=existing).first()
        if enrolled is not None:
            return Joined(enrolment=enrolled, promoter=existing)
    check_open(code)
    try:
        promoter, = enrol(programme, [NewPromoter(name=name, phone=phone, team=team.name if team else "")])
    except EnrolmentError as error:
        # check_open ran under the same lock, so only a rule enrol() adds later lands here.
        raise JoinError(JoinError.CLOSED) from error
    enrolment = Enrolment.objects.for_org(org).get(programme=programme, promoter=promoter)
    if code.single_use:
        code.used_by, code.used_at = promoter, timezone.now()
        code.save(update_fields=["used_by", "used_at"])
    return Joined(enrolment=enrolment, promoter=promoter)
