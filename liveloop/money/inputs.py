"""What the plan is applied to, read either from the derived tables (ingest, settlement) or
from a replay of the log (`rebuild --check`). Both end in rules.earnings.promoter_figures."""
from __future__ import annotations

from django.db.models import Exists, OuterRef

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import Event, LiveViewer, Order
from liveloop.promoters.models import Promoter, Team as TeamRow
from liveloop.rules import attribution as rules
from liveloop.rules.commission import Team
from liveloop.rules.earnings import OrderRow, promoter_figures


def teams_of(org) -> dict:
    """The organisation's teams as rules.commission.Team (members filled), by id."""
    rows = list(TeamRow.objects.for_org(org).values_list("pk", "leader_id", "parent_id"))
    members: dict = {pk: set() for pk, _, _ in rows}
    for pk, team_id in (Promoter.objects.for_org(org).filter(team__isnull=False)
                        .values_list("pk", "team_id")):
        members[team_id].add(pk)
    return {pk: Team(pk, leader, parent, frozenset(members[pk])) for pk, leader, parent in rows}


def teams_as_json(teams: dict) -> list:
    return [[t.id, t.leader, t.parent, sorted(t.members)] for t in teams.values()]


def teams_from_json(rows) -> dict:
    return {row[0]: Team(row[0], row[1], row[2], frozenset(row[3])) for row in rows}


def team_of(teams: dict) -> dict:
    return {member: team.id for team in teams.values() for member in team.members}


def own_ids(org, promoters) -> dict[int, frozenset]:
    """A promoter's own viewer ids: the shop openid they buy and share with."""
    return {pk: frozenset({openid}) for pk, openid in
            Promoter.objects.for_org(org).filter(pk__in=list(promoters)).exclude(openid="")
            .values_list("pk", "openid")}


def last_seq(org) -> int:
    return (Event.objects.for_org(org).order_by("-seq").values_list("seq", flat=True).first()) or 0


def own_ids_from_json(stored: dict) -> dict[int, frozenset]:
    return {int(p): frozenset(ids) for p, ids in stored.items()}


def stored_figures(org, live, promoters=None, own=None) -> dict:
    """Figures per promoter of `live` from the derived tables; every promoter with a row in
    the live when `promoters` is None. `own`: promoters' own viewer ids, else as they are now."""
    stats = PromoterStats.objects.for_org(org).filter(live=live, promoter__isnull=False)
    orders = Order.objects.for_org(org).filter(live=live, promoter__isnull=False)
    if promoters is not None:
        promoters = list(promoters)
        stats = stats.filter(promoter_id__in=promoters)
        orders = orders.filter(promoter_id__in=promoters)
    counts = {p: (r, e) for p, r, e in stats.values_list("promoter_id", "reservations", "entered")}
    wanted = set(promoters) if promoters is not None else set(counts)
    # Streamed once: a live with a million orders is never held in memory row by row.
    order_rows = (OrderRow(*row) for row in
                  orders.values_list("viewer", "promoter_id", "paid", "refunded").iterator(chunk_size=5000))
    own = own_ids(org, wanted) if own is None else {p: ids for p, ids in own.items() if p in wanted}
    holder = {viewer: p for p, ids in own.items() for viewer in ids}
    own_reserved, own_entered = set(), set()
    for viewer, reserved_for, bound, entered in (
            LiveViewer.objects.for_org(org).filter(live=live, viewer__in=list(holder))
            .values_list("viewer", "reserved_for_id", "bound_id", "entered")):
        if reserved_for == holder[viewer]:
            own_reserved.add(holder[viewer])
        if entered and bound == holder[viewer]:
            own_entered.add(holder[viewer])
    # One index probe (org, viewer) per order rather than reading every earlier order.
    earlier = Order.objects.for_org(org).filter(viewer=OuterRef("viewer"),
                                                live__announced_at__lt=live.announced_at)
    returning = set(orders.filter(Exists(earlier)).values_list("viewer", flat=True).distinct())
    return promoter_figures(wanted, order_rows,
                            {p: c[0] for p, c in counts.items()}, {p: c[1] for p, c in counts.items()},
                            own, own_reserved, own_entered, returning)


def replayed_figures(attribution, live, announced: dict, own: dict) -> dict:
    """The same figures from a replay's state (rules.attribution.Attribution) at some point
    of the log; `announced` maps every live id to its announced time."""
    live_id = live.pk
    counts = {p: (row[rules.RESERVATIONS], row[rules.ENTERED])
              for (l, p), row in attribution.stats.items() if l == live_id and p is not None}
    order_rows = [OrderRow(o.viewer, o.promoter, o.paid, o.refunded)
                  for o in attribution.orders.values() if o.live == live_id and o.promoter is not None]
    holder = {viewer: p for p, ids in own.items() if p in counts for viewer in ids}
    own_reserved, own_entered = set(), set()
    for viewer, p in holder.items():
        state = attribution.viewers.get((live_id, viewer))
        if state is None:
            continue
        if state.reserved_for == p:
            own_reserved.add(p)
        if state.entered and state.bound == p:
            own_entered.add(p)
    buyers = {o.viewer for o in order_rows}
    returning = {o.viewer for o in attribution.orders.values()
                 if o.viewer in buyers and announced[o.live] < announced[live_id]}
    return promoter_figures(set(counts), order_rows, {p: c[0] for p, c in counts.items()},
                            {p: c[1] for p, c in counts.items()},
                            {p: own[p] for p in counts if p in own}, own_reserved, own_entered, returning)
