"""Settling a live: the final figures, the plan applied to them, one statement per promoter.

A live can be settled once its refund window (`Organisation.refund_window_days` after it
ends) has passed. The run records what it used — the log position, the plan, the teams — so
`liveloop rebuild --check` can replay the log to that point and find the same amounts.
After settlement a promoter's entries for the live add up to the plan on those figures.
"""
from __future__ import annotations

import zoneinfo
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from django.db import IntegrityError, transaction
from django.db.models import Sum

from liveloop.lib.bulk import lock_org
from liveloop.lives.models import Live
from liveloop.money import inputs
from liveloop.money.ledger import ALL, carried_entries, sums  # noqa: F401  (carried_entries: callers ask here too)
from liveloop.money.models import Entry, SettlementRun, Statement, StatementLine
from liveloop.money.stored_plans import plan_for, rules_of
from liveloop.orgs import audit
from liveloop.promoters.models import Promoter
from liveloop.rules.commission import settle
from liveloop.rules.tax import labour_withholding

# The reasons of the carry entries, stored as machine text; pages put them into words
# (web/templatetags/figures.py entry_reason).
CARRIED_TO, CARRIED_FROM = "carried to next statement", "carried from "


class SettleError(ValueError):
    """Why a live cannot be settled (now), in both languages."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


def settleable_from(org, live) -> datetime | None:
    """When the refund window closes: the end of the live plus the organisation's window."""
    if live.state != "ended" or live.ended_at is None:
        return None
    return live.ended_at + timedelta(days=org.refund_window_days)


def check_settleable(org, live, now: datetime) -> None:
    if SettlementRun.objects.for_org(org).filter(live=live).exists():
        raise SettleError("这场直播已结算", "this live is already settled")
    opens = settleable_from(org, live)
    if opens is None:
        raise SettleError("直播结束后才能结算", "a live can be settled only after it has ended")
    if now < opens:
        # In the organisation's zone, like every time on its pages (the overview shows the same
        # moment as 退款期截止): a person never converts from UTC.
        local = opens.astimezone(zoneinfo.ZoneInfo(org.timezone))
        raise SettleError(f"退款期未过：{local:%Y-%m-%d %H:%M} 后可结算",
                          f"the refund window is still open: settle after {local:%Y-%m-%d %H:%M}")
    if plan_for(org, live) is None:
        raise SettleError("这场直播没有佣金方案：先设置默认方案或为它选择方案",
                          "this live has no commission plan: set a default or choose one for it")


def breakdown_json(settlement) -> list[dict]:
    """Every line of a promoter's pay for the live, as stored on the statement."""
    lines = []
    for part in (settlement.own, settlement.override):
        if part is not None:
            lines += [{k: v for k, v in asdict(line).items() if v is not None} for line in part.lines]
    return lines


@transaction.atomic
def settle_live(org, live: Live, user=None, now: datetime | None = None) -> SettlementRun:
    now = now or datetime.now(timezone.utc)
    lock_org(org.pk)  # no ingest in between: the run's log position is the figures it used
    live = Live.objects.for_org(org).select_for_update().get(pk=live.pk)
    check_settleable(org, live, now)
    plan = plan_for(org, live)
    rules = rules_of(plan.rules)
    teams = inputs.teams_of(org)
    figures = inputs.stored_figures(org, live)
    result = settle(rules, figures, list(teams.values()))
    try:
        # The run is one-to-one with its live: whatever the locks above, a second run of the
        # same live breaks that constraint, and the loser hears "already settled", not a 500.
        with transaction.atomic():
            run = SettlementRun.objects.create(org=org, live=live, upto_seq=inputs.last_seq(org),
                                               plan_name=plan.name, plan_rules=plan.rules,
                                               teams=inputs.teams_as_json(teams), user=user,
                                               withhold_tax=org.withhold_tax,
                                               own_ids={str(p): sorted(ids) for p, ids in
                                                        inputs.own_ids(org, figures).items()})
    except IntegrityError:
        raise SettleError("这场直播已结算", "this live is already settled") from None
    estimates = sums(org, live.pk, ALL, Entry.ESTIMATES)
    finals = {p: s.total_fen for p, s in result.items()}
    earners = {p for p in set(finals) | set(estimates) if finals.get(p, 0) or estimates.get(p, 0)}
    # True the estimates up to the final amount: the live's entries then add up to it.
    settled = [Entry(org=org, promoter_id=p, live=live, kind=Entry.SETTLEMENT, run=run,
                     upto_seq=run.upto_seq, amount=finals.get(p, 0) - estimates.get(p, 0))
               for p in sorted(earners) if finals.get(p, 0) != estimates.get(p, 0)]
    Entry.objects.bulk_create(settled)
    month = now.astimezone(zoneinfo.ZoneInfo(org.timezone)).strftime("%Y-%m")
    lines = {p: [StatementLine(org=org, label=live.title, amount=finals.get(p, 0),
                               figures=asdict(figures[p]) if p in figures else None,
                               breakdown=breakdown_json(result[p]) if p in result else [])]
             for p in earners}
    _statements(org, run, month, lines)
    audit.record(org, user, "settlement.run", f"live {live.public_id}", run=run.pk,
                 plan=plan.name, statements=len(earners), total=sum(finals.values()))
    return run


def month_tax(month_gross: int, withheld: int, gross: int) -> int:
    """Tax on labour remuneration for one statement: a month's statements are one payment
    (每次), so it is the tax on the month's total so far less what was already withheld."""
    return max(0, labour_withholding(month_gross + gross) - withheld) if gross > 0 else 0


def _statements(org, run, month: str, lines: dict) -> list[Statement]:
    """One statement per promoter in `lines` (their live line first), in a few statements
    whatever the number of promoters: the waiting lines join, tax is withheld, a shortfall is
    carried to the next statement."""
    for entry in carried_entries(org, lines):
        lines[entry.promoter_id].append(StatementLine(org=org, entry=entry, label=entry.kind,
                                                      amount=entry.amount))
    earlier = {p: (g, t) for p, g, t in
               Statement.objects.for_org(org).filter(promoter_id__in=list(lines), month=month, gross__gt=0)
               .values("promoter_id").annotate(g=Sum("gross"), t=Sum("tax")).values_list("promoter_id", "g", "t")}
    promoters = Promoter.objects.for_org(org).in_bulk(list(lines))
    statements = []
    for promoter_id in sorted(lines):
        promoter = promoters[promoter_id]
        gross = sum(line.amount for line in lines[promoter_id])
        tax = month_tax(*earlier.get(promoter_id, (0, 0)), gross) if run.withhold_tax else 0
        statements.append(Statement(org=org, run=run, promoter=promoter, month=month, gross=gross,
                                    number=f"S{run.pk:05d}-{promoter.code}", tax=tax,
                                    payable=max(0, gross - tax), payee=promoter.openid or promoter.bank_account))
    Statement.objects.bulk_create(statements)
    carries = []
    for statement in statements:
        if statement.gross < 0:
            # Nothing to pay: the shortfall moves to the promoter's next statement.
            carries += [Entry(org=org, promoter_id=statement.promoter_id, kind=Entry.CARRY, run=run,
                              amount=-statement.gross, statement=statement, reason=CARRIED_TO),
                        Entry(org=org, promoter_id=statement.promoter_id, kind=Entry.CARRY, run=run,
                              amount=statement.gross, statement=statement,
                              reason=CARRIED_FROM + statement.number)]
    Entry.objects.bulk_create(carries)
    for here in carries[::2]:
        lines[here.promoter_id].append(StatementLine(org=org, entry=here, label=Entry.CARRY, amount=here.amount))
    for statement in statements:
        for line in lines[statement.promoter_id]:
            line.statement = statement
    StatementLine.objects.bulk_create([line for s in statements for line in lines[s.promoter_id]],
                                      batch_size=2000)
    return statements
