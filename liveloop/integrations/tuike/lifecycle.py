"""A live notice cancelled on WeChat and published again: the live moves to the new notice and
keeps its programme (docs/wechat.md "推客: a re-published notice", docs/decisions.md).

On WeChat a cancelled notice is gone with its reservations and reminders; the new notice starts
from 0 and every sharer's QR code and share link are new. In Liveloop nothing of the programme
belongs to the notice: the live, its promoters, their links to sharers, Liveloop's own
reservations and figures stay as they are. Relinking therefore

- keeps what the old notice's sharers had counted (TuikeNoticeHistory, added to the new
  notice's counts by reconciliation), then empties the per-sharer reservation counts and marks
  their QR codes and share links as belonging to the old notice, so the poster and invite page
  stop showing them (links.materials_for only gives the current notice's) and the next sync
  fetches the new ones;
- makes the live due for sync at once and clears its failure state;
- is refused for a notice another live holds (also by the database's unique constraint), for a
  notice this live had before (WeChat does not bring a cancelled notice back), and when the
  live has no notice yet (that is a first link, not a relink).

It is an operator's action: WeChat's notice list says which notices exist, not which one
replaced which, and two lives of a brand can be announced for the same evening.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from liveloop.integrations.models import TuikeLiveSharer, TuikeNotice, TuikeNoticeHistory
from liveloop.integrations.tuike.links import LinkError, clean_notice_id
from liveloop.orgs import audit


@dataclass
class Relinked:
    old: str
    new: str
    sharers: int  # sharers whose QR code and link are fetched again for the new notice
    kept: int     # reservations WeChat had counted under the old notice, kept as history


def relink_notice(live, new_notice_id, user=None, now: datetime | None = None) -> Relinked:
    now = now or datetime.now(timezone.utc)
    new = clean_notice_id(new_notice_id)
    org = live.org
    try:
        with transaction.atomic():
            notice = TuikeNotice.objects.for_org(org).select_for_update().filter(live=live).first()
            if notice is None:
                raise LinkError(_("This live is not linked to a WeChat live notice yet: link it first."))
            old = notice.notice_id
            if new == old:
                raise LinkError(_("The live is already linked to this notice."))
            taken = TuikeNotice.objects.for_org(org).filter(notice_id=new).exclude(pk=notice.pk) \
                .select_related("live").first()
            if taken is not None:
                raise LinkError(_("This notice is already linked to the live “%(title)s”.")
                                % {"title": taken.live.title})
            if TuikeNoticeHistory.objects.for_org(org).filter(live=live, notice_id=new).exists():
                raise LinkError(_("This live was linked to that notice before; WeChat does not bring a "
                                  "cancelled notice back."))
            rows = list(TuikeLiveSharer.objects.for_org(org).select_for_update().filter(live=live)
                        .select_related("sharer"))
            counts = {row.sharer.sharer_appid: {"promoter": row.promoter_id, "reservations": row.reservation_count,
                                                "viewers": row.join_user_count, "shares": row.share_count}
                      for row in rows if row.notice_id == old or not row.notice_id}
            TuikeNoticeHistory.objects.create(org=org, live=live, notice_id=old, replaced_by=new,
                                              replaced_at=now, counts=counts)
            # WeChat's reservation counts start again; the promotion statistics are the live's,
            # not the notice's, and stay. The old QR images stay on disk until the sync replaces
            # them (sync._write removes a replaced image after its commit).
            TuikeLiveSharer.objects.for_org(org).filter(live=live).update(reservation_count=None, synced_at=None)
            notice.notice_id, notice.description, notice.start_time = new, "", None
            notice.sync_state, notice.failures, notice.last_error, notice.last_errcode = TuikeNotice.OK, 0, "", None
            notice.next_sync_at = now  # due at the worker's next pass
            notice.save()
            audit.record(org, user, "tuike.relink", f"live {live.public_id}", old=old, new=new,
                         sharers=len(rows))
    except IntegrityError:  # the new notice linked by someone else between the check and the save
        raise LinkError(_("This live or this notice was linked meanwhile.")) from None
    kept = sum(item["reservations"] or 0 for item in counts.values())
    return Relinked(old, new, len(rows), kept)


def history(live) -> list[TuikeNoticeHistory]:
    return list(TuikeNoticeHistory.objects.for_org(live.org).filter(live=live).order_by("replaced_at", "pk"))
