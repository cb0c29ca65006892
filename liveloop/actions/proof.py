"""Proof that a mobile number is the promoter's own: a one-time code through the organisation's
notice channel (the outbox: webhook or WeCom application message).

A phone number is no secret (it is on business cards and in group chats), so it only ever says
whose proof to ask for. The code is six digits, lives LIFETIME, takes MAX_ATTEMPTS tries and is
spent once; only its keyed hash is stored (HMAC-SHA256 with SECRET_KEY, salted with the
organisation and the person, so a code is worth nothing for another organisation or number).
The attempts and the spending are conditional UPDATEs, so parallel guesses cannot exceed the
limit and two requests with the right code cannot both use it; a partial unique constraint
keeps at most one open code per person, so requesting codes in parallel multiplies nothing.
Requests for codes are further limited per number and per address (web.ratelimit).
"""
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from liveloop.notify.models import Channel, Notice
from liveloop.promoters.models import ProofCode, Promoter
from liveloop.actions.promoters import find_promoter_by_phone

DIGITS = 6
LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
_CODE = re.compile(rf"\d{{{DIGITS}}}")


def channel_available(org) -> bool:
    """Whether the organisation has a way to send codes at all. Deliberately not whether it can
    reach this person (WeCom needs their user id): that would tell a stranger about them."""
    return Channel.objects.for_org(org).filter(enabled=True).exists()


def _hash(org_id: int, promoter_id: int, code: str) -> str:
    return salted_hmac(f"liveloop.proof.{org_id}.{promoter_id}", code, algorithm="sha256").hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _forget_sent(promoter: Promoter) -> None:
    # The notice carries the code in clear until delivered: once the code is spent or replaced,
    # the outbox keeps no copy of it.
    Notice.objects.for_org(promoter.org_id).filter(kind=Notice.PROOF_CODE, recipient=promoter.code).delete()


def send_code(org, phone: str, live, now: datetime | None = None) -> bool:
    """Queue a fresh code for the promoter with this number (any earlier open code closes).

    False, and nothing queued, when no promoter has the number or the organisation has no
    channel: the caller must answer the same either way, so this says nothing to a stranger.
    """
    now = now or _now()
    promoter = find_promoter_by_phone(org, phone)
    if promoter is None or not channel_available(org):
        return False
    code = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
    try:
        with transaction.atomic():
            # One request at a time per person (PostgreSQL row lock; SQLite serialises writers).
            Promoter.objects.select_for_update().filter(pk=promoter.pk).first()
            ProofCode.objects.for_org(org).filter(promoter=promoter, closed_at__isnull=True).update(closed_at=now)
            _forget_sent(promoter)
            ProofCode.objects.create(org=org, promoter=promoter, code_hash=_hash(org.pk, promoter.pk, code),
                                     expires_at=now + LIFETIME)
            Notice.objects.create(org=org, kind=Notice.PROOF_CODE, live=live, recipient=promoter.code,
                                  recipient_kind=Notice.PROMOTER, next_attempt_at=now,
                                  payload=_payload(org, promoter, phone, code, now))
    except IntegrityError:
        # A parallel request for the same person won the one open slot: its code is on the way.
        return True
    return True


def _payload(org, promoter: Promoter, phone: str, code: str, now: datetime) -> dict:
    with translation.override(settings.LANGUAGE_CODE):
        text = _("Your code for %(brand)s's promoter page is %(code)s. It expires in %(minutes)d minutes. "
                 "Never tell it to anyone, staff included.") % {
            "brand": org.name, "code": code, "minutes": int(LIFETIME.total_seconds() // 60)}
    # The webhook receiver may send it by SMS (it needs the number) or route by the promoter's
    # code; WeCom reads the text and the person's current WeCom user id (notify.channels).
    payload = {"text": text, "code": code, "phone": phone,
               "promoter": {"code": promoter.code, "name": promoter.name},
               "expires_at": (now + LIFETIME).isoformat()}
    if promoter.wecom_userid:
        payload["wecom_userid"] = promoter.wecom_userid
    return payload


def verify(org, phone: str, code: str, now: datetime | None = None) -> ProofCode | None:
    """The open code this number's promoter was sent, when `code` is it; None otherwise (wrong,
    expired, spent, out of tries, or no such promoter: indistinguishable to the caller).

    Every try is counted, right or wrong, before comparing. The code is not spent here: `spend`
    it in the same transaction as what it lets through, so a refusal there leaves it usable.
    """
    now = now or _now()
    code = (code or "").strip()
    promoter = find_promoter_by_phone(org, phone)
    if promoter is None or not _CODE.fullmatch(code):
        return None
    proof = (ProofCode.objects.for_org(org)
             .filter(promoter=promoter, closed_at__isnull=True, expires_at__gt=now).first())
    if proof is None:
        return None
    counted = (ProofCode.objects.filter(pk=proof.pk, closed_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
               .update(attempts=F("attempts") + 1))
    if not counted:
        return None
    if not hmac.compare_digest(proof.code_hash, _hash(org.pk, promoter.pk, code)):
        # The last try used up: the code is closed, a new one must be requested.
        ProofCode.objects.filter(pk=proof.pk, closed_at__isnull=True,
                                 attempts__gte=MAX_ATTEMPTS).update(closed_at=now)
        return None
    proof.promoter = promoter
    return proof


def spend(proof: ProofCode, now: datetime | None = None) -> bool:
    """Use the code up; False when another request already did (only one UPDATE matches)."""
    spent = ProofCode.objects.filter(pk=proof.pk, closed_at__isnull=True).update(closed_at=now or _now())
    if spent:
        _forget_sent(proof.promoter)
    return bool(spent)
