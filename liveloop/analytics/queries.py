"""Reads for pages, API and exports: small derived tables only, never a scan of the log."""
from django.db.models import F, Sum

from liveloop.analytics.models import LiveStats, PromoterStats
from liveloop.rules.attribution import FIGURES

SORTABLE = (*FIGURES, "net", "code", "name", "team")


def live_summary(live) -> dict:
    totals = (PromoterStats.objects.for_org(live.org).filter(live=live)
              .aggregate(**{name: Sum(name) for name in FIGURES}))
    figures = {name: totals[name] or 0 for name in FIGURES}
    figures["net"] = figures["gmv"] - figures["refunded"]
    stats = LiveStats.objects.for_org(live.org).get(live=live)
    figures["peak_online"] = stats.peak_online
    figures["reservations_lapsed"] = stats.reservations_lapsed
    return figures


def promoter_rows(live, sort: str = "-reservations", team: str | None = None):
    """One dict per promoter of the live, plus the unattributed row (promoter None) first."""
    field = sort.lstrip("-")
    if field not in SORTABLE:
        raise ValueError(f"sort: one of {', '.join(SORTABLE)} (prefix - for descending)")
    order = {"code": "promoter__code", "name": "promoter__name", "team": "promoter__team__name"}.get(field, field)
    qs = (PromoterStats.objects.for_org(live.org).filter(live=live)
          .annotate(net=F("gmv") - F("refunded"))
          .values("promoter_id", "promoter__code", "promoter__name", "promoter__team__name",
                  "net", *FIGURES))
    if team:
        qs = qs.filter(promoter__team__name=team)
    qs = qs.order_by(f"-{order}" if sort.startswith("-") else order, "promoter__code")
    rows = []
    for row in qs:
        rows.append({"promoter": row["promoter__code"], "name": row["promoter__name"],
                     "team": row["promoter__team__name"],
                     **{name: row[name] for name in (*FIGURES, "net")}})
    rows.sort(key=lambda r: r["promoter"] is not None)  # unattributed first; stable keeps the order
    return rows
