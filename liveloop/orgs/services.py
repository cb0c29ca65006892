from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from liveloop.orgs.models import ApiKey, Member, Organisation


@transaction.atomic
def create_org(name: str, *, slug: str | None = None, kind: str = Organisation.BRAND,
               agency: Organisation | None = None) -> tuple[Organisation, str]:
    """A new organisation and its first API key (returned once, never stored in clear)."""
    org = Organisation.objects.create(name=name, slug=slug or Organisation.unique_slug(name),
                                      kind=kind, agency=agency)
    _, key = ApiKey.issue(org, "default")
    return org, key


def add_member(org: Organisation, username: str, role: str, password: str | None = None) -> Member:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if password is not None:
        user.set_password(password)
        user.save()
    elif created:
        user.set_unusable_password()
        user.save()
    member, _ = Member.objects.update_or_create(org=org, user=user, defaults={"role": role})
    return member


def orgs_of(user):
    """Organisations a signed-in user may open: their own, and an agency's client brands.

    Each carries `member_role`, the user's role there: their own membership's, else — in an
    agency's client brand — the role they hold in the agency. Every page needs both, so they
    come in one statement: a round trip less on each page, the room's 2-second poll among them
    (docs/performance.md)."""
    if not user.is_authenticated:
        return Organisation.objects.none()
    memberships = Member.objects.filter(user=user)
    own_role = memberships.filter(org=OuterRef("pk")).values("role")[:1]
    agency_role = memberships.filter(org=OuterRef("agency_id")).values("role")[:1]
    mine = memberships.values("org_id")
    return (Organisation.objects.filter(Q(pk__in=mine) | Q(agency_id__in=mine))
            .annotate(member_role=Coalesce(Subquery(own_role), Subquery(agency_role)))
            .order_by("name"))
