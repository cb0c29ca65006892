"""The promoter's own-page link: a signed enrolment id, no password.

The same signed value is the link's path segment and the cookie the page sets, so a phone
that opened the link once finds the page again at /me/. Changing SALT invalidates every
link and cookie at once (the way to rotate them if a batch leaks).
"""
from django.core import signing
from django.urls import reverse

SALT = "liveloop.promoters.own-page.v1"


def _signer() -> signing.Signer:
    # No timestamp: links do not expire, and the same enrolment always gets the same link.
    return signing.Signer(salt=SALT)


def sign_enrolment(enrolment) -> str:
    return _signer().sign_object({"e": enrolment.pk, "o": enrolment.org_id})


def unsign_enrolment(value: str) -> tuple[int, int] | None:
    """(enrolment id, org id) or None when the value was not signed by us (or tampered)."""
    try:
        data = _signer().unsign_object(value)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    enrolment_id, org_id = data.get("e"), data.get("o")
    if not isinstance(enrolment_id, int) or not isinstance(org_id, int):
        return None
    return enrolment_id, org_id


def own_page_url(enrolment) -> str:
    """Relative URL of the promoter's own page for this enrolment (sets the cookie)."""
    return reverse("phone:me_link", args=[sign_enrolment(enrolment)])
