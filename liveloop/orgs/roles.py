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
    # Promoters' bank accounts and payees in full (the payout file, the statements export);
    # everyone else sees them masked.
    "payee_details": {OWNER, FINANCE},
    # Promoters' legal names and ID numbers in full, entering them and the tax report's export:
    # finance alone, whose work the tax report is (docs/security.md "Tax identities").
    "tax_identity": {FINANCE},
}


def can(role: str | None, action: str) -> bool:
    return role in PERMISSIONS[action]
