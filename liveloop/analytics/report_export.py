"""The post-live report's words (shared by the page and the workbook) and its XLSX export.

The workbook follows exports.py: headers and sheet names in the reader's language (Chinese by
default), money as exact yuan numbers formatted ¥, text cells that can never turn into a
formula. Rates are written as numbers (0.4 formatted 0.0%), rounded only by the format.
"""
from __future__ import annotations

import io
from decimal import Decimal
from fractions import Fraction

from django.http import HttpResponse
from django.utils.translation import gettext, gettext_lazy as _, pgettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from liveloop.lib.numbers import half_up, yuan_amount
from liveloop.lib.sheets import XLSX_TYPE, YUAN_FORMAT, text_cell
from liveloop.rules.audience import BREAKDOWN, UNKNOWN

DIMENSION_LABELS = {
    "touchpoint": _("Touchpoint"),
    "share_scene": _("Share scene"),
    "gender": _("Gender"),
    "city_tier": _("City tier"),
    "region": _("Region"),
    "age_band": _("Age band"),
}
# The contract's touchpoints (docs/events.md); any other value is shown as sent.
VALUE_LABELS = {
    "touchpoint": {
        "article": _("Article"), "short_video": _("Short video"), "moments": _("Moments"),
        "community": _("Community group"), "wecom": _("WeCom"), "personal": _("Personal WeChat"),
        "mini_program": _("Mini program"), "live": _("Live feed"), "public": _("Public traffic"),
    },
    "gender": {"f": _("Women"), "m": _("Men")},
}
BREAKDOWN_COLUMNS = (
    ("value", None), ("entered", _("Viewers")), ("buyers", _("Buyers")), ("orders", _("Orders")),
    ("gmv", _("GMV")), ("refunded", _("Refunded")), ("net", _("Net")), ("follows", _("Follows")),
    ("captures", _("Captures")), ("conversion", _("Conversion")), ("uv_value", _("UV value")),
)
assert {key for key, _label in BREAKDOWN_COLUMNS} >= set(BREAKDOWN)
MONEY = frozenset({"gmv", "refunded", "net", "uv_value", "gpm", "average_order", "private_gmv", "public_gmv"})
RATES = frozenset({"conversion", "viewer_share", "gmv_share", "flywheel_rate"})
PERCENT_FORMAT = "0.0%"


def value_label(dimension: str, value: str) -> str:
    if value == UNKNOWN:
        return str(_("Unknown"))
    if dimension == "city_tier" and value.isdigit():
        return gettext("Tier %(tier)s") % {"tier": value}
    return str(VALUE_LABELS.get(dimension, {}).get(value, value))


def overview(report: dict) -> list[tuple[str, str, object]]:
    """(key, label, value) of the report's headline figures, in reading order; a value is an
    int (count or fen, by key), a Fraction or None (no denominator)."""
    s, domain, flywheel, reminders = (report["summary"], report["domain"], report["flywheel"],
                                      report["reminders"])
    return [
        ("reservations", _("Reservations"), s["reservations"]),
        ("reminded", _("Reminded"), reminders["sent"]),
        ("reminders_expired", _("Reminders expired"), reminders["expired"]),
        ("lapsed", pgettext_lazy("reservations", "Lapsed"), report["lapsed"]),
        ("viewers", _("Viewers"), report["viewers"]),
        ("views", _("Views"), report["views"]),
        ("peak", _("Peak concurrent"), report["peak"]),
        ("average_watch", _("Average watch time (s)"), report["average_watch"]),
        ("follows", _("New follows"), s["follows"]),
        ("orders", _("Orders"), s["orders"]),
        ("buyers", _("Buyers"), s["buyers"]),
        ("gmv", _("GMV"), s["gmv"]),
        ("refunded", _("Refunded"), s["refunded"]),
        ("net", _("Net"), s["net"]),
        ("conversion", _("Conversion"), report["conversion"]),
        ("uv_value", _("UV value"), report["uv_value"]),
        ("gpm", _("GMV per thousand views"), report["gmv_per_thousand_views"]),
        ("average_order", _("Average order value"), report["average_order"]),
        ("private_viewers", _("Viewers through promoters"), domain["private"]["viewers"]),
        ("public_viewers", _("Viewers from public traffic"), domain["public"]["viewers"]),
        ("viewer_share", _("Private-domain share of viewers"), domain["viewer_share"]),
        ("private_gmv", _("GMV through promoters"), domain["private"]["gmv"]),
        ("public_gmv", _("GMV from public traffic"), domain["public"]["gmv"]),
        ("gmv_share", _("Private-domain share of GMV"), domain["gmv_share"]),
        ("captures", _("Captures"), flywheel["captures"]),
        ("public_captures", _("Net private-domain growth"), flywheel["public_captures"]),
        ("flywheel_rate", _("Public viewers captured"), flywheel["rate"]),
    ]


def _number(sheet, key: str, value) -> WriteOnlyCell:
    if value is None:
        return text_cell(sheet, "")
    if key in MONEY:
        cell = WriteOnlyCell(sheet, value=_money(value))
        cell.number_format = YUAN_FORMAT
    elif key in RATES:
        cell = WriteOnlyCell(sheet, value=_decimal(value, 6))
        cell.number_format = PERCENT_FORMAT
    elif isinstance(value, Fraction):
        cell = WriteOnlyCell(sheet, value=_decimal(value, 1))
    else:
        cell = WriteOnlyCell(sheet, value=value)
    return cell


def _decimal(value: Fraction, places: int) -> Decimal:
    return half_up(value, places)


def _money(value) -> Decimal:
    """Fen (an int or an exact fraction) as yuan, rounded half up to the fen."""
    if isinstance(value, Fraction):
        value = int(_decimal(value, 0))
    return yuan_amount(value)


def _header(sheet, labels) -> list:
    bold = Font(bold=True)
    cells = []
    for label in labels:
        cell = text_cell(sheet, str(label))
        cell.font = bold
        cells.append(cell)
    return cells


def report_workbook(live, report: dict, promoters, *, unattributed_label: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(gettext("Overview"))
    sheet.append(_header(sheet, (gettext("Figure"), gettext("Value"))))
    sheet.append([text_cell(sheet, gettext("Live")), text_cell(sheet, live.title)])
    for key, label, value in overview(report):
        sheet.append([text_cell(sheet, str(label)), _number(sheet, key, value)])

    for dimension, rows in report["breakdowns"].items():
        if not rows:
            continue
        sheet = book.create_sheet(str(DIMENSION_LABELS[dimension])[:31])
        sheet.freeze_panes = "A2"
        sheet.append(_header(sheet, [DIMENSION_LABELS[dimension] if key == "value" else label
                                     for key, label in BREAKDOWN_COLUMNS]))
        for row in rows:
            sheet.append([text_cell(sheet, value_label(dimension, row["value"])) if key == "value"
                          else _number(sheet, key, row[key]) for key, _label in BREAKDOWN_COLUMNS])

    figures = ("reservations", "entered", "buyers", "orders", "gmv", "refunded", "net", "follows", "captures")
    labels = {"reservations": _("Reservations"), "entered": _("Viewers"), "buyers": _("Buyers"),
              "orders": _("Orders"), "gmv": _("GMV"), "refunded": _("Refunded"), "net": _("Net"),
              "follows": _("Follows"), "captures": _("Captures")}
    sheet = book.create_sheet(gettext("Teams"))
    sheet.freeze_panes = "A2"
    sheet.append(_header(sheet, [_("Team / store"), _("Region"), _("Promoters"), *(labels[f] for f in figures)]))
    teams = report["teams"]
    # The no-team row's own "team" is None: the label goes after it, or the cell comes out empty.
    extra = [({**teams["no_team"], "team": gettext("No team"), "region": ""}) if teams["no_team"] else None,
             {"team": unattributed_label, "region": "", "promoters": "", **teams["unattributed"]}]
    for row in [*teams["teams"], *(r for r in extra if r)]:
        sheet.append([text_cell(sheet, row["team"]), text_cell(sheet, row["region"]), text_cell(sheet, row["promoters"])
                      if row["promoters"] == "" else row["promoters"],
                      *(_number(sheet, f, row[f]) for f in figures)])

    sheet = book.create_sheet(gettext("Promoters"))
    sheet.freeze_panes = "A2"
    sheet.append(_header(sheet, [_("Code"), _("Name"), _("Team / store"), *(labels[f] for f in figures)]))
    for row in promoters:
        name = unattributed_label if row["promoter"] is None else row["name"]
        sheet.append([text_cell(sheet, row["promoter"] or ""), text_cell(sheet, name or ""), text_cell(sheet, row["team"] or ""),
                      *(_number(sheet, f, row[f]) for f in figures)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def report_xlsx_response(live, report: dict, promoters) -> HttpResponse:
    body = report_workbook(live, report, promoters,
                           unattributed_label=gettext("Natural traffic (unattributed)"))
    response = HttpResponse(body, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{live.public_id}-report.xlsx"'
    return response
