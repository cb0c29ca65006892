"""A live's WeChat 推客 reconciliation page: WeChat's counts beside Liveloop's per promoter, the
gaps above the organisation's threshold, the export, and moving the live to a re-published
notice (integrations.tuike.reconcile and .lifecycle; docs/wechat.md)."""
from __future__ import annotations

import io

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _, gettext_lazy
from django.views.decorators.http import require_POST
from openpyxl import Workbook
from openpyxl.styles import Font

from liveloop.analytics.exports import csv_response
from liveloop.integrations.tuike import lifecycle
from liveloop.integrations.tuike.links import LinkError
from liveloop.integrations.tuike.reconcile import live_reconciliation
from liveloop.lib.sheets import XLSX_TYPE, text_cell
from liveloop.orgs import audit
from liveloop.rules.reconcile import MAX_THRESHOLD_PCT, MIN_GAP, MIN_THRESHOLD_PCT
from liveloop.web import queries
from liveloop.web.context import org_view, requires

# What the operator is told after a relink: what WeChat resets and what Liveloop keeps.
RELINKED = gettext_lazy(
    "The live now follows the notice %(new)s. WeChat has reset: the new notice's reservation count "
    "starts from 0 and the old notice's reminders will not be sent. Liveloop keeps: this live's "
    "programme, its promoters and their 推客 links, and its own reservations and figures; the old "
    "notice's 推客 counts (%(kept)s reservations) are kept as history. New QR codes and share links "
    "for %(sharers)s 推客 are fetched at the next sync.")


class RelinkForm(forms.Form):
    notice_id = forms.CharField(label=gettext_lazy("New live notice id"), max_length=200)


class ThresholdForm(forms.Form):
    gap_pct = forms.IntegerField(label=gettext_lazy("Flag gaps above (%)"), min_value=MIN_THRESHOLD_PCT,
                                 max_value=MAX_THRESHOLD_PCT)


def _rows(rec) -> list[dict]:
    rows = []
    for row in rec.rows:
        promoter = rec.promoters.get(row.key)
        rows.append({"promoter": promoter, "gaps": [row.gaps["reservations"], row.gaps["viewers"]],
                     "flagged": row.flagged})
    return rows


def _page(request, org, live, relink_form=None, threshold_form=None, status=200):
    rec = live_reconciliation(live)
    return render(request, "web/tuike_reconcile.html", {
        "live": live, "rec": rec, "rows": _rows(rec), "total": rec.total,
        "total_gaps": [rec.total.gaps["reservations"], rec.total.gaps["viewers"]], "min_gap": MIN_GAP,
        "history": lifecycle.history(live),
        "relink_form": relink_form or RelinkForm(),
        "threshold_form": threshold_form or ThresholdForm(initial={"gap_pct": org.reconcile_gap_pct}),
    }, status=status)


@org_view
def reconcile_page(request, org, public_id):
    return _page(request, org, queries.live_of(org, public_id))


HEADER = (gettext_lazy("Code"), gettext_lazy("Name"),
          gettext_lazy("WeChat reservations"), gettext_lazy("Liveloop reservations"),
          gettext_lazy("Reservations gap"), gettext_lazy("Reservations coverage (%)"),
          gettext_lazy("WeChat viewers"), gettext_lazy("Liveloop entered"),
          gettext_lazy("Viewers gap"), gettext_lazy("Viewers coverage (%)"), gettext_lazy("Above threshold"))


def _export_values(rec):
    def side(gap):
        return [gap.wechat, gap.liveloop, gap.difference, None if gap.coverage is None else int(gap.coverage)]

    yes, no = _("yes"), _("no")
    for row in rec.rows:
        promoter = rec.promoters.get(row.key)
        yield [promoter.code if promoter else "", promoter.name if promoter else "",
               *side(row.gaps["reservations"]), *side(row.gaps["viewers"]), yes if row.flagged else no]
    yield ["", _("Whole live"), *side(rec.total.gaps["reservations"]), *side(rec.total.gaps["viewers"]),
           yes if rec.total.flagged else no]


@org_view
@requires("export")
def reconcile_export(request, org, public_id, kind):
    live = queries.live_of(org, public_id)
    rec = live_reconciliation(live)
    name = f"{live.public_id}-tuike"
    if kind == "csv":
        return csv_response(f"{name}.csv", HEADER, _export_values(rec))
    book = Workbook(write_only=True)
    sheet = book.create_sheet(live.public_id)
    sheet.freeze_panes = "A2"
    header = []
    for label in HEADER:
        cell = text_cell(sheet, str(label))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for values in _export_values(rec):
        sheet.append([text_cell(sheet, "" if value is None else value) for value in values])
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(out.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


@require_POST
@org_view
@requires("manage_lives")
def relink(request, org, public_id):
    live = queries.live_of(org, public_id)
    form = RelinkForm(request.POST)
    if form.is_valid():
        try:
            done = lifecycle.relink_notice(live, form.cleaned_data["notice_id"], request.user)
        except LinkError as error:
            form.add_error("notice_id", str(error))
        else:
            messages.success(request, RELINKED % {"new": done.new, "kept": done.kept, "sharers": done.sharers})
            return redirect("web:tuike_reconcile", public_id)
    return _page(request, org, live, relink_form=form, status=400)


@require_POST
@org_view
@requires("manage_settings")
def threshold(request, org, public_id):
    live = queries.live_of(org, public_id)
    form = ThresholdForm(request.POST)
    if not form.is_valid():
        return _page(request, org, live, threshold_form=form, status=400)
    before, after = org.reconcile_gap_pct, form.cleaned_data["gap_pct"]
    if before != after:
        org.reconcile_gap_pct = after
        org.save(update_fields=["reconcile_gap_pct"])
        audit.record(org, request.user, "tuike.gap_threshold", "organisation", before=before, after=after)
    return redirect("web:tuike_reconcile", public_id)
