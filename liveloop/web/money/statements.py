"""Settlement runs and statements: a run's statements and their export, one statement's lines,
and approving, marking paid or retrying them."""
from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from liveloop.money import exports, payouts
from liveloop.web.context import org_view, requires
from liveloop.web.money import queries
from liveloop.web.money.forms import confirmed
from liveloop.web.money.labels import ENTRY_KINDS, FIGURE_LABELS, LINE_KINDS, MONEY_FIGURES, STATEMENT_STATES
from liveloop.web.money.queries import PER_PAGE


@org_view
def run_page(request, org, run_id):
    run = queries.run_of(org, run_id)
    statements = Paginator(exports.statements_of(org, run), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/money/run.html", {
        "run": run, "live": run.live, "page_obj": statements, **queries.run_figures(run), "states": STATEMENT_STATES,
    })


@require_POST
@org_view
@requires("manage_money")
def run_approve(request, org, run_id):
    run = queries.run_of(org, run_id)
    expect = confirmed(request)
    if expect is None:
        messages.error(request, _("Tick the box confirming the count and sum first."))
        return redirect("web:money_run", run.pk)
    try:
        moved = payouts.approve(org, request.user, queries.frozen_statements(run), expect=expect)
    except payouts.PayoutError as error:  # approved by someone else at the same moment
        messages.error(request, str(error))
    else:
        messages.success(request, _("%(count)d statements approved.") % {"count": moved})
    return redirect("web:money_run", run.pk)


@org_view
@requires("export")
def run_export(request, org, run_id, kind):
    run = queries.run_of(org, run_id)
    xlsx = kind == "xlsx"
    # Operators export the figures too; the payees in full only to the finance roles.
    full = request.may["payee_details"]
    body = exports.statements_xlsx(org, run, full) if xlsx else exports.statements_csv(org, run, full)
    return exports.download(body, f"statements-{run.live.public_id}.{kind}", xlsx)


def _breakdown_rows(line) -> list[dict]:
    return [{**item, "label": LINE_KINDS.get(item.get("kind"), item.get("kind")),
             "rate": None if item.get("rate_bps") is None else Decimal(item["rate_bps"]) / 100}
            for item in line.breakdown or ()]


def _figure_rows(line) -> list[dict]:
    return [{"label": FIGURE_LABELS.get(key, key), "value": value, "money": key in MONEY_FIGURES}
            for key, value in (line.figures or {}).items()]


def _line_row(line) -> dict:
    return {"line": line, "label": ENTRY_KINDS.get(line.label, line.label) if line.entry_id else line.label,
            "breakdown": _breakdown_rows(line), "figures": _figure_rows(line)}


@org_view
def statement_page(request, org, number):
    statement = queries.statement_of(org, number)
    return render(request, "web/money/statement.html", {
        "statement": statement, "lines": [_line_row(line) for line in queries.statement_lines(statement)],
        "states": STATEMENT_STATES, "batches": queries.statement_batches(statement),
    })


def _statement_action(request, org, number, action):
    statement = queries.statement_of(org, number)
    try:
        action(statement)
    except payouts.PayoutError as error:
        messages.error(request, str(error))
    back = request.POST.get("next", "")
    # Only back to our own pages: the run or the statement.
    if back != reverse("web:money_run", args=[statement.run_id]):
        back = reverse("web:money_statement", args=[statement.number])
    return redirect(back)


@require_POST
@org_view
@requires("manage_money")
def statement_approve(request, org, number):
    return _statement_action(request, org, number,
                             lambda s: payouts.approve(org, request.user, [s]))


@require_POST
@org_view
@requires("manage_money")
def statement_paid(request, org, number):
    return _statement_action(request, org, number,
                             lambda s: payouts.mark_paid(org, request.user, s, request.POST.get("reference", "")))


@require_POST
@org_view
@requires("manage_money")
def statement_retry(request, org, number):
    return _statement_action(request, org, number, lambda s: payouts.retry(org, request.user, s))
