"""The post-live report (复盘): one page, printable, and its XLSX export."""
from django.shortcuts import render
from django.utils import timezone

from liveloop.analytics.queries import promoter_table
from liveloop.analytics.report import TOP_PROMOTERS, live_report, top_promoters
from liveloop.analytics.report_export import (BREAKDOWN_COLUMNS, DIMENSION_LABELS, overview, report_xlsx_response,
                                              value_label)
from liveloop.notify.queue import reminders
from liveloop.web import queries
from liveloop.web.context import org_view, requires
from liveloop.web.tables import PROMOTER_COLUMNS, ROLLUP_COLUMNS, TEXT
from liveloop.web.templatetags.figures import cell, count


def formatted(rows, columns) -> list[tuple]:
    """(row, [(text, numeric)…]) per row, formatted here: a thousand cells through template
    tags and tests cost more than every query of the report."""
    return [(row, [(cell(row, column), column.kind != TEXT) for column in columns]) for row in rows]


def _report(org, public_id):
    live = queries.live_of(org, public_id)
    live.org = org
    now = timezone.now()
    return live, {**live_report(live, now), "reminders": reminders(live, now)}


@org_view
def report_page(request, org, public_id):
    live, report = _report(org, public_id)
    figures = {key: (label, value) for key, label, value in overview(report)}
    breakdowns = [{"key": dimension, "label": DIMENSION_LABELS[dimension],
                   "rows": [{**row, "label": value_label(dimension, row["value"])} for row in rows]}
                  for dimension, rows in report["breakdowns"].items() if rows]
    return render(request, "web/report.html", {
        "live": live, "report": report, "figures": figures, "breakdowns": breakdowns,
        "breakdown_columns": BREAKDOWN_COLUMNS[1:],
        "promoters": formatted(top_promoters(live), PROMOTER_COLUMNS), "top": TOP_PROMOTERS,
        "teams": [(row, count(row["promoters"]), cells) for row, cells in
                  formatted(report["teams"]["teams"], ROLLUP_COLUMNS)],
        "no_team": formatted([report["teams"]["no_team"]], ROLLUP_COLUMNS)[0] if report["teams"]["no_team"] else None,
        "unattributed": formatted([report["teams"]["unattributed"]], ROLLUP_COLUMNS)[0],
        "promoter_columns": PROMOTER_COLUMNS, "rollup_columns": ROLLUP_COLUMNS,
        "generated": timezone.now(),
    })


@org_view
@requires("export")
def report_xlsx(request, org, public_id):
    live, report = _report(org, public_id)
    return report_xlsx_response(live, report, promoter_table(live, sort="-net"))
