"""Cross-live trends: the figures of each live over time, for one account or the whole brand,
and the conversion by touchpoint compared across lives (docs/decisions.md "Post-live report").

Four grouped queries over the derived tables whatever the number of lives: PromoterStats by
live, LiveStats, LiveAudience and the touchpoint rows of AudienceStats.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime
from fractions import Fraction

from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.utils.translation import gettext, gettext_lazy as _lazy

from liveloop.analytics.exports import csv_response, local_time, time_text
from liveloop.analytics.models import AudienceStats, LiveAudience, LiveStats, PromoterStats
from liveloop.analytics.report import ratio
from liveloop.lib.numbers import half_up
from liveloop.lib.sheets import XLSX_TYPE, YUAN_FORMAT, csv_cell, text_cell
from liveloop.lives.models import Live
from liveloop.orgs.zones import zone_label
from liveloop.rules.attribution import ENDED, FIGURES, LIVE
from liveloop.rules.audience import UNKNOWN

MAX_LIVES = 100  # the most recent lives of the period; a chart of more cannot be read


def trend_lives(org, account=None, since: datetime | None = None, until: datetime | None = None):
    """The lives that went on air (on air now or ended), in [since, until) by their start,
    oldest first, at most MAX_LIVES (the most recent)."""
    lives = (Live.objects.for_org(org).filter(state__in=(LIVE, ENDED))
             .annotate(on_air=Coalesce("started_at", "announced_at")))
    if account is not None:
        lives = lives.filter(account=account)
    if since is not None:
        lives = lives.filter(on_air__gte=since)
    if until is not None:
        lives = lives.filter(on_air__lt=until)
    recent = list(lives.select_related("account").order_by("-on_air", "-pk")[:MAX_LIVES])
    recent.reverse()
    return recent


def trend_rows(org, lives) -> list[dict]:
    """One row per live, in the order given: every figure, net, peak online, public captures
    (net private-domain growth), conversion and UV value (exact fractions)."""
    ids = [live.pk for live in lives]
    figures = {row["live_id"]: row for row in
               PromoterStats.objects.for_org(org).filter(live_id__in=ids).order_by()
               .values("live_id").annotate(**{name: Sum(name) for name in FIGURES})}
    peaks = dict(LiveStats.objects.for_org(org).filter(live_id__in=ids).values_list("live_id", "peak_online"))
    growth = dict(LiveAudience.objects.for_org(org).filter(live_id__in=ids)
                  .values_list("live_id", "public_captures"))
    rows = []
    for live in lives:
        row = {"live": live, "public_id": live.public_id, "title": live.title, "account": live.account.name,
               "at": live.on_air,
               **{name: (figures.get(live.pk, {}).get(name) or 0) for name in FIGURES}}
        row["net"] = row["gmv"] - row["refunded"]
        row["peak_online"] = peaks.get(live.pk, 0)
        row["public_captures"] = growth.get(live.pk, 0)
        row["conversion"] = ratio(row["buyers"], row["entered"])
        row["uv_value"] = ratio(row["gmv"], row["entered"])
        rows.append(row)
    return rows


def touchpoint_conversion(org, lives) -> tuple[list[str], dict[int, dict[str, Fraction | None]]]:
    """The touchpoints seen across the lives (most viewers first; unknown left out) and, per
    live, each touchpoint's conversion: buyers / viewers counted under that touchpoint."""
    per_live: dict[int, dict[str, tuple[int, int]]] = {}
    totals: dict[str, int] = {}
    for live_id, value, entered, buyers in (
            AudienceStats.objects.for_org(org).filter(live_id__in=[live.pk for live in lives], dimension="touchpoint")
            .exclude(value=UNKNOWN).values_list("live_id", "value", "entered", "buyers")):
        per_live.setdefault(live_id, {})[value] = (entered, buyers)
        totals[value] = totals.get(value, 0) + entered
    touchpoints = sorted(totals, key=lambda value: (-totals[value], value))
    rates = {live.pk: {tp: ratio(per_live.get(live.pk, {}).get(tp, (0, 0))[1],
                                 per_live.get(live.pk, {}).get(tp, (0, 0))[0]) for tp in touchpoints}
             for live in lives}
    return touchpoints, rates


CSV_COLUMNS = ("live", "title", "account", "on_air", "reservations", "entered", "buyers", "orders", "gmv",
               "refunded", "net", "follows", "captures", "public_captures", "peak_online", "conversion",
               "uv_value")


def _rate(value: Fraction | None, places: int = 6) -> str:
    return "" if value is None else str(half_up(value, places))


def write_trends_csv(rows, touchpoints, rates, out) -> None:
    """Money in integer fen (sums exactly), rates as decimals to six places, one column of
    conversion per touchpoint."""
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *(f"conversion_{tp}" for tp in touchpoints)])
    for row in rows:
        values = {**row, "live": row["public_id"], "on_air": row["at"].isoformat(),
                  "conversion": _rate(row["conversion"]), "uv_value": _rate(row["uv_value"], 2)}
        writer.writerow([csv_cell(values[c]) for c in CSV_COLUMNS]
                        + [_rate(rates[row["live"].pk][tp]) for tp in touchpoints])


def trends_csv_response(rows, touchpoints, rates, stem: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    write_trends_csv(rows, touchpoints, rates, response)
    return response


# The page's downloads (trends.csv / trends.xlsx), for people: headers in the reader's
# language, the start in the organisation's zone, money in yuan, rates as percentages. The
# machine format above (English keys, fen, ISO UTC) stays for whoever calls it from code.
PAGE_COLUMNS = (
    ("live", _lazy("Live ID"), None), ("title", _lazy("Title"), None), ("account", _lazy("Account"), None),
    ("at", None, "time"), ("reservations", _lazy("Reservations"), None), ("entered", _lazy("Viewers"), None),
    ("buyers", _lazy("Buyers"), None), ("orders", _lazy("Orders"), None), ("gmv", _lazy("GMV"), "money"),
    ("refunded", _lazy("Refunded"), "money"), ("net", _lazy("Net"), "money"),
    ("follows", _lazy("New follows"), None), ("captures", _lazy("Captures"), None),
    ("public_captures", _lazy("Net private-domain growth"), None), ("peak_online", _lazy("Peak online"), None),
    ("conversion", _lazy("Conversion"), "rate"), ("uv_value", _lazy("UV value"), "money"),
)


def page_table(org, rows, touchpoints, rates):
    """(header, kinds, values): one list per live of typed values (fen as int or Fraction,
    rates as Fraction or None, the start as an aware datetime); the writers format them."""
    from liveloop.analytics.report_export import value_label

    header = [gettext("Started (%(zone)s)") % {"zone": zone_label(org.timezone)} if key == "at" else str(label)
              for key, label, _kind in PAGE_COLUMNS]
    header += [gettext("Conversion: %(touchpoint)s") % {"touchpoint": value_label("touchpoint", tp)}
               for tp in touchpoints]
    kinds = [kind for _key, _label, kind in PAGE_COLUMNS] + ["rate"] * len(touchpoints)
    values = [[row["public_id"] if key == "live" else row[key] for key, _label, _kind in PAGE_COLUMNS]
              + [rates[row["live"].pk][tp] for tp in touchpoints] for row in rows]
    return header, kinds, values


def _page_text(value, kind, org):
    if kind == "money":
        if value is None:  # UV value of a live nobody entered: nothing to divide by
            return ""
        return str(half_up(Fraction(value) / 100, 2))  # fen, or a Fraction of a fen (per viewer)
    if kind == "rate":
        # The page's own figure (one decimal of a percent), or empty with nothing to divide by.
        return "" if value is None else f"{half_up(value * 100, 1)}%"
    if kind == "time":
        return time_text(value, org)
    return value


def trends_page_csv_response(org, rows, touchpoints, rates, stem: str) -> HttpResponse:
    header, kinds, values = page_table(org, rows, touchpoints, rates)
    return csv_response(f"{stem}.csv", header,
                        ([_page_text(v, k, org) for v, k in zip(row, kinds)] for row in values))


def trends_workbook(org, rows, touchpoints, rates) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    header, kinds, values = page_table(org, rows, touchpoints, rates)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(gettext("Trends"))
    sheet.freeze_panes = "C2"
    bold = Font(bold=True)
    cells = []
    for label in header:
        cell = text_cell(sheet, label)
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    for row in values:
        cells = []
        for value, kind in zip(row, kinds):
            if kind == "money" and value is None:
                cell = WriteOnlyCell(sheet, value=None)
            elif kind == "money":
                # Whole fen first (the page's rounding), then exact yuan: no float anywhere.
                cell = WriteOnlyCell(sheet, value=half_up(Fraction(value) / 100, 2))
                cell.number_format = YUAN_FORMAT
            elif kind == "rate":
                cell = WriteOnlyCell(sheet, value=None if value is None else half_up(value, 3))
                cell.number_format = "0.0%"
            elif kind == "time":
                cell = WriteOnlyCell(sheet, value=local_time(value, org))
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, str):
                cell = text_cell(sheet, value)
            else:
                cell = WriteOnlyCell(sheet, value=value)
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def trends_xlsx_response(org, rows, touchpoints, rates, stem: str) -> HttpResponse:
    response = HttpResponse(trends_workbook(org, rows, touchpoints, rates), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{stem}.xlsx"'
    return response
