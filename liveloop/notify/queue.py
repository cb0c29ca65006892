"""What is owed, queued inside the transaction of the fact that owes it (the outbox).

Reminders follow WeChat's preview rule, the same one attribution uses to lapse reservations
(rules.attribution.LAPSE_AFTER): a live that starts within ±1 hour of its announced time
reminds its reservers at once; more than 1 hour late, the reservations lapse and nobody is
reminded; more than 1 hour early, the reminder waits for the announced time. Exactly 1 hour
late still reminds, as it still counts the reservations. A reminder not sent within the hour
after it was due, or before the live ended, expires (`reminder_expiry`, `expire_reminders`).
"""
from datetime import datetime, timezone
from functools import wraps
from zoneinfo import ZoneInfo

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import translation
from django.utils.translation import gettext as _

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import LiveViewer
from liveloop.lib.numbers import yuan
from liveloop.lives.models import Live
from liveloop.notify.models import Notice
from liveloop.promoters.models import Enrolment
from liveloop.rules.attribution import LAPSE_AFTER

SUMMARY_FIGURES = ("reservations", "entered", "buyers", "orders", "gmv", "refunded")


def _in_site_language(queue):
    # The text is fixed when queued; it is for viewers and promoters, not for whichever
    # operator's page language happened to trigger the fact.
    @wraps(queue)
    def wrapped(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return queue(*args, **kwargs)
    return wrapped


def reminder_due(announced_at: datetime, started_at: datetime) -> datetime | None:
    """When reservers are reminded of a live started at `started_at`; None once they lapsed."""
    late = started_at - announced_at
    if late > LAPSE_AFTER:
        return None
    if -late > LAPSE_AFTER:
        return announced_at
    return started_at


def reminder_expiry(announced_at: datetime, started_at: datetime | None,
                    ended_at: datetime | None) -> datetime | None:
    """From when a reminder still unsent is no longer worth sending: one hour after it was due
    (the same ±1 hour as the rule above: "come and watch, it is on" an hour late is noise), or
    the live's end if that comes first (it would call people to a live that is over). None
    while the live has not gone on air. A reminder due exactly at this instant expires."""
    if started_at is None:
        return None
    due = reminder_due(announced_at, started_at) or started_at
    expiry = due + LAPSE_AFTER
    return min(expiry, ended_at) if ended_at is not None else expiry


def live_reminder_expiry(live) -> datetime | None:
    return reminder_expiry(live.announced_at, live.started_at, live.ended_at)


def reminders(live, now: datetime | None = None) -> dict:
    """The live's reminder notices in the outbox: sent (reminded), still owed, given up, expired.

    Reminders still queued once their expiry has come (reminder_expiry) count as
    expired even before a worker has marked them so: with no `liveloop notices` running, an
    ended live's report must not say its reminders are still waiting."""
    # One pass with conditional counts (no GROUP BY's temporary tree): a big live has a notice
    # per reserver, and this is the report's costliest read (docs/performance.md).
    counts = (Notice.objects.for_org(live.org).filter(live=live, kind=Notice.LIVE_REMINDER)
              .aggregate(total=Count("pk"), sent=Count("pk", filter=Q(state=Notice.SENT)),
                         failed=Count("pk", filter=Q(state=Notice.DEAD)),
                         expired=Count("pk", filter=Q(state=Notice.EXPIRED)),
                         queued=Count("pk", filter=Q(state=Notice.QUEUED))))
    pending, expired = counts["total"] - counts["sent"] - counts["failed"] - counts["expired"], counts["expired"]
    expiry = live_reminder_expiry(live)
    if expiry is not None and expiry <= (now or datetime.now(timezone.utc)):
        pending, expired = pending - counts["queued"], expired + counts["queued"]
    return {"sent": counts["sent"], "pending": pending, "failed": counts["failed"], "expired": expired}


def expire_reminders(now: datetime, live=None) -> int:
    """Mark the queued reminders whose expiry has come `expired`; answers how many. One live
    (end_live, inside its transaction) or every live with queued reminders due by now (the
    worker, across organisations). A reminder being sent (`sending`) is left to its worker; a
    second run finds nothing more to expire, so nothing is counted twice."""
    reminders = Notice.objects.filter(kind=Notice.LIVE_REMINDER, state=Notice.QUEUED)
    if live is not None:
        lives = [live]
    else:
        # The due queue only (the partial index notice_due): a reminder not yet due cannot be
        # past an hour after it was due, and one due after the end was expired by end_live.
        ids = reminders.filter(next_attempt_at__lte=now).order_by().values_list("live_id", flat=True).distinct()
        lives = Live.objects.filter(pk__in=list(ids))
    expired = 0
    for candidate in lives:
        expiry = live_reminder_expiry(candidate)
        if expiry is not None and expiry <= now:
            expired += reminders.filter(org_id=candidate.org_id, live=candidate).update(state=Notice.EXPIRED)
    return expired


@_in_site_language
def queue_reminders(live, at: datetime) -> int:
    due = reminder_due(live.announced_at, at)
    if due is None:
        return 0
    payload = _live_payload(live, _("“%(title)s” is live now. Come and watch!") % {"title": live.title})
    return _queue_reservers(live, Notice.LIVE_REMINDER, payload, due)


@_in_site_language
def queue_cancellations(live, reservers, at: datetime) -> int:
    payload = _live_payload(live, _("The live “%(title)s” announced for %(time)s is cancelled.")
                            % {"title": live.title, "time": _local(live, live.announced_at)})
    return _queue(live, Notice.LIVE_CANCELLED, Notice.VIEWER, [(viewer, payload) for viewer in reservers], at)


@_in_site_language
def queue_summaries(live, at: datetime) -> int:
    """One summary per active enrolment, with the promoter's figures as they stand at the end
    (refunds that come later are not in it)."""
    # Reminders not sent by the end (due at it, before it, or waiting for an announced time
    # after it) would call people to a live that is over: they expire with it.
    expire_reminders(at, live)
    stats = {row["promoter"]: row for row in PromoterStats.objects.for_org(live.org)
             .filter(live=live, promoter__isnull=False).values("promoter", *SUMMARY_FIGURES)}
    items = []
    enrolments = (Enrolment.objects.for_org(live.org).filter(programme__live=live, active=True)
                  .select_related("promoter"))
    for enrolment in enrolments:
        promoter = enrolment.promoter
        figures = {name: (stats.get(promoter.pk) or {}).get(name, 0) for name in SUMMARY_FIGURES}
        text = _("“%(title)s” has ended. You brought %(reservations)s reservations, %(entered)s room "
                 "entries and %(orders)s orders worth %(gmv)s (%(refunded)s refunded).") % {
            "title": live.title, **figures, "gmv": yuan(figures["gmv"]), "refunded": yuan(figures["refunded"])}
        payload = {**_live_payload(live, text), "promoter": {"code": promoter.code, "name": promoter.name},
                   "figures": figures}
        # For a webhook receiver that routes by it; the WeCom channel reads the promoter's
        # current id when it sends (channels.wecom_userid).
        if promoter.wecom_userid:
            payload["wecom_userid"] = promoter.wecom_userid
        items.append((promoter.code, payload))
    return _queue(live, Notice.PROMOTER_SUMMARY, Notice.PROMOTER, items, at)


def requeue(org, notice_id: int, now: datetime | None = None) -> bool:
    """An operator's retry of a dead notice: back in the queue with a fresh count of attempts."""
    now = now or datetime.now(timezone.utc)
    return bool(Notice.objects.for_org(org).filter(pk=notice_id, state=Notice.DEAD)
                .update(state=Notice.QUEUED, attempts=0, next_attempt_at=now, last_error=""))


def outbox_counts(org) -> dict:
    """Notices not yet sent, by state, for the operators' page."""
    counts = dict.fromkeys((Notice.QUEUED, Notice.SENDING, Notice.DEAD), 0)
    counts.update(Notice.objects.for_org(org).exclude(state=Notice.SENT).order_by()
                  .values_list("state").annotate(n=Count("pk")))
    return counts


def dead_letters(org):
    return (Notice.objects.for_org(org).filter(state=Notice.DEAD).select_related("live")
            .order_by("-next_attempt_at", "-pk"))




def _queue(live, kind: str, recipient_kind: str, items, due: datetime) -> int:
    # ignore_conflicts: the unique key is what makes a second queueing for the same reason a no-op.
    rows = [Notice(org=live.org, kind=kind, live=live, recipient=recipient, recipient_kind=recipient_kind,
                   payload=payload, next_attempt_at=due) for recipient, payload in items]
    before = Notice.objects.for_org(live.org).filter(live=live, kind=kind).count()
    Notice.objects.bulk_create(rows, ignore_conflicts=True)
    return Notice.objects.for_org(live.org).filter(live=live, kind=kind).count() - before


def _queue_reservers(live, kind: str, payload: dict, due: datetime) -> int:
    """One notice to every viewer holding a reservation for `live`, the same payload for all, as
    one INSERT … SELECT: a live with 100,000 reservers is started by an operator's click, and
    building 100,000 model instances for bulk_create took most of a minute. Conflicts (already
    queued for this reason) are skipped, as `_queue` does."""
    notices, viewers = Notice._meta.db_table, LiveViewer._meta.db_table
    json = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    now = datetime.now(timezone.utc)
    adapt = connection.ops.adapt_datetimefield_value
    before = Notice.objects.for_org(live.org).filter(live=live, kind=kind).count()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {notices} (org_id, kind, live_id, recipient, recipient_kind, payload, state, "
            f"attempts, next_attempt_at, last_error, delivered_to, created_at) "
            f"SELECT org_id, %s, live_id, viewer, %s, {json}, %s, 0, %s, '', {json}, %s FROM {viewers} "
            f"WHERE org_id = %s AND live_id = %s AND reserved "
            f"ON CONFLICT (org_id, kind, live_id, recipient) DO NOTHING",
            [kind, Notice.VIEWER, orjson.dumps(payload).decode(), Notice.QUEUED, adapt(due), "[]",
             adapt(now), live.org_id, live.pk])
    return Notice.objects.for_org(live.org).filter(live=live, kind=kind).count() - before


def _live_payload(live, text: str) -> dict:
    return {"live": {"id": live.public_id, "title": live.title,
                     "announced_at": live.announced_at.isoformat()},
            "text": text}


def _local(live, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(live.org.timezone)).strftime("%Y-%m-%d %H:%M")
