"""The 推客 sync on a schedule: every linked live that is not over is synced every
LIVELOOP_TUIKE_SYNC_MINUTES (15), a failed one at its backoff time, a stopped one not at all.

Any number of workers may run: a live is claimed by a conditional UPDATE (claimed_at), so two
never sync the same live at once; a claim older than STALE (a dead worker) is taken over.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.db.models import Q

from liveloop.integrations.models import TuikeNotice
from liveloop.integrations.tuike.sync import sync_live
from liveloop.rules import attribution

STALE = timedelta(minutes=10)
KEEP_AFTER_END = timedelta(days=3)  # late reservations and statistics settle within days


@dataclass
class Outcome:
    synced: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.synced + self.failed


def due(now: datetime):
    return (TuikeNotice.objects
            .filter(sync_state__in=(TuikeNotice.OK, TuikeNotice.RETRYING))
            .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE))
            .exclude(live__state=attribution.CANCELLED)
            .filter(Q(live__ended_at__isnull=True) | Q(live__ended_at__gte=now - KEEP_AFTER_END)))


def claim(notice: TuikeNotice, now: datetime) -> bool:
    """Take the live for one sync, whatever its schedule (the live page's button): False when a
    worker or another click holds it."""
    return bool(TuikeNotice.objects.filter(pk=notice.pk).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE)).update(claimed_at=now))


def process(limit: int = 20, now: datetime | None = None, client_options: dict | None = None) -> Outcome:
    now = now or datetime.now(timezone.utc)
    outcome = Outcome()
    for pk in list(due(now).order_by("next_sync_at", "pk").values_list("pk", flat=True)[:limit]):
        claimed = due(now).filter(pk=pk).update(claimed_at=now)
        if not claimed:  # another worker took it
            continue
        result = sync_live(TuikeNotice.objects.get(pk=pk), now=now, client_options=client_options)
        if result.ok:
            outcome.synced += 1
        else:
            outcome.failed += 1
    return outcome
