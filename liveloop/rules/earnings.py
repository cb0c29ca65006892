"""What a promoter earned on in one live: the inputs of a commission plan (rules.commission).

Pure: no Django. Ingest (accruals), settlement and `liveloop rebuild --check` all build the
figures here from the same kinds of rows — the live's orders, its reservation holders and
entrants, the buyers seen in earlier lives — so an estimate, a statement and a replay of the
log cannot disagree on what the plan was applied to (docs/decisions.md "Money: ledger").
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from liveloop.rules import attribution
from liveloop.rules.commission import Plan, PromoterFigures, Team


@dataclass(frozen=True, slots=True)
class OrderRow:
    viewer: str
    promoter: int | None  # the promoter the order is credited to
    paid: int
    refunded: int
    wechat_paid: int = 0  # the part of `paid` WeChat's 推客 programme commissions now


def wechat_part(paid: int, refunded: int, wechat_paid: int) -> int:
    """What of an order's net WeChat commissions: its commissioned SKUs' amount, never more than
    what is left after refunds (a refund takes the commissioned part first: WeChat cancels the
    commission of a SKU refunded in full, and a partial refund's SKU is not known here)."""
    return min(wechat_paid, paid - refunded)


def promoter_figures(promoters: Iterable[int], orders: Iterable[OrderRow],
                     reserved_for: dict[int, int], entered_for: dict[int, int],
                     own_ids: dict[int, frozenset], own_reserved: dict[int, int], own_entered: dict[int, int],
                     returning: set[str]) -> dict[int, PromoterFigures]:
    """Figures per promoter in `promoters`.

    - `orders`: the live's orders credited to these promoters (others are ignored);
    - `reserved_for` / `entered_for`: the live's reservations held for, and first entries
      credited to, each promoter (the `reservations` and `entered` figures);
    - `own_ids`: each promoter's own viewer ids (their shop openid): their purchases are
      self-purchases, their own reservation and entry earn no bounty (`own_reserved`,
      `own_entered`: how many of those counts are their own ids' — a reservation held for them,
      a first entry credited to them, whatever the binding says now; two when the openid and
      its person counted apart before the link, docs/decisions.md);
    - `returning`: viewers who paid for an order in an earlier live of the organisation; the
      others are new buyers (新客).

    The part of an order WeChat commissions (`wechat_paid`, wechat_part) is given apart in
    `wechat_net_fen`, out of `net_fen`: the plan pays it only when it says so. An own purchase
    stays an own purchase whatever WeChat does with it.
    """
    wanted = set(promoters)
    net = dict.fromkeys(wanted, 0)
    wechat_net = dict.fromkeys(wanted, 0)
    own_net = dict.fromkeys(wanted, 0)
    new_buyers: dict[int, set] = {p: set() for p in wanted}
    for order in orders:
        promoter = order.promoter
        if promoter not in wanted:
            continue
        amount = order.paid - order.refunded
        if order.viewer in own_ids.get(promoter, ()):
            own_net[promoter] += amount
        else:
            commissioned = wechat_part(order.paid, order.refunded, order.wechat_paid)
            net[promoter] += amount - commissioned
            wechat_net[promoter] += commissioned
            if order.viewer not in returning:
                new_buyers[promoter].add(order.viewer)
    return {p: PromoterFigures(
        net_fen=net[p], self_purchase_net_fen=own_net[p], wechat_net_fen=wechat_net[p],
        reservations=max(0, reserved_for.get(p, 0) - own_reserved.get(p, 0)),
        new_buyers=len(new_buyers[p]),
        effective_views=max(0, entered_for.get(p, 0) - own_entered.get(p, 0)))
        for p in wanted}


def figures_paid_on(plan: Plan) -> frozenset[int]:
    """The counted figures (rules.attribution.FIGURES) whose moving can move what `plan` pays:
    net (orders, GMV, refunds — own and team members' sales included), buyers (new buyers),
    reservations when it pays a bounty on them, first entries when it pays on effective views.
    Follows and captures never move pay. Ingest re-estimates only the promoters one of these
    moved for (money.ledger.Accrual): an entry on a plan without a view bounty changes nothing."""
    paid = {attribution.ORDERS, attribution.GMV, attribution.REFUNDED, attribution.BUYERS}
    if plan.reservation_bounty_fen:
        paid.add(attribution.RESERVATIONS)
    if plan.effective_view_bounty_fen:
        paid.add(attribution.ENTERED)
    return frozenset(paid)


def earners_touched(promoters: Iterable[int], team_of: dict[int, object],
                    teams: dict[object, Team]) -> set[int]:
    """Whose pay a change to `promoters`' figures can move: themselves, their team's leader
    (level 1) and the leader of the team above (level 2)."""
    earners = set(promoters)
    for promoter in promoters:
        team = teams.get(team_of.get(promoter))
        if team is None:
            continue
        if team.leader is not None:
            earners.add(team.leader)
        parent = teams.get(team.parent)
        if parent is not None and parent.leader is not None:
            earners.add(parent.leader)
    return earners


def teams_paying(earners: set[int], teams: dict[object, Team]) -> list[Team]:
    """The teams an override to `earners` is computed on: those they lead and those directly
    below. Passing only these to rules.commission.overrides gives every earner's full override."""
    led = {team.id for team in teams.values() if team.leader in earners}
    chosen = {team.id for team in teams.values() if team.id in led or team.parent in led}
    # A chosen team's parent outside the set only pays someone not asked about: cut the link.
    return [team if team.parent in chosen or team.parent is None else replace(team, parent=None)
            for team in teams.values() if team.id in chosen]
