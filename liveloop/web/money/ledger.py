"""A promoter's ledger: the entries with a running balance, adjusting it by hand, and the
orders and events behind one live's entries."""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from liveloop.money.ledger import AlreadyRecorded, balances, is_settled
from liveloop.web.context import org_view, requires
from liveloop.web.money import queries
from liveloop.rules.tax_identity import RESIDENT_ID
from liveloop.web.money.forms import ADJUST_KEY, AdjustmentForm, TaxIdentityForm, adjust_key
from liveloop.web.money.labels import STATEMENT_STATES
from liveloop.web.money.queries import LEDGER_PER_PAGE


def ledger_page_for(request, org, promoter, form=None, identity_form=None, reveal=False, status=200):
    """The ledger page; for finance with the tax identity form (money.tax_report), the ID in full
    only when `reveal` (an audited request: web.money.tax)."""
    return _ledger_page(request, org, promoter, form=form, identity_form=identity_form, reveal=reveal,
                        status=status)


def _ledger_page(request, org, promoter, form=None, identity_form=None, reveal=False, status=200):
    entries = queries.ledger_entries(org, promoter)
    page = Paginator(entries, LEDGER_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/money/ledger.html", {
        "promoter": promoter, "page_obj": page, "rows": queries.ledger_rows(entries, page),
        "balances": balances(org, promoter),
        "form": form or AdjustmentForm(), "adjust_key": adjust_key(request),
        "statements": queries.recent_statements(org, promoter),
        "states": STATEMENT_STATES,
        "identity_form": identity_form or (TaxIdentityForm(initial={
            "legal_name": promoter.legal_name, "id_type": promoter.id_type or RESIDENT_ID,
            "bank_branch": promoter.bank_branch}) if request.may["tax_identity"] else None),
        "reveal": reveal and request.may["tax_identity"],
    }, status=status)


@org_view
def ledger_page(request, org, code):
    return _ledger_page(request, org, queries.promoter_of(org, code))


@require_POST
@org_view
@requires("manage_money")
def ledger_adjust(request, org, code):
    promoter = queries.promoter_of(org, code)
    form = AdjustmentForm(request.POST)
    key = request.POST.get("key", "")
    if not ADJUST_KEY.fullmatch(key):
        # Without the form's key a resend could not be told from a new adjustment.
        form.is_valid()
        form.add_error(None, _("This form is out of date: reload the page and enter the adjustment again."))
        return _ledger_page(request, org, promoter, form=form, status=400)
    try:
        if form.is_valid() and form.save(org, request.user, promoter, key) is not None:
            messages.success(request, _("Adjustment recorded: it appears on the promoter's next statement."))
            return redirect("web:money_ledger", promoter.code)
    except AlreadyRecorded:
        messages.info(request, _("This adjustment was already recorded (the form was sent twice): it is on "
                                 "the ledger once."))
        return redirect("web:money_ledger", promoter.code)
    return _ledger_page(request, org, promoter, form=form, status=400)


@org_view
def ledger_live(request, org, code, public_id):
    """The events behind a promoter's entries for one live: the orders credited to them and
    the log's order_paid / order_refund events of those orders."""
    promoter = queries.promoter_of(org, code)
    live = queries.live_of(org, public_id)
    orders = queries.live_orders(org, live, promoter)
    page = Paginator(orders, LEDGER_PER_PAGE).get_page(request.GET.get("page"))
    entries = queries.live_entries(org, promoter, live)
    return render(request, "web/money/ledger_live.html", {
        "promoter": promoter, "live": live, "page_obj": page,
        "orders": queries.orders_with_events(org, live, page),
        "entries": entries,
        "held": sum(row["entry"].amount for row in entries),
        "totals": queries.order_totals(orders),
        "settled": is_settled(org, live),
    })
