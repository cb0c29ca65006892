"""The outbox worker: claims due notices, delivers them, retries with backoff, gives up into
the dead-letter list.

It is a system process and reads every organisation's queue; each notice goes only through
its own organisation's channels. A notice goes to every enabled channel that can reach its
recipient (not just the first): the webhook and WeCom serve different people, and a brand
that configures two wants both. Channels that accepted it are remembered on the notice, so a
retry after a partial failure repeats none of them.

A claim is a lease (LIVELOOP_NOTICE_LEASE_SECONDS, 10 minutes by default): the worker starts a
channel's send only while the lease has room for it, records each channel's acceptance at
once, and writes only while the row is still its own claim (same `claimed_at`). A row whose
lease ran out goes back to the queue for any worker. So two workers never send one notice at
the same time, and the only repeat left is a worker killed between a channel's 2xx and the
UPDATE that records it: delivery is at least once, and every send carries the notice's
idempotency key (the webhook's `X-Liveloop-Delivery` header, WeCom's duplicate check) so the
receiver applies it once.
"""
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from django.conf import settings
from liveloop.notify.channels import Skipped, deliver, timeout
from liveloop.notify.models import Channel, Notice
from liveloop.notify.queue import expire_reminders

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
BATCH = 100


def lease() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "LIVELOOP_NOTICE_LEASE_SECONDS", 600)))


def channel_budget() -> float:
    """What one channel's send may take at most: WeCom may call gettoken, send, gettoken, send."""
    return 4 * timeout()


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
    expired: int = 0
    errors: list = field(default_factory=list)


def release_stale(now: datetime) -> int:
    """Notices whose lease ran out (a worker that died or ran out of time) go back to the queue."""
    return Notice.objects.filter(state=Notice.SENDING, claimed_at__lte=now - lease()).update(
        state=Notice.QUEUED, claimed_at=None)


def claim(now: datetime, limit: int = BATCH) -> list[Notice]:
    """Due notices this worker now owns. Each row is taken with a conditional UPDATE (queued →
    sending): of two workers that read the same candidates, only one sees its update count."""
    candidates = list(Notice.objects.filter(state=Notice.QUEUED, next_attempt_at__lte=now)
                      .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    mine = [pk for pk in candidates
            if Notice.objects.filter(pk=pk, state=Notice.QUEUED).update(state=Notice.SENDING, claimed_at=now)]
    return list(Notice.objects.filter(pk__in=mine).select_related("org", "live").order_by("pk"))


def _mine(notice: Notice, claimed_at: datetime):
    """The row while it is still this worker's claim: released and claimed again by another
    worker, it carries another claimed_at and every write of ours misses it."""
    return Notice.objects.filter(pk=notice.pk, state=Notice.SENDING, claimed_at=claimed_at)


def send(notice: Notice, now: datetime, started: float | None = None) -> str:
    """Deliver one claimed notice and record the outcome; answers its new state (SENDING when
    the lease ran out or was lost: the row is then no longer ours to write)."""
    started = time.monotonic() if started is None else started
    claimed_at = notice.claimed_at
    channels = list(Channel.objects.for_org(notice.org).filter(enabled=True).order_by("pk"))
    delivered = set(notice.delivered_to)
    reached, errors, skips = bool(delivered), [], []
    for channel in channels:
        if channel.pk in delivered:
            continue
        if time.monotonic() - started + channel_budget() > lease().total_seconds():
            # Not enough lease left to finish a send: hand the rest back rather than risk a
            # second worker sending the same notice alongside this one.
            _mine(notice, claimed_at).update(state=Notice.QUEUED, claimed_at=None)
            return Notice.SENDING
        try:
            deliver(notice, channel)
        except Skipped as reason:
            skips.append(f"{channel.name}: {reason}")
            continue
        except Exception as error:  # noqa: BLE001 - one channel's failure must not stop the loop
            errors.append(str(error) or error.__class__.__name__)
            continue
        delivered.add(channel.pk)
        reached = True
        # Recorded at once: a worker killed later in this notice repeats no channel that
        # already took it.
        if not _mine(notice, claimed_at).update(delivered_to=sorted(delivered)):
            return Notice.SENDING
    notice.delivered_to = sorted(delivered)
    if not errors and reached:
        notice.state, notice.sent_at, notice.last_error = Notice.SENT, now, ""
    else:
        if not errors:
            errors.append("no enabled channel can reach this recipient"
                          + (f" ({'; '.join(skips)})" if skips else ""))
        notice.attempts += 1
        notice.last_error = "; ".join(errors)[:2000]
        if notice.attempts >= max_attempts():
            notice.state = Notice.DEAD
        else:
            notice.state, notice.next_attempt_at = Notice.QUEUED, now + backoff(notice.attempts)
    notice.claimed_at = None
    _mine(notice, claimed_at).update(
        state=notice.state, sent_at=notice.sent_at, last_error=notice.last_error, attempts=notice.attempts,
        next_attempt_at=notice.next_attempt_at, delivered_to=notice.delivered_to, claimed_at=None)
    return notice.state


def process(now: datetime | None = None, limit: int = BATCH) -> Tally:
    now = now or datetime.now(timezone.utc)
    # Expired first, so a reminder whose live is over (or whose hour has passed) is never claimed.
    tally = Tally(released=release_stale(now), expired=expire_reminders(now))
    started = time.monotonic()  # the lease runs from the claim, on this process's own clock
    for notice in claim(now, limit):
        state = send(notice, now, started)
        if state == Notice.SENDING:
            tally.released += 1
        elif state == Notice.SENT:
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
        if handled or tally.released or tally.expired:
            echo(f"sent {tally.sent}, to retry {tally.retried}, dead {tally.dead}, released {tally.released}, "
                 f"expired {tally.expired}")
        for line in tally.errors:
            log.warning("notice gave up: %s", line)
        if once:
            return
        if handled < limit:
            time.sleep(interval)
