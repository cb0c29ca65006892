"""A live's life: created with its programme; started, ended or cancelled as facts in the log."""
from datetime import datetime, timezone

from django.db import transaction

from liveloop.analytics.models import LiveStats, PromoterStats
from liveloop.events.ingest import apply_events
from liveloop.lives.models import Account, Live, new_public_id
from liveloop.promoters.models import Programme
from liveloop.rules.events import SYSTEM_ID_PREFIX, IncomingEvent


class TransitionError(Exception):
    pass


@transaction.atomic
def create_live(org, *, account: Account, title: str, announced_at: datetime,
                public_id: str | None = None, **programme) -> Live:
    public_id = public_id or _free_public_id()
    live = Live.objects.create(org=org, account=account, title=title, announced_at=announced_at,
                               public_id=public_id)
    Programme.objects.create(org=org, live=live, **programme)
    LiveStats.objects.create(org=org, live=live)
    PromoterStats.objects.create(org=org, live=live, promoter=None)
    return live


def _free_public_id() -> str:
    while True:
        candidate = new_public_id()
        if not Live.objects.filter(public_id=candidate).exists():
            return candidate


def start_live(live: Live, at: datetime | None = None) -> Live:
    return _transition(live, "live_started", at, started_at=True)


def end_live(live: Live, at: datetime | None = None) -> Live:
    return _transition(live, "live_ended", at, ended_at=True)


def cancel_live(live: Live, at: datetime | None = None) -> Live:
    return _transition(live, "live_cancelled", at, cancelled_at=True)


@transaction.atomic
def _transition(live: Live, kind: str, at: datetime | None, **stamp) -> Live:
    at = at or datetime.now(timezone.utc)
    # The announced time travels with the fact so a replay decides the lapse the same way
    # even if the live is rescheduled afterwards.
    event = IncomingEvent(id=f"{SYSTEM_ID_PREFIX}{live.public_id}:{kind}", type=kind, live=live.public_id,
                          viewer="system", promoter=None, order=None, amount=None, count=None,
                          at=at, touchpoint=None,
                          attrs={"announced_at": live.announced_at.isoformat()})
    result = apply_events(live.org, [(0, event)], source="system")
    if result.rejected or not result.accepted:
        reason = result.rejected[0]["error"] if result.rejected else f"the live was already {kind}"
        raise TransitionError(reason)
    field = next(iter(stamp))
    setattr(live, field, at)
    live.refresh_from_db(fields=["state"])
    live.save(update_fields=[field])
    return live
