"""A live's life: created with its programme; started, ended or cancelled as facts in the log."""
from datetime import datetime, timezone

from django.db import transaction

from liveloop.analytics.models import LiveStats, PromoterStats
from liveloop.events.ingest import apply_events
from liveloop.events.models import LiveViewer
from liveloop.lives.models import Account, Live, new_public_id
from liveloop.notify.queue import queue_cancellations, queue_reminders, queue_summaries
from liveloop.promoters.models import JoinCode, Programme
from liveloop.rules.attribution import SCHEDULED
from liveloop.rules.dates import to_utc
from liveloop.rules.events import SYSTEM_ID_PREFIX, IncomingEvent


class TransitionError(Exception):
    pass


@transaction.atomic
def create_live(org, *, account: Account, title: str, announced_at: datetime,
                public_id: str | None = None, preview_url: str = "", **programme) -> Live:
    to_utc(announced_at)  # the boundaries refuse it with a reason; this keeps any other caller out
    public_id = public_id or _free_public_id()
    live = Live.objects.create(org=org, account=account, title=title, announced_at=announced_at,
                               public_id=public_id, preview_url=preview_url)
    programme = Programme.objects.create(org=org, live=live, **programme)
    JoinCode.objects.create(org=org, programme=programme)  # the recruit QR: many people, one code
    LiveStats.objects.create(org=org, live=live)
    PromoterStats.objects.create(org=org, live=live, promoter=None)
    return live


def update_live(live: Live, *, title: str, announced_at: datetime, preview_url: str) -> Live:
    """Edit a preview before it airs. The state and its facts are not touched: a lapse is
    decided from the announced time carried by the live_started event itself."""
    if live.state != SCHEDULED:
        raise TransitionError(f"only a scheduled live can be edited (this one is {live.state})")
    to_utc(announced_at)
    live.title, live.announced_at, live.preview_url = title, announced_at, preview_url
    live.save(update_fields=["title", "announced_at", "preview_url"])
    return live


def _free_public_id() -> str:
    while True:
        candidate = new_public_id()
        if not Live.objects.filter(public_id=candidate).exists():
            return candidate


@transaction.atomic
def start_live(live: Live, at: datetime | None = None) -> Live:
    live = _transition(live, "live_started", at, started_at=True)
    queue_reminders(live, live.started_at)
    return live


@transaction.atomic
def end_live(live: Live, at: datetime | None = None) -> Live:
    live = _transition(live, "live_ended", at, ended_at=True)
    queue_summaries(live, live.ended_at)
    return live


@transaction.atomic
def cancel_live(live: Live, at: datetime | None = None) -> Live:
    """Cancel a preview: reservations reset to zero and every reserver is queued a notice."""
    reservers = list(LiveViewer.objects.for_org(live.org).filter(live=live, reserved=True)
                     .values_list("viewer", flat=True))
    live = _transition(live, "live_cancelled", at, cancelled_at=True)
    queue_cancellations(live, reservers, live.cancelled_at)
    return live


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
