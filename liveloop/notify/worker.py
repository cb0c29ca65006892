"""The outbox worker: claims due notices, delivers them, retries with backoff, gives up into
the dead-letter list.

It is a system process and reads every organisation's queue; each notice goes only through
its own organisation's channels. A notice goes to every enabled channel that can reach its
recipient (not just the first): the webhook and WeCom serve different people, and a brand
that configures two wants both. Channels that accepted it are remembered on the notice, so a
retry after a partial failure repeats none of them. Delivery is at least once: a worker that
dies between a channel's 2xx and marking the notice leaves it to be sent again after
STALE_AFTER, which is why the webhook body carries the notice id for the receiver to drop repeats.
"""
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from django.conf import settings
from liveloop.notify.channels import SKIPPED, deliver
from liveloop.notify.models import Channel, Notice

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
STALE_AFTER = timedelta(minutes=10)  # far beyond a batch: channels time out after 5 s each
BATCH = 100


def max_attempts() -> int:
    return int(getattr(settings, "LIVELOOP_NOTICE_MAX_ATTEMPTS", 8))


def backoff(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, never more than an hour."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


@dataclass
class Tally:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0
    errors: list = field(default_factory=list)


def release_stale(now: datetime) -> int:
    """Notices claimed by a worker that stopped mid-batch go back to the queue."""
    return Notice.objects.filter(state=Notice.SENDING, claimed_at__lte=now - STALE_AFTER).update(
        state=Notice.QUEUED, claimed_at=None)


def claim(now: datetime, limit: int = BATCH) -> list[Notice]:
    """Due notices this worker now owns. Each row is taken with a conditional UPDATE (queued →
    sending): of two workers that read the same candidates, only one sees its update count."""
    candidates = list(Notice.objects.filter(state=Notice.QUEUED, next_attempt_at__lte=now)
                      .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    mine = [pk for pk in candidates
            if Notice.objects.filter(pk=pk, state=Notice.QUEUED).update(state=Notice.SENDING, claimed_at=now)]
    return list(Notice.objects.filter(pk__in=mine).select_related("org", "live").order_by("pk"))


def send(notice: Notice, now: datetime) -> str:
    """Deliver one claimed notice and record the outcome; answers its new state."""
    channels = list(Channel.objects.for_org(notice.org).filter(enabled=True).order_by("pk"))
    delivered = set(notice.delivered_to)
    reached, errors = bool(delivered), []
    for channel in channels:
        if channel.pk in delivered:
            continue
        try:
            outcome = deliver(notice, channel)
        except Exception as error:  # noqa: BLE001 - one channel's failure must not stop the loop
            errors.append(str(error) or error.__class__.__name__)
            continue
        if outcome != SKIPPED:
            delivered.add(channel.pk)
            reached = True
    notice.delivered_to = sorted(delivered)
    if not errors and reached:
        notice.state, notice.sent_at, notice.last_error = Notice.SENT, now, ""
    else:
        if not errors:
            errors.append("no enabled channel can reach this recipient")
        notice.attempts += 1
        notice.last_error = "; ".join(errors)[:2000]
        if notice.attempts >= max_attempts():
            notice.state = Notice.DEAD
        else:
            notice.state, notice.next_attempt_at = Notice.QUEUED, now + backoff(notice.attempts)
    notice.claimed_at = None
    # Only while still ours: a row released as stale and claimed by another worker is theirs now.
    Notice.objects.filter(pk=notice.pk, state=Notice.SENDING).update(
        state=notice.state, sent_at=notice.sent_at, last_error=notice.last_error, attempts=notice.attempts,
        next_attempt_at=notice.next_attempt_at, delivered_to=notice.delivered_to, claimed_at=None)
    return notice.state


def process(now: datetime | None = None, limit: int = BATCH) -> Tally:
    now = now or datetime.now(timezone.utc)
    tally = Tally(released=release_stale(now))
    for notice in claim(now, limit):
        state = send(notice, now)
        if state == Notice.SENT:
            tally.sent += 1
        elif state == Notice.DEAD:
            tally.dead += 1
            tally.errors.append(f"notice {notice.pk}: {notice.last_error}")
        else:
            tally.retried += 1
    return tally


def run(*, once: bool = False, limit: int = BATCH, interval: float = 5.0, echo=print) -> None:
    """The `liveloop notices` loop: batches back to back while the queue is full, a pause
    when it is not."""
    while True:
        tally = process(limit=limit)
        handled = tally.sent + tally.retried + tally.dead
        if handled or tally.released:
            echo(f"sent {tally.sent}, to retry {tally.retried}, dead {tally.dead}, released {tally.released}")
        for line in tally.errors:
            log.warning("notice gave up: %s", line)
        if once:
            return
        if handled < limit:
            time.sleep(interval)
