"""Commission plans and what they pay (docs/decisions.md "Money rules").

Pure: no Django. Amounts are integer fen. A rate's exact result is a `Fraction` of a fen; it
is rounded half-up once per breakdown (a promoter's own commission for a live, a leader's
override for a live), and every line shown is a whole number of fen so that a statement adds
up line by line: fractional lines are shown floored and the fen they drop, plus the half-up
rounding, make up a separate "rounding" line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from liveloop.lib.numbers import round_half_up, yuan

BPS = 10_000  # basis points in 100%
MAX_OVERRIDE_LEVELS = 2
# Sane maxima (docs/decisions.md "Sane maxima for amounts"): far above any real programme,
# low enough that a slip of the keyboard (¥9,999,999,999 for ¥9.99) is refused, not paid.
MAX_BOUNTY_FEN = 100_000_000  # ¥1,000,000 per reservation, new buyer or effective view
MAX_CAP_FEN = 1_000_000_000  # ¥10,000,000 per promoter per live
MAX_TIER_UPPER_FEN = 10_000_000_000  # ¥100,000,000: a tier's upper bound
MAX_VIEW_CAP = 10_000_000  # effective views paid per promoter per live

RATE, TIER, SELF_PURCHASE = "rate", "tier", "self_purchase"
WECHAT_COMMISSIONED = "wechat_commissioned"  # orders WeChat's 推客 programme already commissions
RESERVATION_BOUNTY, NEW_BUYER_BOUNTY, EFFECTIVE_VIEW_BOUNTY = (
    "reservation_bounty", "new_buyer_bounty", "effective_view_bounty")
OVERRIDE, ROUNDING, CAP = "override", "rounding", "cap"

PYRAMID = ("团队奖励最多两级：按下线业绩计酬达到三级及以上属于传销，为《禁止传销条例》所禁止",
           "team overrides are limited to two levels: paying on downlines' sales at three or more "
           "levels is pyramid selling (传销), prohibited under China's Regulations on the "
           "Prohibition of Pyramid Selling (禁止传销条例)")


class PlanError(ValueError):
    """A plan that cannot be used, with the field at fault and the reason in both languages."""

    def __init__(self, field_name: str, zh: str, en: str):
        super().__init__(f"{field_name}: {zh} / {en}")
        self.field, self.zh, self.en = field_name, zh, en


class FiguresError(ValueError):
    pass


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(name: str, value, *, rate: bool = False, optional: bool = False,
           most: int | None = None, count: bool = False) -> None:
    if value is None and optional:
        return
    if rate and not (_is_int(value) and 0 <= value <= BPS):
        raise PlanError(name, "费率须在 0 到 10000 基点（0%–100%）之间",
                        "a rate must be between 0 and 10000 basis points (0%–100%)")
    if not _is_int(value) or value < 0:
        raise PlanError(name, "须为不小于 0 的整数（分）", "must be a whole number ≥ 0 (fen)")
    if most is not None and value > most:
        if count:
            raise PlanError(name, f"最多 {most:,}", f"at most {most:,}")
        raise PlanError(name, f"最多 {yuan(most, cents=False)}", f"at most {yuan(most, cents=False)}")


@dataclass(frozen=True)
class Plan:
    rate_bps: int | None = None
    # Marginal ladder: ((upper_fen, rate_bps), ..., (None, rate_bps)), upper bounds ascending.
    tiers: tuple[tuple[int | None, int], ...] = ()
    reservation_bounty_fen: int = 0
    new_buyer_bounty_fen: int = 0
    effective_view_bounty_fen: int = 0
    effective_view_cap: int | None = None  # effective views paid per promoter per live
    cap_fen: int | None = None  # per promoter per live, on their own commission only
    override_bps: tuple[int, ...] = ()  # level 1, then level 2
    allow_self_purchase: bool = False
    # Also pay on the part of orders WeChat's own 推客 programme commissions (its sharer is paid
    # by WeChat): off, the brand does not pay twice for one sale (docs/decisions.md).
    pay_wechat_commissioned: bool = False

    def __post_init__(self):
        # Stored JSON gives lists and nulls where a plan keeps (hashable) tuples.
        object.__setattr__(self, "tiers", tuple(
            tuple(tier) if isinstance(tier, list | tuple) else tier for tier in self.tiers or ()))
        object.__setattr__(self, "override_bps", tuple(self.override_bps or ()))
        if self.rate_bps is not None and self.tiers:
            raise PlanError("tiers", "固定费率与阶梯费率只能选一种",
                            "a plan has either a single rate or tiers, not both")
        _check("rate_bps", self.rate_bps, rate=True, optional=True)
        self._check_tiers()
        for name in ("reservation_bounty_fen", "new_buyer_bounty_fen",
                     "effective_view_bounty_fen"):
            _check(name, getattr(self, name), most=MAX_BOUNTY_FEN)
        _check("effective_view_cap", self.effective_view_cap, optional=True, most=MAX_VIEW_CAP,
               count=True)
        _check("cap_fen", self.cap_fen, optional=True, most=MAX_CAP_FEN)
        if len(self.override_bps) > MAX_OVERRIDE_LEVELS:
            raise PlanError("override_levels", *PYRAMID)
        for bps in self.override_bps:
            _check("override_bps", bps, rate=True)
        for name in ("allow_self_purchase", "pay_wechat_commissioned"):
            if not isinstance(getattr(self, name), bool):
                raise PlanError(name, "须为是或否", "must be true or false")

    def _check_tiers(self):
        previous = 0
        for index, tier in enumerate(self.tiers):
            if not isinstance(tier, tuple) or len(tier) != 2:
                raise PlanError("tiers", "每一档须为（上限分, 基点）",
                                "each tier is (upper bound in fen, rate in bps)")
            upper, bps = tier
            _check("tiers", bps, rate=True)
            if (upper is None) != (index == len(self.tiers) - 1):
                # An open last tier means no amount falls off the top of the ladder unpaid.
                raise PlanError("tiers", "最后一档（且仅最后一档）不设上限",
                                "the last tier, and only the last, has no upper bound (None)")
            if upper is not None and (not _is_int(upper) or upper <= previous):
                raise PlanError("tiers", "各档上限须为递增的正整数（分），不得重叠",
                                "tier upper bounds must be positive whole fen, strictly "
                                "ascending, without overlap")
            if upper is not None and upper > MAX_TIER_UPPER_FEN:
                raise PlanError("tiers", f"各档上限最多 {yuan(MAX_TIER_UPPER_FEN, cents=False)}",
                                f"a tier's upper bound is at most {yuan(MAX_TIER_UPPER_FEN, cents=False)}")
            previous = upper

    @property
    def override_levels(self) -> int:
        return len(self.override_bps)

    @property
    def ladder(self) -> tuple[tuple[int | None, int], ...]:
        if self.tiers:
            return self.tiers
        return ((None, self.rate_bps),) if self.rate_bps is not None else ()


def make_plan(*, override_levels: int | None = None, **fields) -> Plan:
    """A plan from a form or stored values. `override_levels`, when given, must match the
    number of override rates; more than two is refused before anything else."""
    if override_levels is not None:
        if not _is_int(override_levels) or override_levels < 0:
            raise PlanError("override_levels", "层级须为 0、1 或 2", "levels must be 0, 1 or 2")
        if override_levels > MAX_OVERRIDE_LEVELS:
            raise PlanError("override_levels", *PYRAMID)
        if len(fields.get("override_bps") or ()) != override_levels:
            raise PlanError("override_bps", "每一级须有且只有一个费率",
                            "give exactly one override rate per level")
    return Plan(**fields)


@dataclass(frozen=True)
class PromoterFigures:
    """One promoter in one live. Counts exclude the promoter themself (their own reservation or
    first purchase earns no bounty); `net_fen` excludes their own purchases, which are given
    apart in `self_purchase_net_fen`, and the part of orders WeChat's 推客 programme commissions,
    given apart in `wechat_net_fen`. Net is paid − refunded, never below 0 since a refund
    cannot exceed its order."""
    net_fen: int = 0
    self_purchase_net_fen: int = 0
    wechat_net_fen: int = 0
    reservations: int = 0
    new_buyers: int = 0
    effective_views: int = 0

    def __post_init__(self):
        for name in ("net_fen", "self_purchase_net_fen", "wechat_net_fen", "reservations", "new_buyers",
                     "effective_views"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise FiguresError(f"{name} must be a whole number ≥ 0, got {value!r}")


@dataclass(frozen=True)
class Line:
    kind: str
    fen: int
    base_fen: int | None = None  # the amount a rate applies to, or the cap for a cap line
    rate_bps: int | None = None
    count: int | None = None  # what a bounty pays for
    unit_fen: int | None = None
    level: int | None = None  # override level, 1 or 2
    team: object = None  # the team an override line pays on


@dataclass(frozen=True)
class Breakdown:
    lines: tuple[Line, ...]
    total_fen: int
    exact: Fraction = field(compare=False)  # before rounding, after the cap

    def __post_init__(self):
        if sum(line.fen for line in self.lines) != self.total_fen:
            raise AssertionError("breakdown lines must add up to the total")


def tier_slices(ladder, amount: int):
    """(slice_fen, rate_bps) for each tier `amount` reaches: the marginal ladder."""
    lower = 0
    for upper, bps in ladder:
        top = amount if upper is None else min(amount, upper)
        if top > lower:
            yield top - lower, bps
        if upper is None or amount <= upper:
            return
        lower = upper


def ladder_exact(ladder, amount: int) -> Fraction:
    return sum((Fraction(part * bps, BPS) for part, bps in tier_slices(ladder, amount)),
               Fraction(0))


def _finish(lines: list[Line], exact: Fraction, cap: int | None) -> Breakdown:
    if exact.numerator < 0:
        # Commission never goes below 0 (clawbacks are their own lines): a negative amount here
        # is a bug upstream, not something to round.
        raise ValueError("commission is rounded for non-negative amounts only")
    total = round_half_up(exact)
    rounding = total - sum(line.fen for line in lines)
    if rounding:
        lines.append(Line(ROUNDING, rounding))
    # The cap is whole fen, so capping after rounding equals rounding the capped amount.
    if cap is not None and total > cap:
        lines.append(Line(CAP, cap - total, base_fen=cap))
        total, exact = cap, Fraction(cap)
    return Breakdown(tuple(lines), total, exact)


def commission(plan: Plan, figures: PromoterFigures) -> Breakdown:
    """A promoter's own commission for one live, before any override they earn as a leader."""
    ladder = plan.ladder
    kind = TIER if plan.tiers else RATE
    # Exact amounts in BPS-ths of a fen are whole numbers: one Fraction at the end rather than
    # one per line (ingest settles every earner each batch touches).
    lines, exact = [], 0
    for part, bps in tier_slices(ladder, figures.net_fen):
        value = part * bps
        lines.append(Line(kind, value // BPS, base_fen=part, rate_bps=bps))
        exact += value
    # Orders WeChat commissions, then own purchases, sit on top of the promoter's other sales in
    # the ladder, so paying on them never changes what the rest earns; when the plan does not
    # pay on them their line shows why it is 0.
    net = figures.net_fen
    for line_kind, part, paid in ((WECHAT_COMMISSIONED, figures.wechat_net_fen, plan.pay_wechat_commissioned),
                                  (SELF_PURCHASE, figures.self_purchase_net_fen, plan.allow_self_purchase)):
        if not part:
            continue
        value = 0
        if paid:
            value = (sum(p * bps for p, bps in tier_slices(ladder, net + part))
                     - sum(p * bps for p, bps in tier_slices(ladder, net)))
            net += part
        lines.append(Line(line_kind, value // BPS, base_fen=part))
        exact += value
    views = figures.effective_views
    if plan.effective_view_cap is not None:
        views = min(views, plan.effective_view_cap)
    bounties = ((RESERVATION_BOUNTY, figures.reservations, plan.reservation_bounty_fen),
                (NEW_BUYER_BOUNTY, figures.new_buyers, plan.new_buyer_bounty_fen),
                (EFFECTIVE_VIEW_BOUNTY, views, plan.effective_view_bounty_fen))
    for line_kind, count, unit in bounties:
        if unit:
            lines.append(Line(line_kind, count * unit, count=count, unit_fen=unit))
            exact += count * unit * BPS
    return _finish(lines, Fraction(exact, BPS), plan.cap_fen)


class TeamError(ValueError):
    """Teams that would not form a tree. The message (English, with ids) is for logs and tests;
    `zh` and `en` say it to a person on the page, without ids."""

    def __init__(self, message: str, zh: str = "团队设置无效", en: str = "these teams cannot be set up so"):
        super().__init__(message)
        self.zh, self.en = zh, en


@dataclass(frozen=True)
class Team:
    id: object
    leader: int | None
    parent: object = None  # the id of the team above, or None
    members: frozenset = frozenset()  # promoter ids; each promoter is in at most one team


def check_teams(teams) -> dict:
    """Teams form a forest with each promoter counted in one team only, so no sale is paid
    twice at the same level; returns the teams by id."""
    by_id, seen = {}, {}
    for team in teams:
        if team.id in by_id:
            raise TeamError(f"team {team.id!r} is given twice")
        by_id[team.id] = team
        for member in team.members:
            if member in seen:
                raise TeamError(f"promoter {member} is in teams {seen[member]!r} and {team.id!r}; "
                                "a promoter belongs to one team")
            seen[member] = team.id
    for team in by_id.values():
        if team.parent is not None and team.parent not in by_id:
            raise TeamError(f"team {team.id!r} names unknown parent {team.parent!r}")
        chain, current = {team.id}, team.parent
        while current is not None:
            if current in chain:
                raise TeamError(f"team {team.id!r} is its own ancestor",
                                "上级团队不能是本团队，也不能是它的下级团队",
                                "the team above cannot be this team or one of the teams below it")
            chain.add(current)
            current = by_id[current].parent
        parent = by_id.get(team.parent)
        if parent is not None and team.leader is not None and parent.leader == team.leader:
            # Otherwise the same person is paid at level 1 and level 2 on the same sales.
            raise TeamError(f"promoter {team.leader} leads both team {team.id!r} and its parent",
                            "同一个人不能同时负责本团队和上级团队：同一笔业绩会在两级重复计酬",
                            "one person cannot lead both this team and the team above: the same sales would "
                            "be paid at two levels")
    return by_id


def team_contribution(plan: Plan, figures: PromoterFigures) -> int:
    """What one member adds to their team's override base: an override is the brand's plan
    paying too, so it follows the same two choices."""
    return (figures.net_fen + (figures.self_purchase_net_fen if plan.allow_self_purchase else 0)
            + (figures.wechat_net_fen if plan.pay_wechat_commissioned else 0))


def team_net(plan: Plan, team: Team, figures_by_promoter, excluding: int | None,
             total: int | None = None) -> int:
    """The override base: members' net, without the earner's own (they are paid on that by
    their own commission) and without self-purchases unless the plan pays on them.

    `total`, when given, is the team_contribution of all its members summed elsewhere (by the
    database, say): then only the earner's own figures are needed, to take them out."""
    if total is not None:
        own = figures_by_promoter.get(excluding) if excluding in team.members else None
        return total - (team_contribution(plan, own) if own is not None else 0)
    total = 0
    for member in team.members:
        figures = figures_by_promoter.get(member)
        if member == excluding or figures is None:
            continue
        total += team_contribution(plan, figures)
    return total


def overrides(plan: Plan, teams, figures_by_promoter, totals: dict | None = None) -> dict[int, Breakdown]:
    """Each leader's override for one live: level 1 on their own team, level 2 (when the plan
    has it) on each team directly below. Nothing deeper is ever paid.

    `totals`: {team id: its members' team_contribution summed}, when the members' figures are
    not all given (see team_net); the same overrides as with every member's figures."""
    by_id = check_teams(teams)
    if not plan.override_levels:
        return {}
    lines: dict[int, list[Line]] = {}
    exact: dict[int, Fraction] = {}
    for team in by_id.values():
        parent = by_id.get(team.parent)
        earners = (team.leader, parent.leader if parent is not None else None)
        for level, earner in enumerate(earners[:plan.override_levels], start=1):
            if earner is None:
                continue
            bps = plan.override_bps[level - 1]
            base = team_net(plan, team, figures_by_promoter, excluding=earner,
                            total=None if totals is None else totals.get(team.id, 0))
            value = Fraction(base * bps, BPS)
            lines.setdefault(earner, []).append(Line(OVERRIDE, math.floor(value), base_fen=base,
                                                     rate_bps=bps, level=level, team=team.id))
            exact[earner] = exact.get(earner, Fraction(0)) + value
    return {leader: _finish(lines[leader], exact[leader], None) for leader in lines}


@dataclass(frozen=True)
class Settlement:
    own: Breakdown | None  # None for a leader with no figures of their own in the live
    override: Breakdown | None

    @property
    def total_fen(self) -> int:
        return sum(part.total_fen for part in (self.own, self.override) if part is not None)


def settle(plan: Plan, figures_by_promoter, teams=(), totals: dict | None = None) -> dict[int, Settlement]:
    """Everything a plan pays for one live, per promoter: own commission plus overrides
    (`totals`: see overrides)."""
    own = {promoter: commission(plan, figures) for promoter, figures in figures_by_promoter.items()}
    override = overrides(plan, teams, figures_by_promoter, totals)
    return {promoter: Settlement(own.get(promoter), override.get(promoter))
            for promoter in {**own, **override}}


class SettlementError(ValueError):
    pass


def clawback(previous_total: int, final_total: int) -> int:
    """The line a recomputation after settlement adds to the next statement: ≤ 0.

    Only refunds move a settled live (orders after the refund window are not counted), and
    commission never rises when net falls, so a higher total means the figures changed in a way
    the rules do not allow; it is refused rather than paid or dropped silently."""
    for value in (previous_total, final_total):
        if not _is_int(value) or value < 0:
            raise SettlementError(f"totals are whole fen ≥ 0, got {value!r}")
    if final_total > previous_total:
        raise SettlementError(f"a settled total cannot rise ({previous_total} → {final_total}); "
                              "orders after settlement are not counted")
    return final_total - previous_total
