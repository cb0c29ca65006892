"""What the plan is applied to, read either from the derived tables (ingest, settlement:
summed by the database) or from a replay of the log (`rebuild --check`: rules.earnings), two
computations of one definition that the check holds against each other."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, Sum

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import Event, LiveViewer, Order
from liveloop.events.own_ids import own_ids  # noqa: F401  (money's callers ask money.inputs)
from liveloop.promoters.models import Promoter, Team as TeamRow
from liveloop.rules import attribution as rules
from liveloop.rules.commission import PromoterFigures, Team
from liveloop.rules.earnings import OrderRow, promoter_figures, wechat_part


def teams_of(org, only=None) -> dict:
    """The organisation's teams as rules.commission.Team (members filled), by id. With `only`
    (promoter ids), members are filled only among those and the teams' leaders: enough to
    find whose pay they move and to pay overrides on team_totals, without reading every
    member of every team each ingest batch."""
    rows = list(TeamRow.objects.for_org(org).values_list("pk", "leader_id", "parent_id"))
    members: dict = {pk: set() for pk, _, _ in rows}
    promoters = Promoter.objects.for_org(org).filter(team__isnull=False)
    if only is not None:
        promoters = promoters.filter(pk__in=list({*only, *(leader for _, leader, _ in rows if leader)}))
    for pk, team_id in promoters.values_list("pk", "team_id"):
        members[team_id].add(pk)
    return {pk: Team(pk, leader, parent, frozenset(members[pk])) for pk, leader, parent in rows}


def teams_as_json(teams: dict) -> list:
    return [[t.id, t.leader, t.parent, sorted(t.members)] for t in teams.values()]


def teams_from_json(rows) -> dict:
    return {row[0]: Team(row[0], row[1], row[2], frozenset(row[3])) for row in rows}


def team_of(teams: dict) -> dict:
    return {member: team.id for team in teams.values() for member in team.members}


def last_seq(org) -> int:
    events = Event.objects.for_org(org)
    if connection.vendor == "sqlite":
        # Through the (org, eid) index SQLite reads all the organisation's events and sorts
        # them, every ingest batch; walking the table back from its end (org_id + 0 cannot use
        # the index) stops at the organisation's latest, the very last row after its ingest.
        events = Event.objects.alias(org_key=F("org_id") + 0).filter(org_key=org.pk)
    return events.order_by("-seq").values_list("seq", flat=True).first() or 0


def own_ids_from_json(stored: dict) -> dict[int, frozenset]:
    return {int(p): frozenset(ids) for p, ids in stored.items()}


def stored_figures(org, live, promoters=None, own=None, new_buyers=True) -> dict:
    """Figures per promoter of `live` from the derived tables; every promoter with a row in
    the live when `promoters` is None. `own`: promoters' own viewer ids, else as they are now.
    New buyers are counted for the promoters in `new_buyers` (True: all; False: none — a plan
    without that bounty does not need them, and a team member's override base needs only net).

    The same figures as rules.earnings.promoter_figures (which a replay uses, and which
    `rebuild --check` compares with these), summed by the database: ingest calls this after
    every batch for the promoters whose pay it moved, and reading their orders row by row would
    cost as much as the live has orders."""
    stats = PromoterStats.objects.for_org(org).filter(live=live, promoter__isnull=False)
    orders = Order.objects.for_org(org).filter(live=live, promoter__isnull=False)
    if promoters is not None:
        promoters = list(promoters)
        stats = stats.filter(promoter_id__in=promoters)
        orders = orders.filter(promoter_id__in=promoters)
    counts, net = {}, {}
    # gmv − refunded of a promoter's row is the net of the orders credited to them (docs/events.md).
    for p, reserved, entered, gmv, refunded in stats.values_list("promoter_id", "reservations", "entered",
                                                                 "gmv", "refunded"):
        counts[p], net[p] = (reserved, entered), gmv - refunded
    wanted = set(promoters) if promoters is not None else set(counts)
    own = own_ids(org, wanted) if own is None else {p: ids for p, ids in own.items() if p in wanted}
    holder = holders(own)
    # One index probe (org, viewer) per order rather than reading every earlier order.
    earlier = Order.objects.for_org(org).filter(viewer=OuterRef("viewer"),
                                                live__announced_at__lt=live.announced_at)
    own_net, own_bought = _self_purchases(orders, own)
    wechat_net = _wechat_parts(orders, own)
    new = {}
    if new_buyers:
        if new_buyers is not True and (promoters is None or set(new_buyers) != set(promoters)):
            orders = orders.filter(promoter_id__in=list(new_buyers))
        new = dict(orders.filter(~Exists(earlier)).values("promoter_id")
                   .annotate(n=Count("viewer", distinct=True)).values_list("promoter_id", "n"))
        # The promoter's own first purchase is no new buyer of theirs.
        returning = set(Order.objects.for_org(org).filter(
            viewer__in=list({viewer for viewer, _ in own_bought}),
            live__announced_at__lt=live.announced_at).values_list("viewer", flat=True))
        for viewer, promoter in own_bought:
            if viewer not in returning and promoter in new:
                new[promoter] -= 1
    own_reserved, own_entered = own_counts(
        LiveViewer.objects.for_org(org).filter(live=live, viewer__in=list(holder))
        .values_list("viewer", "reserved_for_id", "entered_for_id"), holder)
    return {p: PromoterFigures(
        net_fen=(net.get(p) or 0) - own_net[p] - wechat_net[p], self_purchase_net_fen=own_net[p],
        wechat_net_fen=wechat_net[p],
        reservations=max(0, counts.get(p, (0, 0))[0] - own_reserved[p]),
        new_buyers=new.get(p, 0),
        effective_views=max(0, counts.get(p, (0, 0))[1] - own_entered[p]))
        for p in wanted}


def holders(own: dict) -> defaultdict:
    """id → the promoters it is an own id of. A set: once a link makes two promoters' openids
    one person, that person is an own id of both (a dict of one promoter per id kept whichever
    came last, and ingest, settlement and the check, asking about different promoters, got
    different answers)."""
    holder = defaultdict(set)
    for promoter, ids in own.items():
        for viewer in ids:
            holder[viewer].add(promoter)
    return holder


def own_counts(rows, holder: dict) -> tuple[defaultdict, defaultdict]:
    """How many of each promoter's reservations and entered are their own ids': `rows` of
    (viewer, reserved for, first entry credited to) for the ids in `holder` (holders()).
    By whom the count was credited to, never by the binding now: a binding moves on (last
    touch) or arrives after the entry (first touch), the count it was added to does not."""
    own_reserved, own_entered = defaultdict(int), defaultdict(int)
    for viewer, reserved_for, entered_for in rows:
        if reserved_for is not None and reserved_for in holder[viewer]:
            own_reserved[reserved_for] += 1
        if entered_for is not None and entered_for in holder[viewer]:
            own_entered[entered_for] += 1
    return own_reserved, own_entered


def _self_purchases(orders, own: dict) -> tuple[dict, set]:
    """The net of each promoter's own purchases among `orders` (a live's, credited to them),
    and the (viewer, promoter) pairs that bought. An order is a self-purchase when its viewer
    is one of the credited promoter's own ids, as in rules.earnings.promoter_figures."""
    own_net, bought = defaultdict(int), set()
    viewers = {viewer for ids in own.values() for viewer in ids}
    if not viewers:
        return own_net, bought
    for viewer, promoter, amount in orders.filter(viewer__in=list(viewers)).values_list(
            "viewer", "promoter_id", F("paid") - F("refunded")):
        if viewer in own.get(promoter, ()):
            own_net[promoter] += amount
            bought.add((viewer, promoter))
    return own_net, bought


def _wechat_parts(orders, own: dict) -> defaultdict:
    """The part of each promoter's net among `orders` that WeChat's 推客 programme commissions
    (rules.earnings.wechat_part), own purchases left out as rules.earnings.promoter_figures
    does. Few orders have any: read one by one."""
    parts = defaultdict(int)
    for viewer, promoter, paid, refunded, wechat_paid in orders.filter(wechat_paid__gt=0).values_list(
            "viewer", "promoter_id", "paid", "refunded", "wechat_paid"):
        if viewer not in own.get(promoter, ()):
            parts[promoter] += wechat_part(paid, refunded, wechat_paid)
    return parts


def team_totals(org, live, teams, allow_self_purchase: bool, own=None, pay_wechat: bool = False) -> dict:
    """{team id: what its members add to the override base in `live`} (the sum of
    rules.commission.team_contribution over members), for `teams`: ids of the organisation's
    teams as they are now. One aggregate by team instead of every member's figures: a batch
    that touches one promoter of each store would otherwise read all the stores' members.
    `own`: own viewer ids including the teams' members' (own_ids), else read here."""
    teams = list(teams)
    totals = dict.fromkeys(teams, 0)
    if not teams:
        return totals
    # gmv − refunded of a promoter's row is the net of the orders credited to them (docs/events.md).
    totals.update(PromoterStats.objects.for_org(org).filter(live=live, promoter__team_id__in=teams)
                  .order_by().values("promoter__team_id").annotate(net=Sum(F("gmv") - F("refunded")))
                  .values_list("promoter__team_id", "net"))
    if allow_self_purchase and pay_wechat:
        return totals
    orders = Order.objects.for_org(org).filter(live=live, promoter__team_id__in=teams)
    own = own_ids(org, teams=teams) if own is None else own
    less = defaultdict(int)
    if not allow_self_purchase:
        own_net, _ = _self_purchases(orders, own)
        for promoter, fen in own_net.items():
            less[promoter] += fen
    if not pay_wechat:
        for promoter, fen in _wechat_parts(orders, own).items():
            less[promoter] += fen
    if less:
        for promoter, team in (Promoter.objects.for_org(org).filter(pk__in=list(less))
                               .values_list("pk", "team_id")):
            totals[team] -= less[promoter]
    return totals


@dataclass
class ReplayedPart:
    """What one part of a replay (events.rebuild) holds of a live's figures; the parts of a
    replay add up (`figures_of_parts`): counts and own counts add, orders join, and a buyer's
    orders are all in the buyer's part, so whether they return is known within it."""
    counts: dict       # promoter -> [reservations held for them, first entries credited to them]
    orders: list       # OrderRow of the live's credited orders
    own_reserved: dict
    own_entered: dict
    returning: set


def replayed_part(attribution, live, announced: dict, own: dict) -> ReplayedPart:
    """A live's figures' ingredients from a replay's state (rules.attribution.Attribution) at
    some point of the log; `announced` maps every live id to its announced time."""
    live_id = live.pk
    counts = {p: [row[rules.RESERVATIONS], row[rules.ENTERED]]
              for (l, p), row in attribution.stats.items() if l == live_id and p is not None}
    order_rows = [OrderRow(o.viewer, o.promoter, o.paid, o.refunded, o.wechat_paid)
                  for o in attribution.orders.values() if o.live == live_id and o.promoter is not None]
    holder = holders({p: ids for p, ids in own.items() if p in counts})
    own_reserved, own_entered = own_counts(
        ((viewer, state.reserved_for, state.entered_for) for viewer in holder
         if (state := attribution.viewers.get((live_id, viewer))) is not None), holder)
    buyers = {o.viewer for o in order_rows}
    returning = {o.viewer for o in attribution.orders.values()
                 if o.viewer in buyers and announced[o.live] < announced[live_id]}
    return ReplayedPart(counts, order_rows, own_reserved, own_entered, returning)


def figures_of_parts(parts: list[ReplayedPart], own: dict) -> dict:
    """The figures per promoter of a live from the ingredients of every part of a replay."""
    counts: dict = defaultdict(lambda: [0, 0])
    orders, returning = [], set()
    own_reserved, own_entered = defaultdict(int), defaultdict(int)
    for part in parts:
        for promoter, (reserved, entered) in part.counts.items():
            counts[promoter][0] += reserved
            counts[promoter][1] += entered
        orders += part.orders
        for promoter, n in part.own_reserved.items():
            own_reserved[promoter] += n
        for promoter, n in part.own_entered.items():
            own_entered[promoter] += n
        returning |= part.returning
    return promoter_figures(set(counts), orders, {p: c[0] for p, c in counts.items()},
                            {p: c[1] for p, c in counts.items()},
                            {p: own[p] for p in counts if p in own}, own_reserved, own_entered, returning)


def replayed_figures(attribution, live, announced: dict, own: dict) -> dict:
    """The same figures from a replay's state at some point of the log (one part: the whole)."""
    return figures_of_parts([replayed_part(attribution, live, announced, own)], own)
