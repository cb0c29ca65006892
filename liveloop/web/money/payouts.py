"""Payout batches: making one from the settled statements, its payment file, and reading the
payment channel's results back."""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from liveloop.importers.readers import ReadError
from liveloop.lib.numbers import yuan
from liveloop.money import bank_files, exports, payouts, wechatpay
from liveloop.web.context import org_view, requires
from liveloop.web.money import queries
from liveloop.web.money.forms import ResultsForm, confirmed
from liveloop.web.money.labels import STATEMENT_STATES
from liveloop.web.money.queries import PER_PAGE

RESULTS_MAX_BYTES = 5 * 1024 * 1024


@require_http_methods(["GET", "POST"])
@org_view
def batches_page(request, org):
    if request.method == "POST":
        if not request.may["manage_money"]:
            return render(request, "web/forbidden.html", status=403)
        expect = confirmed(request)
        if expect is None:
            messages.error(request, _("Tick the box confirming the count and sum first."))
            return redirect("web:money_batches")
        try:
            batch = payouts.create_batch(org, request.user, expect=expect)
        except (payouts.Conflict, payouts.StaleConfirmation) as error:
            messages.error(request, str(error))
            return redirect("web:money_batches")
        except payouts.PayoutError:
            # Also the loser of two batches made at once: the other claimed every statement.
            messages.error(request, _("No settled statements are waiting for payment."))
            return redirect("web:money_batches")
        return redirect("web:money_batch", batch.pk)
    page = Paginator(queries.batches(org), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/money/batches.html", {"page_obj": page, **queries.waiting(org),
                                                      "wechat": _wechat_plan(org),
                                                      "held": payouts.held(org), "ceiling": payouts.ceiling_of(org)})


def _wechat_plan(org) -> dict | None:
    """What a WeChat Pay run would pay now, and what today's limits hold for tomorrow."""
    merchant = wechatpay.merchant_of(org)
    if merchant is None:
        return None
    planned = wechatpay.plan(org, merchant, timezone.now())
    return {"count": len(planned.chosen), "total": sum(s.payable for s in planned.chosen),
            "held": len(planned.held), "held_total": planned.held_total,
            "too_large": len(planned.too_large), "too_large_total": sum(s.payable for s in planned.too_large)}


@require_POST
@org_view
@requires("manage_money")
def wechat_run(request, org):
    """Pay the statements that fit today's limits by WeChat Pay merchant transfer."""
    merchant = wechatpay.merchant_of(org)
    expect = confirmed(request)
    if merchant is None or expect is None:
        messages.error(request, _("Tick the box confirming the count and sum first."))
        return redirect("web:money_batches")
    try:
        batch, planned = wechatpay.start_run(org, request.user, merchant, expect=expect)
    except payouts.PayoutError as error:
        messages.error(request, str(error))
        return redirect("web:money_batches")
    wechatpay.send(org, merchant, batch.transfers.select_related("statement__promoter").order_by("pk"),
                   notify_base=request.build_absolute_uri("/"))
    if planned.held:
        messages.warning(request, _("%(count)d statements (%(total)s) are over today's WeChat Pay limits: the next "
                                    "day's run pays them.") % {"count": len(planned.held),
                                                              "total": yuan(planned.held_total)})
    return redirect("web:money_batch", batch.pk)


@require_POST
@org_view
@requires("manage_money")
def statement_release(request, org, number):
    """Let a statement the ceiling holds into the next batch: an explicit, audited decision."""
    statement = queries.statement_of(org, number)
    if request.POST.get("confirm") != "1":
        messages.error(request, _("Tick the box confirming the amount first."))
        return redirect("web:money_batches")
    try:
        payouts.release(org, request.user, statement)
    except payouts.PayoutError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("%(number)s is released: the next payout batch takes it.")
                         % {"number": statement.number})
    return redirect("web:money_batches")


def _batch_page(request, org, batch, form=None, errors=(), status=200):
    # The column as the page names it (付款参考号, 状态…), never the code the reader keys it by.
    transfers = {t.statement_id: t for t in batch.transfers.all()}
    items = list(queries.batch_items(batch))
    for item in items:  # a WeChat Pay run's bill beside each statement
        item.transfer = transfers.get(item.statement_id)
    return render(request, "web/money/batch.html", {
        "batch": batch, "items": items, "wechat": bool(transfers), "form": form or ResultsForm(), "errors": errors,
        # Counted from the rows already read, not by building the bank's whole file again.
        "bank_left_out": sum(not bank_files.for_the_bank(i.statement, i.statement.promoter) for i in items),
        "error_rows": [(row, payouts.RESULT_COLUMN_LABELS.get(column, column), reason)
                       for row, column, reason in errors],
        "states": STATEMENT_STATES,
    }, status=status)


@org_view
def batch_page(request, org, batch_id):
    return _batch_page(request, org, queries.batch_of(org, batch_id))


@org_view
@requires("payee_details")  # the accounts in full, for the payment channel: finance roles only
def batch_file(request, org, batch_id, kind):
    batch = queries.batch_of(org, batch_id)
    xlsx = kind == "xlsx"
    body = exports.batch_xlsx(batch) if xlsx else exports.batch_csv(batch)
    return exports.download(body, f"{batch.number}.{kind}", xlsx)


@org_view
@requires("payee_details")  # full accounts and legal names, for the bank: finance roles only
def batch_bank_file(request, org, batch_id, kind):
    """The batch in 招商银行's 代发 layout (money.bank_files): XLSX, or the GBK text import."""
    batch = queries.batch_of(org, batch_id)
    bank_file = bank_files.cmb_file(batch)
    if bank_file.missing_name:
        messages.error(request, _("The bank file needs each payee's legal name (户名). Missing for: %(codes)s. "
                                  "Enter it on each promoter's ledger page.")
                       % {"codes": "、".join(bank_file.missing_name)})
        return redirect("web:money_batch", batch.pk)
    if not bank_file.rows:
        messages.error(request, _("No statement in this batch is paid to a bank card."))
        return redirect("web:money_batch", batch.pk)
    if kind == "xlsx":
        body = bank_files.cmb_xlsx(bank_file, batch.number)
        return exports.download(body, f"{batch.number}-cmb.xlsx", True)
    response = exports.download(bank_files.cmb_text(bank_file), f"{batch.number}-cmb.txt", False)
    response["Content-Type"] = "text/plain; charset=gb18030"
    return response


@require_POST
@org_view
@requires("manage_money")
def batch_results(request, org, batch_id):
    batch = queries.batch_of(org, batch_id)
    form = ResultsForm(request.POST, request.FILES)
    if not form.is_valid():
        return _batch_page(request, org, batch, form=form, status=400)
    upload = form.cleaned_data["results"]
    if upload.size > RESULTS_MAX_BYTES:
        form.add_error("results", _("The file is larger than 5 MB."))
        return _batch_page(request, org, batch, form=form, status=400)
    data = upload.read()
    if upload.name.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        try:
            data = exports.xlsx_to_csv(data)
        except ReadError as error:
            if error.code == "too_large":
                form.add_error("results", _("The workbook expands to more than %(mb)d MB of data, or holds "
                                            "too many rows: upload only the batch's rows, or save it as CSV.")
                               % {"mb": exports.RESULTS_XLSX_MAX_EXPANDED // (1024 * 1024)})
            else:
                form.add_error("results", _("This is not an XLSX workbook: the file is damaged, truncated or "
                                            "of another format. Save it again as .xlsx or CSV."))
            return _batch_page(request, org, batch, form=form, status=400)
    try:
        check = payouts.apply_results(org, request.user, batch, data)
    except payouts.Conflict as error:
        # The same results applied by someone else at this moment: nothing was written here.
        form.add_error(None, str(error))
        return _batch_page(request, org, batch, form=form, status=409)
    if check.errors:
        # All or nothing: apply_results wrote nothing; every bad row is listed.
        return _batch_page(request, org, batch, form=form, errors=check.errors, status=400)
    paid = sum(1 for row in check.rows if row[1])
    messages.success(request, _("Results applied: %(paid)d paid, %(failed)d failed.")
                     % {"paid": paid, "failed": len(check.rows) - paid})
    return redirect("web:money_batch", batch.pk)
