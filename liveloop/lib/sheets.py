"""Cells for people's spreadsheets (CSV and XLSX): text that never runs as a formula."""
from openpyxl.cell import WriteOnlyCell

YUAN_FORMAT = "#,##0.00"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_cell(value):
    """A value for csv.writer: None as an empty cell, text that a spreadsheet would run as a
    formula kept as text."""
    if value is None:
        return ""
    # Spreadsheets run a cell starting with = + - @ as a formula (CSV injection): a promoter
    # named "=HYPERLINK(…)" gets a leading apostrophe and stays text. Numbers are never text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def text_cell(sheet, value) -> WriteOnlyCell:
    """A write-only XLSX cell holding `value`; a string stays a string."""
    cell = WriteOnlyCell(sheet, value=value)
    # openpyxl reads a string starting with "=" as a formula: a promoter named "=HYPERLINK(…)"
    # must stay text in the finance team's spreadsheet.
    if isinstance(value, str):
        cell.data_type = "s"
    return cell
