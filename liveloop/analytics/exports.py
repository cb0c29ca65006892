"""Spreadsheet exports of the derived figures, shared by the API and the pages."""
import csv
import io

from django.http import HttpResponse
from django.utils.translation import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from liveloop.analytics.figures import LABELS, MONEY_KEYS, PROMOTER_KEYS
from liveloop.lib.numbers import yuan_amount, yuan_text
from liveloop.lib.sheets import XLSX_TYPE, YUAN_FORMAT, csv_cell, text_cell

# The API's CSV: the keys of the API's PromoterRow as headers, money stays integer fen so
# spreadsheets sum exactly. The page's CSV and the workbook are for people (finance lives in
# Excel): headers in the reader's language, the same words as the live page's table, money in
# yuan. All three read analytics/figures.py.
PROMOTER_COLUMNS = PROMOTER_KEYS
MONEY_COLUMNS = MONEY_KEYS
XLSX_HEADERS = LABELS


def write_promoter_csv(rows, out) -> None:
    """Write promoter_rows() to a text file-like object (an HttpResponse is one)."""
    # A BOM so Excel on Chinese Windows opens UTF-8 names correctly.
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(PROMOTER_COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in PROMOTER_COLUMNS])


def promoter_csv_response(live, rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{live.public_id}-promoters.csv"'
    write_promoter_csv(rows, response)
    return response


def local_time(moment, org):
    """An aware datetime as the naive wall-clock time of the organisation's zone, for a
    spreadsheet cell (Excel has no zones: the header names the zone)."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(org.timezone)).replace(tzinfo=None)


def time_text(moment, org) -> str:
    """"2026-12-08 22:53" in the organisation's zone: never a UTC ISO string in a person's file."""
    return "" if moment is None else local_time(moment, org).strftime("%Y-%m-%d %H:%M")


def csv_response(filename: str, header, rows) -> HttpResponse:
    """A CSV for a person: BOM first (Excel on Chinese Windows reads UTF-8 only with one),
    every text cell formula-neutralised."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([str(label) for label in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response


def organic_label() -> str:
    return gettext("Natural traffic (unattributed)")


def promoter_page_csv_response(live, rows) -> HttpResponse:
    """The live page's "Export CSV": the workbook's translated headers, the organic row named,
    money as yuan text. The API keeps write_promoter_csv (English keys, fen)."""
    def values(row):
        for column in PROMOTER_COLUMNS:
            value = row[column]
            if column in MONEY_COLUMNS:
                yield yuan_text(value)
            elif column == "name" and row["promoter"] is None:
                yield organic_label()
            else:
                yield value

    return csv_response(f"{live.public_id}-promoters.csv", [XLSX_HEADERS[c] for c in PROMOTER_COLUMNS],
                        (list(values(row)) for row in rows))


def promoter_workbook(live, rows) -> bytes:
    """One sheet: the promoter rows (unattributed first, labelled), headers translated."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(live.public_id)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in PROMOTER_COLUMNS:
        cell = text_cell(sheet, str(XLSX_HEADERS[column]))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    unattributed = organic_label()
    for row in rows:
        cells = []
        for column in PROMOTER_COLUMNS:
            value = row[column]
            if column in MONEY_COLUMNS:
                cell = WriteOnlyCell(sheet, value=yuan_amount(value))
                cell.number_format = YUAN_FORMAT
            elif column == "name" and row["promoter"] is None:
                cell = text_cell(sheet, unattributed)
            else:
                cell = text_cell(sheet, "" if value is None else value)
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def promoter_xlsx_response(live, rows) -> HttpResponse:
    response = HttpResponse(promoter_workbook(live, rows), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{live.public_id}-promoters.xlsx"'
    return response
