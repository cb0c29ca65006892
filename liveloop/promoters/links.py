"""The promoter's own-page link: a signed enrolment id and the person's link version, no password.

The same signed value is the link's path segment and the cookie the page sets, so a phone
that opened the link once finds the page again at /me/. The link is a credential: it lives
until the person's link version is raised (an operator re-issues their link, or disables them
in a live: `revoke_links`), and changing SALT (or SECRET_KEY without a fallback) invalidates
every link and cookie at once (the way to rotate them if a batch leaks).
"""
from django.core import signing
from django.db.models import F
from django.urls import reverse

SALT = "liveloop.promoters.own-page.v1"
# Links signed before versions existed carry none: they are version 1, the starting version,
# so they keep working until the person's links are first revoked.
FIRST_VERSION = 1


def _signer() -> signing.Signer:
    # No timestamp: links do not expire by age, and the same enrolment gets the same link
    # until it is revoked.
    return signing.Signer(salt=SALT)


def sign_enrolment(enrolment) -> str:
    return _signer().sign_object({"e": enrolment.pk, "o": enrolment.org_id,
                                  "v": enrolment.promoter.link_version})


def unsign_enrolment(value: str) -> tuple[int, int, int] | None:
    """(enrolment id, org id, link version) or None when the value was not signed by us (or
    tampered). The version still has to match the promoter's current one."""
    try:
        data = _signer().unsign_object(value)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    enrolment_id, org_id, version = data.get("e"), data.get("o"), data.get("v", FIRST_VERSION)
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (enrolment_id, org_id, version)):
        return None
    return enrolment_id, org_id, version


def own_page_url(enrolment) -> str:
    """Relative URL of the promoter's own page for this enrolment (sets the cookie)."""
    return reverse("phone:me_link", args=[sign_enrolment(enrolment)])


def revoke_links(promoter) -> None:
    """Every own-page link and cookie of this person stops working; their new links carry the
    next version. One UPDATE, so two revocations at once both take effect."""
    from liveloop.promoters.models import Promoter
    Promoter.objects.filter(pk=promoter.pk, org_id=promoter.org_id).update(link_version=F("link_version") + 1)
    promoter.refresh_from_db(fields=["link_version"])
