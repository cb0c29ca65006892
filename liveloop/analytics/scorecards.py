"""Agency scorecards: a month of every client brand's lives, per broadcasting account, with a
subtotal per brand and a total. Read by the agency's own members only (web.scorecards)."""
import csv
import io
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum
from django.http import HttpResponse
from django.utils.translation import gettext, gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from liveloop.analytics.exports import csv_response
from liveloop.analytics.models import PromoterStats
from liveloop.lib.numbers import percent, yuan_amount, yuan_text
from liveloop.lib.sheets import XLSX_TYPE, YUAN_FORMAT, csv_cell, text_cell
from liveloop.lives.models import Account
from liveloop.orgs.models import Organisation
from liveloop.rules.attribution import ENDED

SUMMED = ("reservations", "entered", "buyers", "gmv", "refunded", "captures")
# The figures of a row, in the table's and the exports' order; money is integer fen.
FIGURES = ("lives", "ended", "reservations", "entered", "buyers", "gmv", "net", "conversion", "captures")
MONEY = frozenset({"gmv", "net"})
ACCOUNT, BRAND, TOTAL = "account", "brand", "total"


def month_bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month holding `month`, midnight to midnight in `zone`."""
    tz = ZoneInfo(zone)
    first = month.replace(day=1)
    following = (first.replace(year=first.year + 1, month=1) if first.month == 12
                 else first.replace(month=first.month + 1))
    return datetime.combine(first, time(), tzinfo=tz), datetime.combine(following, time(), tzinfo=tz)


def conversion(buyers: int, entered: int) -> Decimal | None:
    """buyers / entered as a percentage to two places (half up) from integers, no float; None
    when nobody entered. Subtotals pool (sum over sum), never average the rows' rates."""
    return percent(buyers, entered, 2)


def _row(level: str, brand, account, sums: dict) -> dict:
    figures = {name: sums.get(name) or 0 for name in ("lives", "ended", *SUMMED)}
    figures["net"] = figures["gmv"] - figures["refunded"]
    figures["conversion"] = conversion(figures["buyers"], figures["entered"])
    return {"level": level, "brand": brand, "account": account, **figures}


def _add(total: dict, row: dict) -> None:
    for name in ("lives", "ended", *SUMMED):
        total[name] = total.get(name, 0) + row[name]


def scorecard(agency: Organisation, month: date) -> list[dict]:
    """Rows for every client brand of the agency: one per account (lives announced in the month,
    in the agency's zone, and their summed figures), then the brand's subtotal; a total last.

    Brands and accounts without a live that month are listed with zeros. The figures come from
    one aggregate query over PromoterStats: every live has its unattributed row from creation
    (analytics.models), so counting distinct lives there counts every live of the month.
    """
    start, end = month_bounds(month, agency.timezone)
    # Sorted here, not by the database: PostgreSQL's collation orders Chinese names differently
    # from SQLite, and an export should read the same wherever it was made.
    brands = sorted(Organisation.objects.filter(agency=agency), key=lambda org: (org.name, org.pk))
    accounts = {}
    for account in sorted(Account.objects.filter(org__in=brands), key=lambda a: (a.name, a.pk)):
        accounts.setdefault(account.org_id, []).append(account)
    # Scoped by the client brands' ids: the stats' indexes start with org, and a live is always
    # in its own stats' organisation.
    grouped = (PromoterStats.objects.filter(org__in=[brand.pk for brand in brands],
                                            live__announced_at__gte=start, live__announced_at__lt=end)
               .order_by().values("live__account_id")
               .annotate(lives=Count("live", distinct=True),
                         ended=Count("live", distinct=True, filter=Q(live__state=ENDED)),
                         **{name: Sum(name) for name in SUMMED}))
    by_account = {values["live__account_id"]: values for values in grouped}
    rows, grand = [], {}
    for brand in brands:
        subtotal = {}
        for account in accounts.get(brand.pk, []):
            row = _row(ACCOUNT, brand, account, by_account.get(account.pk, {}))
            _add(subtotal, row)
            rows.append(row)
        rows.append(_row(BRAND, brand, None, subtotal))
        _add(grand, subtotal)
    rows.append(_row(TOTAL, None, None, grand))
    return rows


# Exports: the CSV for machines (integer fen, like the promoter CSV), the workbook for people.

CSV_COLUMNS = ("brand", "account", "level", "lives", "ended", "reservations", "entered", "buyers",
               "gmv", "net", "conversion_percent", "captures")

XLSX_HEADERS = {
    "brand": _("Brand"), "account": _("Account"), "lives": _("Lives"), "ended": _("Ended"),
    "reservations": _("Reservations"), "entered": _("Viewers"), "buyers": _("Buyers"),
    "gmv": _("GMV"), "net": _("Net"), "conversion": _("Conversion (buyers / viewers)"),
    "captures": _("Captures"),
}


def _names(row: dict) -> tuple[str, str]:
    brand = row["brand"].name if row["brand"] else ""
    account = row["account"].name if row["account"] else ""
    return brand, account


def write_scorecard_csv(rows, out) -> None:
    """The machine format (English keys, integer fen, the level's code); no page serves it."""
    out.write("\ufeff")  # Excel on Chinese Windows needs the BOM to read UTF-8 names
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        brand, account = _names(row)
        cells = [brand, account, row["level"], *(row[name] for name in FIGURES)]
        writer.writerow([csv_cell(cell) for cell in cells])


def _page_cells(row) -> list:
    """A row of the page's CSV: the workbook's columns and labels, yuan text, the percent."""
    brand, account = _names(row)
    labels = {BRAND: gettext("Subtotal"), TOTAL: gettext("Total")}
    cells = [brand, labels.get(row["level"], account)]
    for name in FIGURES:
        value = row[name]
        if name in MONEY:
            value = yuan_text(value)
        elif name == "conversion":
            value = "" if value is None else f"{value}%"
        cells.append(value)
    return cells


def filename(agency: Organisation, month: date, extension: str) -> str:
    return f"{agency.slug}-scorecard-{month:%Y-%m}.{extension}"


def scorecard_csv_response(agency, month, rows) -> HttpResponse:
    """The page's CSV, for people: the workbook's translated headers, subtotal and total rows
    labelled, money as yuan text (the machine format is write_scorecard_csv)."""
    return csv_response(filename(agency, month, "csv"), [XLSX_HEADERS[c] for c in ("brand", "account", *FIGURES)],
                        (_page_cells(row) for row in rows))


def scorecard_workbook(month: date, rows) -> bytes:
    """One sheet, headers in the reader's language, money in yuan, conversion as a percent cell;
    subtotal and total rows bold and labelled in the account column."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(f"{month:%Y-%m}")
    sheet.freeze_panes = "C2"
    bold = Font(bold=True)
    header = []
    for column in ("brand", "account", *FIGURES):
        cell = text_cell(sheet, str(XLSX_HEADERS[column]))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    labels = {BRAND: gettext("Subtotal"), TOTAL: gettext("Total")}
    for row in rows:
        brand, account = _names(row)
        cells = [text_cell(sheet, brand), text_cell(sheet, labels.get(row["level"], account))]
        for name in FIGURES:
            value = row[name]
            if name in MONEY:
                cell = WriteOnlyCell(sheet, value=yuan_amount(value))
                cell.number_format = YUAN_FORMAT
            elif name == "conversion":
                # The rounded percentage over 100 is exact, so the cell shows the page's figure.
                cell = WriteOnlyCell(sheet, value=None if value is None else value / 100)
                cell.number_format = "0.00%"
            else:
                cell = WriteOnlyCell(sheet, value=value)
            cells.append(cell)
        if row["level"] != ACCOUNT:
            for cell in cells:
                cell.font = bold
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def scorecard_xlsx_response(agency, month, rows) -> HttpResponse:
    response = HttpResponse(scorecard_workbook(month, rows), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename(agency, month, "xlsx")}"'
    return response
