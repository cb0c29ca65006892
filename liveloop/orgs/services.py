from django.contrib.auth import get_user_model
from django.db import transaction

from liveloop.lib.bulk import table
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


# The organisations a user may open, each with the user's role there (own membership, else
# the agency's), in one statement written out in SQL: every page asks for it, the room's data
# block every two seconds, and building this query through the ORM (two correlated subqueries,
# two IN subqueries) cost several times what running it does (docs/performance.md, "The room's
# data request"). A member is unique per (org, user), so each subquery finds at most one row.
def _orgs_sql() -> str:
    member, organisation = table(Member), table(Organisation)
    return f"""
SELECT o.*, COALESCE(
  (SELECT m.role FROM {member} m WHERE m.user_id = %s AND m.org_id = o.id),
  (SELECT m.role FROM {member} m WHERE m.user_id = %s AND m.org_id = o.agency_id)) AS member_role
FROM {organisation} o
WHERE o.id IN (SELECT org_id FROM {member} WHERE user_id = %s)
   OR o.agency_id IN (SELECT org_id FROM {member} WHERE user_id = %s)
ORDER BY o.name
"""


def orgs_of(user) -> list[Organisation]:
    """Organisations a signed-in user may open, by name: their own, and an agency's client brands.

    Each carries `member_role`, the user's role there: their own membership's, else — in an
    agency's client brand — the role they hold in the agency. Every page needs both, so they
    come in one statement: a round trip less on each page, the room's 2-second poll among them
    (docs/performance.md)."""
    if not user.is_authenticated:
        return []
    # raw(): whole instances, the database's values converted as the ORM does (times, booleans).
    return list(Organisation.objects.raw(_orgs_sql(), [user.pk] * 4))
