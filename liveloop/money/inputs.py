"""What the plan is applied to, read either from the derived tables (ingest, settlement:
summed by the database) or from a replay of the log (`rebuild --check`: rules.earnings), two
computations of one definition that the check holds against each other."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db import connection

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import Event, LiveViewer, Order
from liveloop.events.own_ids import own_ids  # noqa: F401  (money's callers ask money.inputs)
from liveloop.lib.bulk import adapt_time, select, select_in, sql_ids, table, time_reader
from liveloop.lives.models import Live
from liveloop.promoters.models import Promoter, Team as TeamRow
from liveloop.rules import attribution as rules
from liveloop.rules.commission import PromoterFigures, Team
from liveloop.rules.earnings import OrderRow, promoter_figures, wechat_part

# The reads below run for every ingest batch into a paying live (money.ledger.accrue), so they
# are plain SQL through lib.bulk (scoped by organisation, as the ORM's managers are): compiling
# the ORM's queries cost more than the database answering them (docs/performance.md "The
# ledger's reads as plain SQL"). Id lists are our own integers, written as SQL literals.


def teams_of(org, only=None) -> dict:
    """The organisation's teams as rules.commission.Team (members filled), by id. With `only`
    (promoter ids), members are filled only among those and the teams' leaders: enough to
    find whose pay they move and to pay overrides on team_totals, without reading every
    member of every team each ingest batch."""
    # One statement: each team with its members among those asked (LEFT JOIN: a team without
    # any still comes, with a NULL member).
    members_of = "m.team_id = t.id AND m.org_id = t.org_id"
    if only is not None:
        # The asked and every team's leader: a leader's own team is what its overrides follow.
        members_of += (f" AND (m.id IN ({sql_ids(only) or 'NULL'}) OR m.id IN "
                       f"(SELECT leader_id FROM {table(TeamRow)} WHERE org_id = {int(org.pk)}))")
    teams: dict = {}
    for pk, leader, parent, member in select(
            f"SELECT t.id, t.leader_id, t.parent_id, m.id FROM {table(TeamRow)} t "
            f"LEFT JOIN {table(Promoter)} m ON {members_of} WHERE t.org_id = %s ORDER BY t.id", org.pk):
        members = teams.setdefault(pk, (leader, parent, set()))[2]
        if member is not None:
            members.add(member)
    return {pk: Team(pk, leader, parent, frozenset(members)) for pk, (leader, parent, members) in teams.items()}


def teams_as_json(teams: dict) -> list:
    return [[t.id, t.leader, t.parent, sorted(t.members)] for t in teams.values()]


def teams_from_json(rows) -> dict:
    return {row[0]: Team(row[0], row[1], row[2], frozenset(row[3])) for row in rows}


def team_of(teams: dict) -> dict:
    return {member: team.id for team in teams.values() for member in team.members}


def last_seq(org) -> int:
    # Through the (org, eid) index SQLite reads all the organisation's events and sorts them,
    # every ingest batch; walking the table back from its end (+org_id cannot use the index)
    # stops at the organisation's latest, the very last row after its ingest.
    org_id = "+org_id" if connection.vendor == "sqlite" else "org_id"
    rows = select(f"SELECT seq FROM {table(Event)} WHERE {org_id} = %s ORDER BY seq DESC LIMIT 1", org.pk)
    return rows[0][0] if rows else 0


class LiveAt(NamedTuple):
    """What the figures need of a live (ledger.Paying reads it): `stored_figures` and `team_totals`
    take it or a Live."""
    pk: int
    announced_at: datetime


def own_ids_from_json(stored: dict) -> dict[int, frozenset]:
    return {int(p): frozenset(ids) for p, ids in stored.items()}


class _Orders:
    """A live's orders credited to promoters (alias o): to all of them, or to `promoters`, or
    to the members of `teams` (ids) as the teams are now. `where` takes the organisation and
    the live as its parameters."""

    def __init__(self, org, live, promoters=None, teams=None):
        self.org, self.live = org, live
        self.where = "o.org_id = %s AND o.live_id = %s AND o.promoter_id IS NOT NULL"
        if promoters is not None:
            self.where += f" AND o.promoter_id IN ({sql_ids(promoters) or 'NULL'})"
        if teams is not None:
            self.where += (f" AND o.promoter_id IN (SELECT p.id FROM {table(Promoter)} p "
                           f"WHERE p.org_id = {int(org.pk)} AND p.team_id IN ({sql_ids(teams) or 'NULL'}))")

    def select(self, columns: str, more: str = "", params=()) -> list[tuple]:
        return select(f"SELECT {columns} FROM {table(Order)} o WHERE {self.where} {more}", self.org.pk,
                      [self.live.pk, *params])

    def select_viewers(self, columns: str, viewers) -> list[tuple]:
        return select_in(f"SELECT {columns} FROM {table(Order)} o WHERE {self.where} AND o.viewer",
                         self.org.pk, viewers, [self.live.pk])


def stored_figures(org, live, promoters=None, own=None, new_buyers=True) -> dict:
    """Figures per promoter of `live` from the derived tables; every promoter with a row in
    the live when `promoters` is None. `own`: promoters' own viewer ids, else as they are now.
    New buyers are counted for the promoters in `new_buyers` (True: all; False: none — a plan
    without that bounty does not need them, and a team member's override base needs only net).

    The same figures as rules.earnings.promoter_figures (which a replay uses, and which
    `rebuild --check` compares with these), summed by the database: ingest calls this after
    every batch for the promoters whose pay it moved, and reading their orders row by row would
    cost as much as the live has orders."""
    stats = (f"SELECT promoter_id, reservations, entered, gmv, refunded FROM {table(PromoterStats)} "
             f"WHERE org_id = %s AND live_id = %s AND promoter_id")
    if promoters is not None:
        promoters = list(promoters)
        rows = select(f"{stats} IN ({sql_ids(promoters)})", org.pk, [live.pk]) if promoters else []
    else:
        rows = select(f"{stats} IS NOT NULL", org.pk, [live.pk])
    orders = _Orders(org, live, promoters)
    counts, net = {}, {}
    # gmv − refunded of a promoter's row is the net of the orders credited to them (docs/events.md).
    for p, reserved, entered, gmv, refunded in rows:
        counts[p], net[p] = (reserved, entered), gmv - refunded
    wanted = set(promoters) if promoters is not None else set(counts)
    own = own_ids(org, wanted) if own is None else {p: ids for p, ids in own.items() if p in wanted}
    holder = holders(own)
    own_net, own_bought = _self_purchases(orders, own)
    wechat_net = _wechat_parts(orders, own)
    new = {}
    if new_buyers and wanted:
        if new_buyers is not True and (promoters is None or set(new_buyers) != set(promoters)):
            orders = _Orders(org, live, [p for p in new_buyers if promoters is None or p in wanted])
        announced = adapt_time(live.announced_at)
        # One index probe (org, viewer) per order rather than reading every earlier order.
        new = dict(orders.select(
            "o.promoter_id, COUNT(DISTINCT o.viewer)",
            f"AND NOT EXISTS (SELECT 1 FROM {table(Order)} e JOIN {table(Live)} l ON l.id = e.live_id "
            "WHERE e.org_id = o.org_id AND e.viewer = o.viewer AND l.announced_at < %s) GROUP BY o.promoter_id",
            [announced]))
        # The promoter's own first purchase is no new buyer of theirs.
        returning = {viewer for viewer, in select_in(
            f"SELECT e.viewer FROM {table(Order)} e JOIN {table(Live)} l ON l.id = e.live_id "
            "WHERE e.org_id = %s AND l.announced_at < %s AND e.viewer", org.pk,
            {viewer for viewer, _ in own_bought}, [announced])}
        for viewer, promoter in own_bought:
            if viewer not in returning and promoter in new:
                new[promoter] -= 1
    own_reserved, own_entered = own_counts(select_in(
        f"SELECT viewer, reserved_for_id, entered_for_id FROM {table(LiveViewer)} "
        "WHERE org_id = %s AND live_id = %s AND viewer", org.pk, holder, [live.pk]), holder)
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


def _self_purchases(orders: _Orders, own: dict) -> tuple[dict, set]:
    """The net of each promoter's own purchases among `orders` (a live's, credited to them),
    and the (viewer, promoter) pairs that bought. An order is a self-purchase when its viewer
    is one of the credited promoter's own ids, as in rules.earnings.promoter_figures."""
    own_net, bought = defaultdict(int), set()
    viewers = {viewer for ids in own.values() for viewer in ids}
    if not viewers:
        return own_net, bought
    for viewer, promoter, amount in orders.select_viewers("o.viewer, o.promoter_id, o.paid - o.refunded",
                                                          viewers):
        if viewer in own.get(promoter, ()):
            own_net[promoter] += amount
            bought.add((viewer, promoter))
    return own_net, bought


def _wechat_parts(orders: _Orders, own: dict) -> defaultdict:
    """The part of each promoter's net among `orders` that WeChat's 推客 programme commissions
    (rules.earnings.wechat_part), own purchases left out as rules.earnings.promoter_figures
    does. Few orders have any: read one by one."""
    parts = defaultdict(int)
    for viewer, promoter, paid, refunded, wechat_paid in orders.select(
            "o.viewer, o.promoter_id, o.paid, o.refunded, o.wechat_paid", "AND o.wechat_paid > 0"):
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
    # (int(): PostgreSQL's SUM of bigints is numeric.)
    totals.update((team, int(net)) for team, net in select(
        f"SELECT p.team_id, SUM(s.gmv - s.refunded) FROM {table(PromoterStats)} s "
        f"JOIN {table(Promoter)} p ON p.id = s.promoter_id "
        f"WHERE s.org_id = %s AND s.live_id = %s AND p.team_id IN ({sql_ids(teams)}) GROUP BY p.team_id",
        org.pk, [live.pk]))
    if allow_self_purchase and pay_wechat:
        return totals
    orders = _Orders(org, live, teams=teams)
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
        for promoter, team in select(f"SELECT id, team_id FROM {table(Promoter)} "
                                     f"WHERE org_id = %s AND id IN ({sql_ids(less)})", org.pk):
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
