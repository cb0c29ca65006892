"""The audit log: one call for every change to money, members, keys and settings."""
from liveloop.orgs.models import AuditEntry


def record(org, user, action: str, target: str = "", **detail) -> AuditEntry:
    actor = user.get_username() if user is not None and user.is_authenticated else "system"
    return AuditEntry.objects.create(org=org, user=user if actor != "system" else None,
                                     actor=actor, action=action, target=str(target)[:120],
                                     detail=detail)
