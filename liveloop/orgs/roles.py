"""Who may do what: one table, read by pages and services (issue #8 tests it as a matrix)."""
from liveloop.orgs.models import Member

OWNER, OPERATOR, FINANCE, VIEWER = Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER

PERMISSIONS = {
    "view": {OWNER, OPERATOR, FINANCE, VIEWER},
    "manage_lives": {OWNER, OPERATOR},        # create, cancel, edit programmes, disable promoters
    "export": {OWNER, OPERATOR, FINANCE},
    "manage_members": {OWNER},
    "manage_keys": {OWNER},
    "manage_settings": {OWNER},
    "manage_money": {OWNER, FINANCE},
}


def can(role: str | None, action: str) -> bool:
    return role in PERMISSIONS[action]


def role_of(user, org) -> str | None:
    """The user's role in org. An agency's members hold, in each client brand, the role they
    hold in the agency."""
    member = Member.objects.filter(user=user, org=org).only("role").first()
    if member:
        return member.role
    if org.agency_id:
        member = Member.objects.filter(user=user, org_id=org.agency_id).only("role").first()
        return member.role if member else None
    return None
