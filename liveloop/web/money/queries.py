"""Reads the finance pages need, every one scoped by organisation: the views only page what
these return, check permissions and render. Rows come out as the templates show them."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404

from liveloop.events.models import Event, Order
from liveloop.lives.models import Live
from liveloop.money import payouts
from liveloop.money.models import Entry, PayoutBatch, Plan, ProgrammePlan, SettlementRun, Statement
from liveloop.money.plans import plans_for
from liveloop.money.settlement import SettleError, check_settleable, settleable_from
from liveloop.orgs.models import AuditEntry
from liveloop.promoters.models import Promoter, Team
from liveloop.rules.attribution import ENDED, LIVE, SCHEDULED
from liveloop.web.money.labels import COMMISSION_STATES, ENTRY_KINDS, ORDER_EVENT_LABELS, said

PER_PAGE = 50
LEDGER_PER_PAGE = 100
ORDER_EVENTS = tuple(ORDER_EVENT_LABELS)


# One row of the organisation, or 404 ------------------------------------------------------------

def plan_of(org, plan_id) -> Plan:
    return get_object_or_404(Plan.objects.for_org(org), pk=plan_id)


def live_of(org, public_id) -> Live:
    return get_object_or_404(Live.objects.for_org(org), public_id=public_id)


def run_of(org, run_id) -> SettlementRun:
    return get_object_or_404(SettlementRun.objects.for_org(org).select_related("live", "user"), pk=run_id)


def statement_of(org, number) -> Statement:
    return get_object_or_404(Statement.objects.for_org(org).select_related("promoter__team", "run__live", "batch"),
                             number=number)


def batch_of(org, batch_id) -> PayoutBatch:
    return get_object_or_404(PayoutBatch.objects.for_org(org).select_related("user"), pk=batch_id)


def promoter_of(org, code) -> Promoter:
    return get_object_or_404(Promoter.objects.for_org(org).select_related("team"), code=code)


def team_of(org, team_id) -> Team:
    return get_object_or_404(Team.objects.for_org(org), pk=team_id)


# Plans and settling -----------------------------------------------------------------------------

def plans(org) -> list:
    """The plans page's order: offered before archived, the default first."""
    return list(Plan.objects.for_org(org).order_by("archived", "-is_default", "name"))


def ended_lives(org):
    return Live.objects.for_org(org).filter(state=ENDED).order_by("-ended_at", "-pk")


def settle_rows(org, lives, now: datetime) -> list[dict]:
    """A row for each of these ended lives: its run if settled, the plan it pays by and the one
    chosen for it, when it may be settled and, while it may not, why (in the page's language)."""
    ids = [live.pk for live in lives]
    runs = {run.live_id: run for run in SettlementRun.objects.for_org(org).filter(live_id__in=ids)}
    pays_by = plans_for(org, ids)
    chosen = dict(ProgrammePlan.objects.for_org(org).filter(live_id__in=ids).values_list("live_id", "plan_id"))
    rows = []
    for live in lives:
        refusal = None
        if live.pk not in runs:
            try:
                check_settleable(org, live, now)
            except SettleError as error:
                refusal = said(error)
        rows.append({"live": live, "run": runs.get(live.pk), "plan": pays_by[live.pk],
                     "chosen": chosen.get(live.pk), "opens": settleable_from(org, live), "refusal": refusal})
    return rows


def coming_lives(org) -> list[dict]:
    """Lives still to come or on air, with the plan chosen for each: it can be chosen before they
    end (estimates follow)."""
    coming = list(Live.objects.for_org(org).filter(state__in=(SCHEDULED, LIVE)).order_by("announced_at", "pk")[:PER_PAGE])
    chosen = dict(ProgrammePlan.objects.for_org(org).filter(live__in=coming).values_list("live_id", "plan_id"))
    return [{"live": live, "chosen": chosen.get(live.pk)} for live in coming]


# Settlement runs and statements -----------------------------------------------------------------

def run_figures(run) -> dict:
    """A run's totals, and how many of its statements (and how much) still wait for approval."""
    totals = run.statements.aggregate(gross=Sum("gross"), tax=Sum("tax"), payable=Sum("payable"))
    states = dict(run.statements.values("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {"totals": totals, "frozen": states.get(Statement.FROZEN, 0),
            "frozen_total": run.statements.filter(state=Statement.FROZEN).aggregate(total=Sum("payable"))["total"] or 0}


def frozen_statements(run):
    """The run's statements a bulk approval moves, in number order."""
    return run.statements.filter(state=Statement.FROZEN).order_by("number")


def statement_lines(statement):
    return statement.lines.select_related("entry__live").order_by("pk")


def statement_batches(statement):
    return statement.items.select_related("batch").order_by("pk")


# Payout batches ---------------------------------------------------------------------------------

def batches(org):
    return PayoutBatch.objects.for_org(org).select_related("user").order_by("-pk")


def waiting(org) -> dict:
    """The settled statements no batch holds yet: how many, and what they pay in all (fen)."""
    statements = payouts.batchable(org)
    return {"waiting": statements.count(), "waiting_total": statements.aggregate(total=Sum("payable"))["total"] or 0}


def batch_items(batch):
    return batch.items.select_related("statement__promoter").order_by("statement__number")


# A promoter's ledger ----------------------------------------------------------------------------

def ledger_entries(org, promoter):
    return (Entry.objects.for_org(org).filter(promoter=promoter)
            .select_related("live", "user", "run").order_by("pk"))


def ledger_rows(entries, shown) -> list[dict]:
    """The entries shown (a page of `entries`), each with its kind's words and the balance after
    it: the running balance continues from the entries on earlier pages."""
    shown = list(shown)
    balance = 0
    if shown:
        balance = entries.filter(pk__lt=shown[0].pk).aggregate(total=Sum("amount"))["total"] or 0
    rows = []
    for entry in shown:
        balance += entry.amount
        rows.append({"entry": entry, "kind": ENTRY_KINDS.get(entry.kind, entry.kind), "balance": balance})
    return rows


def recent_statements(org, promoter):
    return (Statement.objects.for_org(org).filter(promoter=promoter)
            .select_related("run__live").order_by("-pk")[:20])


def live_orders(org, live, promoter):
    """The orders of one live credited to a promoter."""
    return Order.objects.for_org(org).filter(live=live, promoter=promoter).order_by("pk")


def orders_with_events(org, live, orders) -> list[dict]:
    """These orders, each with the log's order_paid / order_refund / commission_order events of
    it, in log order; WeChat's commission says its state and what the plan does about it."""
    numbers = [o.order for o in orders]
    events: dict = {}
    for seq, order, kind, amount, at, attrs in (
            Event.objects.for_org(org).filter(live=live, order__in=numbers, type__in=ORDER_EVENTS)
            .order_by("seq").values_list("seq", "order", "type", "amount", "at", "attrs")):
        label = ORDER_EVENT_LABELS[kind]
        if kind == "commission_order":
            label = f"{label} · {COMMISSION_STATES.get((attrs or {}).get('state'), '')}"
        events.setdefault(order, []).append({"seq": seq, "type": kind, "label": label,
                                             "amount": amount, "at": at})
    return [{"order": o, "events": events.get(o.order, [])} for o in orders]


def live_entries(org, promoter, live) -> list[dict]:
    """A promoter's ledger entries for one live, with their kind's words."""
    entries = (Entry.objects.for_org(org).filter(promoter=promoter, live=live)
               .select_related("run").order_by("pk"))
    return [{"entry": e, "kind": ENTRY_KINDS.get(e.kind, e.kind)} for e in entries]


def order_totals(orders) -> dict:
    return orders.aggregate(paid=Sum("paid"), refunded=Sum("refunded"))


# Teams and the audit log ------------------------------------------------------------------------

def teams(org):
    return Team.objects.for_org(org).select_related("leader", "parent").order_by("name_pinyin", "name")


def audit_entries(org):
    return AuditEntry.objects.for_org(org).order_by("-at", "-pk")
