"""Matrix roll-ups: the figures of a selection of lives across accounts, stores and regions.

A store-based brand runs several accounts at once and its promoters sit in stores grouped by
region; this module answers "how did the whole matrix do that day / week / in these lives" in
three tables that each add up to the same total.
"""
import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import BooleanField, Case, Sum, Value, When
from django.http import HttpResponse
from django.utils.translation import gettext, gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from liveloop.analytics.models import PromoterStats
from liveloop.analytics.queries import rate
from liveloop.lib.numbers import yuan_amount
from liveloop.lib.sheets import XLSX_TYPE, YUAN_FORMAT, csv_cell, text_cell
from liveloop.lives.models import Live
from liveloop.rules.attribution import FIGURES

ACCOUNTS, STORES, REGIONS = "accounts", "stores", "regions"
TABLES = (ACCOUNTS, STORES, REGIONS)
# The row kinds besides a named group: kept apart so no one mistakes them for a store or region.
GROUP, NO_STORE, NO_REGION, UNATTRIBUTED, TOTAL = "group", "no_store", "no_region", "unattributed", "total"
MATRIX_FIGURES = ("reservations", "entered", "buyers", "orders", "gmv", "refunded", "net")
MONEY = frozenset({"gmv", "refunded", "net"})
MAX_SELECTED = 200  # an explicit selection beyond this is a hand-made URL, not a person ticking boxes


# Selections: every one scoped to the organisation.

def _local_midnight(org, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(org.timezone))


def lives_between(org, since: datetime, until: datetime):
    return Live.objects.for_org(org).filter(announced_at__gte=since, announced_at__lt=until)


def lives_on_day(org, day: date):
    """Lives announced on `day` in the organisation's time zone (23:30 Shanghai is that day)."""
    start = _local_midnight(org, day)
    return lives_between(org, start, _local_midnight(org, day + timedelta(days=1)))


def week_of(day: date) -> tuple[date, date]:
    """(Monday, Sunday) of the week holding `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def lives_in_week(org, day: date):
    """Lives announced Monday 00:00 – Sunday 24:00 (organisation's zone) of the week holding `day`."""
    monday, sunday = week_of(day)
    return lives_between(org, _local_midnight(org, monday), _local_midnight(org, sunday + timedelta(days=1)))


def lives_by_ids(org, public_ids):
    """The organisation's lives among `public_ids`; another organisation's ids match nothing."""
    ids = [str(pid) for pid in public_ids][:MAX_SELECTED]
    return Live.objects.for_org(org).filter(public_id__in=ids)


# The roll-up.

def _empty() -> dict:
    return {"lives": set(), **{name: 0 for name in FIGURES}}


def _add(bucket: dict, values: dict) -> None:
    bucket["lives"].add(values["live_id"])
    for name in FIGURES:
        bucket[name] += values[name] or 0


def _finish(bucket: dict, kind: str, name: str, key=None, region: str = "") -> dict:
    row = {"kind": kind, "key": key, "name": name, "region": region, "lives": len(bucket["lives"]),
           **{figure: bucket[figure] for figure in FIGURES}}
    row["net"] = row["gmv"] - row["refunded"]
    row["conversion"] = rate(row["buyers"], row["entered"])
    return row


def _ranked(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: (-row["net"], -row["reservations"], row["name"]))


def matrix(org, lives) -> dict:
    """The figures of `lives` (a queryset or iterable of lives) by account, store and region.

    Returns {"lives": n, "accounts": rows, "stores": rows, "regions": rows, "total": row}.
    Stores and regions end with their "no store" / "no region" row (promoters without a store,
    or stores without a region) and the unattributed row (natural traffic), so every table adds
    up to the total, which is the sum of the selected lives' live_summary. Each row: kind, key,
    name, region (stores), lives, the figures, net and conversion (buyers / entered in percent,
    None when nobody entered).

    One grouped query: a row per live × account × store × attributed-or-not, folded here
    because a live belongs to several stores and regions at once, so "lives" per group cannot
    be summed from another grouping.
    """
    if hasattr(lives, "values_list"):
        live_ids = list(lives.filter(org=org).values_list("pk", flat=True))
    else:
        live_ids = [live.pk for live in lives if live.org_id == org.pk]
    stats = (PromoterStats.objects.for_org(org).filter(live_id__in=live_ids)
             .annotate(unattributed=Case(When(promoter__isnull=True, then=Value(True)), default=Value(False),
                                         output_field=BooleanField()))
             .order_by()
             .values("live_id", "live__account_id", "live__account__name", "promoter__team_id",
                     "promoter__team__name", "promoter__team__region", "unattributed")
             .annotate(**{name: Sum(name) for name in FIGURES}))
    accounts, stores, regions = {}, {}, {}
    names, store_regions = {}, {}
    no_store, no_region, unattributed, total = _empty(), _empty(), _empty(), _empty()
    total["lives"] = set(live_ids)
    for values in stats:
        account = values["live__account_id"]
        names[account] = values["live__account__name"]
        _add(accounts.setdefault(account, _empty()), values)
        _add(total, values)
        if values["unattributed"]:
            _add(unattributed, values)
            continue
        team = values["promoter__team_id"]
        if team is None:
            _add(no_store, values)
        else:
            store_regions[team] = (values["promoter__team__name"], values["promoter__team__region"] or "")
            _add(stores.setdefault(team, _empty()), values)
        region = values["promoter__team__region"] or ""
        _add(regions.setdefault(region, _empty()) if region else no_region, values)

    def tail(rows, missing, kind, label):
        if missing["lives"]:
            rows.append(_finish(missing, kind, label))
        if unattributed["lives"]:
            rows.append(_finish(unattributed, UNATTRIBUTED, gettext("Natural traffic (unattributed)")))
        return rows

    return {
        "lives": len(live_ids),
        "accounts": _ranked([_finish(bucket, GROUP, names[pk], key=pk) for pk, bucket in accounts.items()]),
        "stores": tail(_ranked([_finish(bucket, GROUP, store_regions[pk][0], key=pk, region=store_regions[pk][1])
                                for pk, bucket in stores.items()]),
                       no_store, NO_STORE, gettext("No store")),
        "regions": tail(_ranked([_finish(bucket, GROUP, region, key=region) for region, bucket in regions.items()]),
                        no_region, NO_REGION, gettext("No region")),
        "total": _finish(total, TOTAL, gettext("Total")),
    }


# Exports: the three tables, headers in the reader's language, money in yuan.

TABLE_LABELS = {ACCOUNTS: _("By account"), STORES: _("By store"), REGIONS: _("By region")}
NAME_LABELS = {ACCOUNTS: _("Account"), STORES: _("Store"), REGIONS: _("Region")}
FIGURE_LABELS = {
    "lives": _("Lives"), "reservations": _("Reservations"), "entered": _("Entered"),
    "buyers": _("Buyers"), "orders": _("Orders"), "gmv": _("GMV"), "refunded": _("Refunded"),
    "net": _("Net"), "conversion": _("Conversion (%)"),
}
EXPORT_FIGURES = ("lives", *MATRIX_FIGURES, "conversion")
NO_RATE = "—"


def table_rows(result: dict, table: str) -> list[dict]:
    """A table's rows followed by the total row: what the page and the exports show."""
    return [*result[table], result["total"]]


def _header(table: str) -> list[str]:
    extra = [str(_("Region"))] if table == STORES else []
    return [str(NAME_LABELS[table]), *extra, *(str(FIGURE_LABELS[name]) for name in EXPORT_FIGURES)]


def _values(row: dict, table: str) -> list:
    extra = [row["region"]] if table == STORES else []
    figures = []
    for name in EXPORT_FIGURES:
        value = row[name]
        if name in MONEY:
            value = yuan_amount(value, 2)  # "200.00" in the CSV, exact either way
        elif name == "conversion" and value is None:
            value = NO_RATE
        figures.append(value)
    return [row["name"], *extra, *figures]


def write_matrix_csv(result: dict, out) -> None:
    """The three tables one after another, each under its title, a blank line between."""
    out.write("\ufeff")  # so Excel on Chinese Windows reads UTF-8
    writer = csv.writer(out)
    for index, table in enumerate(TABLES):
        if index:
            writer.writerow([])
        writer.writerow([str(TABLE_LABELS[table])])
        writer.writerow(_header(table))
        for row in table_rows(result, table):
            writer.writerow([csv_cell(value) for value in _values(row, table)])


def matrix_workbook(result: dict) -> bytes:
    """One sheet per table, named by its title."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for table in TABLES:
        sheet = book.create_sheet(str(TABLE_LABELS[table]))
        sheet.freeze_panes = "A2"
        header = []
        for label in _header(table):
            cell = text_cell(sheet, label)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        money_at = {index for index, name in enumerate(_header_keys(table)) if name in MONEY}
        for row in table_rows(result, table):
            cells = []
            for index, value in enumerate(_values(row, table)):
                if index in money_at:
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = YUAN_FORMAT
                elif isinstance(value, str):
                    cell = text_cell(sheet, value)
                else:
                    cell = WriteOnlyCell(sheet, value=value)
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _header_keys(table: str) -> list[str]:
    return ["name", *(["region"] if table == STORES else []), *EXPORT_FIGURES]


def matrix_csv_response(result: dict, stem: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    write_matrix_csv(result, response)
    return response


def matrix_xlsx_response(result: dict, stem: str) -> HttpResponse:
    response = HttpResponse(matrix_workbook(result), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{stem}.xlsx"'
    return response
