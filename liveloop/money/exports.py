"""Spreadsheets for finance: a settlement run's statements and a payout batch file, as CSV and
XLSX. Headers are Chinese with the English word after (the file goes to a payment channel or an
accountant whatever the page's language); amounts in yuan, exact (Decimal from integer fen,
never a float); a text cell that a spreadsheet would run as a formula stays text (the helpers
of analytics.exports)."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.db.models import Q, Sum
from django.http import HttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from liveloop.analytics.exports import XLSX_TYPE, YUAN_FORMAT, _csv_cell, _text, yuan as _exact_yuan
from liveloop.money.models import PayoutBatch, SettlementRun, Statement
from liveloop.money.payouts import BATCH_HEADERS, batch_rows


def yuan(fen: int) -> Decimal:
    """Exact yuan with two places, as finance writes it: 600 → Decimal('6.00')."""
    return _exact_yuan(fen).quantize(Decimal("0.01"))


STATE_WORDS = {Statement.FROZEN: "冻结中 frozen", Statement.SETTLED: "已结算 settled",
               Statement.PAID: "已打款 paid", Statement.FAILED: "打款失败 failed"}

# (header, key, is money)
STATEMENT_COLUMNS = (
    ("结算单号 statement", "number", False),
    ("推广员编号 code", "code", False),
    ("姓名 name", "name", False),
    ("团队 team", "team", False),
    ("直播 live", "live", False),
    ("本场佣金（元）live commission", "live_fen", True),
    ("扣回与调整（元）clawbacks & adjustments", "carried_fen", True),
    ("应发（元）gross", "gross", True),
    ("代扣个税（元）tax withheld", "tax", True),
    ("实发（元）payable", "payable", True),
    ("状态 state", "state", False),
    ("收款账号 payee", "payee", False),
    ("付款参考号 paid reference", "paid_reference", False),
)
STATEMENT_HEADERS = tuple(header for header, _key, _money in STATEMENT_COLUMNS)


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
               "state": STATE_WORDS.get(s.state, s.state), "payee": s.payee if full_payee else s.masked_payee,
               "paid_reference": s.paid_reference}


def _csv_bytes(headers, rows) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # Excel on Chinese Windows reads UTF-8 only with a BOM
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
    return out.getvalue().encode("utf-8")


def _xlsx_bytes(title: str, headers, rows, money_columns: set[int]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in headers:
        cell = _text(sheet, text)
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
                cell = _text(sheet, "" if value is None else value)
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _statement_values(org, run, full_payee):
    for row in statement_rows(org, run, full_payee):
        yield [yuan(row[key]) if money else row[key] for _header, key, money in STATEMENT_COLUMNS]


STATEMENT_MONEY = {i for i, (_h, _k, money) in enumerate(STATEMENT_COLUMNS) if money}


def statements_csv(org, run, full_payee: bool = False) -> bytes:
    return _csv_bytes(STATEMENT_HEADERS, _statement_values(org, run, full_payee))


def statements_xlsx(org, run, full_payee: bool = False) -> bytes:
    return _xlsx_bytes(f"结算 {run.live.public_id}", STATEMENT_HEADERS, _statement_values(org, run, full_payee),
                       STATEMENT_MONEY)


# The batch file: the core's rows; the yuan column becomes an exact number in the workbook.
BATCH_MONEY = {BATCH_HEADERS.index("金额（元）amount")}


def _batch_values(batch):
    for row in batch_rows(batch):
        row = list(row)
        for index in BATCH_MONEY:
            row[index] = yuan(row[-1])  # from the fen column: exact
        yield row


def batch_csv(batch: PayoutBatch) -> bytes:
    return _csv_bytes(BATCH_HEADERS, _batch_values(batch))


def batch_xlsx(batch: PayoutBatch) -> bytes:
    return _xlsx_bytes(batch.number, BATCH_HEADERS, _batch_values(batch), BATCH_MONEY)


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
