"""Spreadsheet exports of the derived figures, shared by the API and the pages."""
import csv

from django.http import HttpResponse

# The order of the API's PromoterRow; money stays integer fen so spreadsheets sum exactly.
PROMOTER_COLUMNS = ("promoter", "name", "team", "reservations", "entered", "buyers", "orders",
                    "gmv", "refunded", "net", "follows", "captures")


def write_promoter_csv(rows, out) -> None:
    """Write promoter_rows() to a text file-like object (an HttpResponse is one)."""
    # A BOM so Excel on Chinese Windows opens UTF-8 names correctly.
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(PROMOTER_COLUMNS)
    for row in rows:
        writer.writerow([row[c] if row[c] is not None else "" for c in PROMOTER_COLUMNS])


def promoter_csv_response(live, rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{live.public_id}-promoters.csv"'
    write_promoter_csv(rows, response)
    return response
