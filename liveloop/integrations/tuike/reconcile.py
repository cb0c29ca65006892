"""WeChat's 推客 counts of a live beside Liveloop's (rules.reconcile), for the live page, the
reconciliation page and its export (docs/decisions.md "Reconciling WeChat's counts").

WeChat's side is what the last sync stored per sharer (TuikeLiveSharer) — reservations through
the sharer's notice QR code or link, and the viewers their shares brought into the room — plus,
for reservations, what earlier notices of the same live counted before the live was relinked
(TuikeNoticeHistory: WeChat starts a new notice from 0, Liveloop keeps its reservations). The
promotion statistics are per live, not per notice, so they carry over by themselves.
Liveloop's side is the promoter row's reservations and entered (analytics.PromoterStats).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from liveloop.analytics.models import PromoterStats
from liveloop.integrations.models import TuikeLiveSharer, TuikeNotice, TuikeNoticeHistory
from liveloop.promoters.models import Promoter
from liveloop.rules.reconcile import Row, reconcile


@dataclass
class LiveReconciliation:
    notice: TuikeNotice | None
    rows: list  # rules.reconcile.Row per promoter, promoters linked to a sharer first
    total: Row
    promoters: dict  # id -> Promoter
    threshold_pct: int
    synced_at: object = None  # the latest sync of WeChat's counts, None when never

    @property
    def flagged(self) -> list:
        return [row for row in self.rows if row.flagged]

    @property
    def known(self) -> bool:
        return self.synced_at is not None


def wechat_counts(live) -> tuple[dict, object]:
    """{promoter id: {"reservations": n, "viewers": n}} from the last sync and the live's earlier
    notices; and when WeChat's counts were last synced."""
    org = live.org
    counts: dict = defaultdict(dict)
    latest = None
    for row in TuikeLiveSharer.objects.for_org(org).filter(live=live, promoter__isnull=False):
        mine = counts[row.promoter_id]
        if row.reservation_count is not None:
            mine["reservations"] = row.reservation_count
        if row.join_user_count is not None:
            mine["viewers"] = row.join_user_count
        if row.synced_at is not None and (latest is None or row.synced_at > latest):
            latest = row.synced_at
    for history in TuikeNoticeHistory.objects.for_org(org).filter(live=live):
        for item in history.counts.values():
            promoter, reserved = item.get("promoter"), item.get("reservations")
            if promoter is not None and reserved is not None:
                counts[promoter]["reservations"] = counts[promoter].get("reservations", 0) + reserved
    return dict(counts), latest


def live_reconciliation(live) -> LiveReconciliation:
    org = live.org
    wechat, synced_at = wechat_counts(live)
    ours = {p: {"reservations": r, "entered": e} for p, r, e in
            PromoterStats.objects.for_org(org).filter(live=live, promoter__isnull=False)
            .values_list("promoter_id", "reservations", "entered")}
    for promoter in wechat:
        ours.setdefault(promoter, {"reservations": 0, "entered": 0})  # a sharer's promoter left the programme
    rows, total = reconcile(wechat, ours, org.reconcile_gap_pct)
    # Those WeChat counted first, the biggest gap at the top: what an operator looks at.
    rows.sort(key=lambda row: (row.key not in wechat, -abs(row.gaps["reservations"].difference or 0), row.key))
    promoters = Promoter.objects.for_org(org).in_bulk(list(ours))
    notice = TuikeNotice.objects.for_org(org).filter(live=live).first()
    return LiveReconciliation(notice, rows, total, promoters, org.reconcile_gap_pct, synced_at)


def flagged_codes(live) -> set[str]:
    """The codes of the promoters of `live` whose WeChat counts differ from Liveloop's above the
    threshold (the promoter table's mark); empty, and nothing else read, when WeChat's counts
    were never synced for the live."""
    if not TuikeLiveSharer.objects.for_org(live.org).filter(live=live).exclude(
            reservation_count=None, join_user_count=None).exists() and \
            not TuikeNoticeHistory.objects.for_org(live.org).filter(live=live).exists():
        return set()
    rec = live_reconciliation(live)
    return {rec.promoters[row.key].code for row in rec.flagged if row.key in rec.promoters}
