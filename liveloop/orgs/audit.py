"""The audit log: one call for every change to money, members, keys and settings."""
from liveloop.orgs.models import AuditEntry


def record(org, user, action: str, target: str = "", **detail) -> AuditEntry:
    actor = user.get_username() if user is not None and user.is_authenticated else "system"
    return AuditEntry.objects.create(org=org, user=user if actor != "system" else None,
                                     actor=actor, action=action, target=str(target)[:120],
                                     detail=detail)


def record_many(org, user, action: str, items) -> None:
    """One entry per (target, detail) in one statement."""
    actor = user.get_username() if user is not None and user.is_authenticated else "system"
    AuditEntry.objects.bulk_create(
        [AuditEntry(org=org, user=user if actor != "system" else None, actor=actor, action=action,
                    target=str(target)[:120], detail=detail) for target, detail in items], batch_size=500)
