"""Tax identities and the platform tax report (liveloop/money/tax_report.py): finance enters a
promoter's legal name and ID on the ledger page, reveals the ID in full (audited), and exports a
period's report (audited). Finance alone (orgs.roles "tax_identity"): docs/security.md."""
from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from liveloop.lib.numbers import yuan_amount
from liveloop.money import exports, tax_report
from liveloop.orgs import audit
from liveloop.web.context import org_view, requires
from liveloop.web.money import queries
from liveloop.web.money.forms import TaxIdentityForm
from liveloop.web.money.ledger import ledger_page_for


@require_POST
@org_view
@requires("tax_identity")
def identity_save(request, org, code):
    promoter = queries.promoter_of(org, code)
    form = TaxIdentityForm(request.POST)
    if not form.is_valid():
        return ledger_page_for(request, org, promoter, identity_form=form, status=400)
    form.save(org, request.user, promoter)
    messages.success(request, _("Tax details saved."))
    return redirect("web:money_ledger", promoter.code)


@require_POST
@org_view
@requires("tax_identity")
def identity_reveal(request, org, code):
    """The ID number in full, on this one page shown: a POST (never a link a browser prefetches
    or history keeps), with an audit line saying who looked."""
    promoter = queries.promoter_of(org, code)
    audit.record(org, request.user, "promoter.id_reveal", f"promoter {promoter.code}")
    response = ledger_page_for(request, org, promoter, reveal=True)
    response["Cache-Control"] = "no-store"  # the ID in full: kept by no cache and no back button
    return response


def _period(request, org) -> str:
    period = request.GET.get("period", "")
    if tax_report.months_of(period) is None:
        period = timezone.localtime(timezone.now()).strftime("%Y-%m")
    return period


@org_view
@requires("tax_identity")
def report_page(request, org):
    period = _period(request, org)
    report = tax_report.report(org, period)
    return render(request, "web/money/tax_report.html", {
        "report": report, "period": period,
        "totals": {name: report.total(name) for name in ("income", "withheld", "paid", "payments")},
    })


@org_view
@requires("tax_identity")
def report_file(request, org, kind):
    period = _period(request, org)
    report = tax_report.report(org, period)
    audit.record(org, request.user, "tax.export", f"period {period}", rows=len(report.rows),
                 missing=len(report.missing), income=report.total("income"), format=kind)
    rows = tax_report.values(report, lambda fen: yuan_amount(fen, 2))
    stamp = datetime.now().strftime("%Y%m%d")
    if kind == "xlsx":
        body = exports.sheet_xlsx(f"涉税信息 {period}", tax_report.HEADERS, rows, tax_report.MONEY_COLUMNS)
    else:
        body = exports.sheet_csv(tax_report.HEADERS, rows)
    return exports.download(body, f"tax-report-{period}-{stamp}.{kind}", kind == "xlsx")
