"""Spreadsheets for finance: a settlement run's statements and a payout batch file, as CSV and
XLSX. Headers in the page's language (Chinese first; the results upload reads either); amounts in
yuan, exact (Decimal from integer fen,
never a float); a text cell that a spreadsheet would run as a formula stays text (the helpers
of liveloop/lib/sheets.py)."""
from __future__ import annotations

import csv
import io

from django.db.models import Q, Sum
from django.http import HttpResponse
from django.utils.translation import gettext, gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from liveloop.lib.numbers import yuan_amount
from liveloop.lib.sheets import XLSX_TYPE, YUAN_FORMAT, csv_cell, text_cell
from liveloop.money.models import PayoutBatch, SettlementRun, Statement
from liveloop.money.payouts import STATE_LABELS, batch_rows


STATE_WORDS = STATE_LABELS  # the page's words for a statement's state

# (header, key, is money)
STATEMENT_COLUMNS = (
    (_("Statement number"), "number", False),
    (_("Promoter code"), "code", False),
    (_("Name"), "name", False),
    (_("Team / store"), "team", False),
    (_("Live"), "live", False),
    (_("Live commission (yuan)"), "live_fen", True),
    (_("Clawbacks and adjustments (yuan)"), "carried_fen", True),
    (_("Gross (yuan)"), "gross", True),
    (_("Tax withheld (yuan)"), "tax", True),
    (_("Payable (yuan)"), "payable", True),
    (_("State"), "state", False),
    (_("Payee account"), "payee", False),
    (_("Paid reference"), "paid_reference", False),
)


def statement_headers() -> list[str]:
    return [str(header) for header, _key, _money in STATEMENT_COLUMNS]


def statements_of(org, run: SettlementRun):
    """The run's statements with the live's commission and the carried lines summed apart."""
    return (Statement.objects.for_org(org).filter(run=run)
            .select_related("promoter__team")
            .annotate(live_fen=Sum("lines__amount", filter=Q(lines__entry__isnull=True), default=0),
                      carried_fen=Sum("lines__amount", filter=Q(lines__entry__isnull=False), default=0))
            .order_by("number"))


def statement_rows(org, run: SettlementRun, full_payee: bool = False):
    """One dict per statement, money in fen (the pages format it, the files convert it). The
    payee is masked unless `full_payee` (owner and finance: orgs.roles "payee_details")."""
    title = run.live.title
    for s in statements_of(org, run):
        team = s.promoter.team
        yield {"number": s.number, "code": s.promoter.code, "name": s.promoter.name,
               "team": team.name if team else "", "live": title, "live_fen": s.live_fen,
               "carried_fen": s.carried_fen, "gross": s.gross, "tax": s.tax, "payable": s.payable,
               "state": str(STATE_WORDS.get(s.state, s.state)), "payee": s.payee if full_payee else s.masked_payee,
               "paid_reference": s.paid_reference}


def _csv_bytes(headers, rows) -> bytes:
    """Money cells arrive as Decimal with two places, so the text is "1234.56" (never a float)."""
    out = io.StringIO()
    out.write("\ufeff")  # Excel on Chinese Windows reads UTF-8 only with a BOM
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue().encode("utf-8")


def _xlsx_bytes(title: str, headers, rows, money_columns: set[int]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in headers:
        cell = text_cell(sheet, text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            if index in money_columns:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = YUAN_FORMAT
            else:
                cell = text_cell(sheet, "" if value is None else value)
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _statement_values(org, run, full_payee):
    for row in statement_rows(org, run, full_payee):
        yield [yuan_amount(row[key], 2) if money else row[key] for _header, key, money in STATEMENT_COLUMNS]


STATEMENT_MONEY = {i for i, (_h, _k, money) in enumerate(STATEMENT_COLUMNS) if money}


def statements_csv(org, run, full_payee: bool = False) -> bytes:
    return _csv_bytes(statement_headers(), _statement_values(org, run, full_payee))


def statements_xlsx(org, run, full_payee: bool = False) -> bytes:
    return _xlsx_bytes(f"{gettext('Statements')} {run.live.public_id}", statement_headers(),
                       _statement_values(org, run, full_payee),
                       STATEMENT_MONEY)


# The batch file as a person downloads it: headers in the page's language, the method in words,
# the amount once, in yuan (the core's batch_rows keeps the codes and fen for the demo and code).
BATCH_COLUMNS = (_("Reference"), _("Promoter code"), _("Name"), _("Payment method"), _("Payee account"),
                 _("Bank"), _("Amount (yuan)"))
BATCH_MONEY = {len(BATCH_COLUMNS) - 1}
METHOD_WORDS = {"wechat_openid": _("WeChat change"), "bank": _("Bank card")}


def _batch_values(batch):
    for number, code, name, method, payee, bank, _yuan_text, fen in batch_rows(batch):
        # The full account: only finance may download the batch file (web.money.payouts.batch_file).
        yield [number, code, name, str(METHOD_WORDS[method]), payee, bank, yuan_amount(fen, 2)]


def batch_csv(batch: PayoutBatch) -> bytes:
    return _csv_bytes([str(h) for h in BATCH_COLUMNS], _batch_values(batch))


def batch_xlsx(batch: PayoutBatch) -> bytes:
    return _xlsx_bytes(batch.number, [str(h) for h in BATCH_COLUMNS], _batch_values(batch), BATCH_MONEY)


def sheet_csv(headers, rows) -> bytes:
    """Any of finance's tables as CSV (UTF-8 with BOM), money cells as Decimal with two places."""
    return _csv_bytes(headers, rows)


def sheet_xlsx(title: str, headers, rows, money_columns: set[int]) -> bytes:
    return _xlsx_bytes(title, headers, rows, money_columns)


def download(body: bytes, filename: str, xlsx: bool) -> HttpResponse:
    response = HttpResponse(body, content_type=XLSX_TYPE if xlsx else "text/csv; charset=utf-8")
    # ASCII names only (statement and batch numbers, public ids): no header encoding needed.
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# A results workbook is a few hundred rows: it may expand to this much and no more. The CSV made
# from it is bounded too, since one long shared string can be referenced by every cell.
RESULTS_XLSX_MAX_EXPANDED = 50 * 1024 * 1024
RESULTS_CSV_MAX_BYTES = 20 * 1024 * 1024


def xlsx_to_csv(data: bytes) -> bytes:
    """A payment channel's results as XLSX, read as the CSV apply_results expects (first
    sheet, values only). Raises ReadError (a ValueError), with the reason and its code, when it
    is not a readable workbook or expands beyond the limits above."""
    from liveloop.importers.readers import ReadError, open_xlsx

    out = io.StringIO()
    writer = csv.writer(out)
    with open_xlsx(io.BytesIO(data), progress=False, max_expanded=RESULTS_XLSX_MAX_EXPANDED) as table:
        writer.writerow(["" if value is None else str(value) for value in table.header])
        written = 1
        for number, row in table.rows:
            # Blank rows are skipped by the reader: keep their lines, so an error's row number
            # is the workbook's.
            out.write("\r\n" * (number - written - 1))
            writer.writerow(["" if value is None else str(value) for value in row])
            written = number
            if out.tell() > RESULTS_CSV_MAX_BYTES:
                raise ReadError(f"the workbook's cells hold more than {RESULTS_CSV_MAX_BYTES:,} "
                                "bytes of text", "too_large")
    return out.getvalue().encode("utf-8")
