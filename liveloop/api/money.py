"""Statements, ledgers and settlements, read-only (docs/decisions.md "Money: pages and API").

An API key is not a member and has no role, so it changes no money: settling, approving,
paying and adjusting stay with owner and finance members on the pages, where each change
has a person in the audit log. Money is integer fen.
"""
from datetime import datetime
from typing import Literal

from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema

from liveloop.lives.models import Live
from liveloop.money.ledger import balances
from liveloop.money.models import Entry, SettlementRun, Statement
from liveloop.money.settlement import settleable_from
from liveloop.promoters.models import Promoter

router = Router(tags=["money"])

State = Literal["frozen", "settled", "paid", "failed"]


class StatementRow(Schema):
    number: str
    live: str = Field(description="the live's public id")
    promoter: str = Field(description="the promoter's code")
    name: str
    month: str
    live_commission: int = Field(description="fen: the live's commission line")
    carried: int = Field(description="fen: clawbacks, adjustments and carries on this statement")
    gross: int
    tax: int
    payable: int
    state: State
    paid_reference: str
    paid_at: datetime | None
    failure: str


class StatementPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[StatementRow]


class BreakdownLine(Schema):
    kind: str
    fen: int
    base_fen: int | None = None
    rate_bps: int | None = None
    count: int | None = None
    unit_fen: int | None = None
    level: int | None = None
    team: int | None = None


class StatementLineOut(Schema):
    label: str
    amount: int
    entry_kind: str | None = Field(description="for a carried line: clawback, adjustment or carry")
    figures: dict | None = Field(description="the live's figures the plan was applied to")
    breakdown: list[BreakdownLine]


class StatementOut(StatementRow):
    payee: str = Field(description="the openid or bank account paid, masked (**** 1234): in full "
                                   "only in finance's payout file")
    lines: list[StatementLineOut]


class EntryOut(Schema):
    id: int
    at: datetime
    live: str | None
    kind: str
    amount: int
    upto_seq: int | None = Field(description="the event log position it was computed at")
    run: int | None
    reason: str
    member: str | None


class LedgerOut(Schema):
    promoter: str
    name: str
    balances: dict[str, int] = Field(description="fen: pending, frozen, settled, paid")
    count: int
    limit: int
    offset: int
    entries: list[EntryOut]


class SettlementOut(Schema):
    live: str
    state: Literal["not_ended", "open", "settleable", "settled"]
    settleable_from: datetime | None
    run: int | None
    settled_at: datetime | None
    upto_seq: int | None
    plan: str | None
    plan_rules: dict | None
    statements: int
    gross: int
    tax: int
    payable: int
    by_state: dict[str, int] = Field(description="number of statements in each state")


def _row(s) -> dict:
    return {"number": s.number, "live": s.run.live.public_id, "promoter": s.promoter.code,
            "name": s.promoter.name, "month": s.month, "live_commission": s.live_fen,
            "carried": s.carried_fen, "gross": s.gross, "tax": s.tax, "payable": s.payable,
            "state": s.state, "paid_reference": s.paid_reference, "paid_at": s.paid_at,
            "failure": s.failure}


def _statements(org):
    return (Statement.objects.for_org(org).select_related("promoter", "run__live")
            .annotate(live_fen=Sum("lines__amount", filter=Q(lines__entry__isnull=True), default=0),
                      carried_fen=Sum("lines__amount", filter=Q(lines__entry__isnull=False), default=0)))


@router.get("/statements", response=StatementPage, summary="Statements, newest first")
def list_statements(request, live: str | None = Query(None, max_length=32, description="a live's public id"),
                    state: State | None = None,
                    promoter: str | None = Query(None, max_length=32, description="a code"),
                    limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0, le=10 ** 9)):
    org = request.auth
    qs = _statements(org).order_by("-pk")
    if live is not None:
        qs = qs.filter(run__live=get_object_or_404(Live.objects.for_org(org), public_id=live))
    if promoter is not None:
        qs = qs.filter(promoter=get_object_or_404(Promoter.objects.for_org(org), code=promoter))
    if state is not None:
        qs = qs.filter(state=state)
    return {"count": qs.count(), "limit": limit, "offset": offset,
            "items": [_row(s) for s in qs[offset:offset + limit]]}


@router.get("/statements/{number}", response=StatementOut, summary="A statement with its lines and breakdown")
def read_statement(request, number: str = Path(..., max_length=40)):
    s = get_object_or_404(_statements(request.auth), number=number)
    lines = [{"label": line.label, "amount": line.amount,
              "entry_kind": line.entry.kind if line.entry_id else None,
              "figures": line.figures, "breakdown": line.breakdown or []}
             for line in s.lines.select_related("entry").order_by("pk")]
    return {**_row(s), "payee": s.masked_payee, "lines": lines}


@router.get("/promoters/{code}/ledger", response=LedgerOut, summary="A promoter's ledger entries, oldest first")
def promoter_ledger(request, code: str = Path(..., max_length=32),
                    live: str | None = Query(None, max_length=32, description="a live's public id"),
                    limit: int = Query(500, ge=1, le=5000), offset: int = Query(0, ge=0, le=10 ** 9)):
    org = request.auth
    promoter = get_object_or_404(Promoter.objects.for_org(org), code=code)
    entries = Entry.objects.for_org(org).filter(promoter=promoter).select_related("live", "user").order_by("pk")
    if live is not None:
        entries = entries.filter(live=get_object_or_404(Live.objects.for_org(org), public_id=live))
    return {"promoter": promoter.code, "name": promoter.name, "balances": balances(org, promoter),
            "count": entries.count(), "limit": limit, "offset": offset,
            "entries": [{"id": e.pk, "at": e.at, "live": e.live.public_id if e.live_id else None,
                         "kind": e.kind, "amount": e.amount, "upto_seq": e.upto_seq, "run": e.run_id,
                         "reason": e.reason, "member": e.user.get_username() if e.user_id else None}
                        for e in entries[offset:offset + limit]]}


@router.get("/lives/{live_id}/settlement", response=SettlementOut,
            summary="Whether a live can be settled, and its settlement run's totals once it is")
def live_settlement(request, live_id: str = Path(..., max_length=32)):
    org = request.auth
    live = get_object_or_404(Live.objects.for_org(org), public_id=live_id)
    run = SettlementRun.objects.for_org(org).filter(live=live).first()
    opens = settleable_from(org, live)
    if run is not None:
        state = "settled"
    elif opens is None:
        state = "not_ended"
    else:
        state = "settleable" if timezone.now() >= opens else "open"
    totals, by_state = {"n": 0, "gross": 0, "tax": 0, "payable": 0}, {}
    if run is not None:
        statements = Statement.objects.for_org(org).filter(run=run)
        totals = statements.aggregate(n=Count("pk"), gross=Sum("gross", default=0), tax=Sum("tax", default=0),
                                      payable=Sum("payable", default=0))
        by_state = dict(statements.values("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {"live": live.public_id, "state": state, "settleable_from": opens,
            "run": run.pk if run else None, "settled_at": run.created_at if run else None,
            "upto_seq": run.upto_seq if run else None, "plan": run.plan_name if run else None,
            "plan_rules": run.plan_rules if run else None, "statements": totals["n"],
            "gross": totals["gross"], "tax": totals["tax"], "payable": totals["payable"], "by_state": by_state}
