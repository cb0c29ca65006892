"""Cross-live trends (跨场趋势): the figures of each live over time, for one account or the
whole brand, the conversion by touchpoint compared across lives, and a CSV of them."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _, gettext_lazy

from liveloop.analytics.report_export import value_label
from liveloop.analytics.trends import (touchpoint_conversion, trend_lives, trend_rows, trends_page_csv_response,
                                      trends_xlsx_response)
from liveloop.lib.numbers import half_up, whole_yuan, yuan
from liveloop.lives.models import Account
from liveloop.web.charts import ACCENT, LINE, MUTED, SOFT, Chart, _base
from liveloop.web.context import org_view, requires
from liveloop.web.forms import BoundedDateField
from liveloop.web.templatetags.report import percent_text

DEFAULT_DAYS = 90
PALETTE = ("#07a35a", "#4c9bf0", "#f29b38", "#9b6cf2", "#e5534b", "#2bb3c0", "#b08a1e", "#646a73", "#d45fa0")


class TrendsForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.none(), required=False,
                                     empty_label=gettext_lazy("All accounts"), label=gettext_lazy("Account"))
    since = BoundedDateField(required=False, label=gettext_lazy("From"),
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = BoundedDateField(required=False, label=gettext_lazy("To"),
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this organisation's accounts: another's id is "not one of the choices".
        self.fields["account"].queryset = Account.objects.for_org(org).order_by("name")

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end is before the start."))
        return data


def selection(request, org):
    """(form, account, since, until, stem): the query string's choice, the last DEFAULT_DAYS
    days when it says nothing; an unreadable field is shown with its error and left out."""
    form = TrendsForm(request.GET or None, org=org)
    today = timezone.localdate()  # org_view activated the organisation's zone
    account, since, until = None, today - timedelta(days=DEFAULT_DAYS), today
    if form.is_bound and form.is_valid():
        account = form.cleaned_data["account"]
        since = form.cleaned_data["since"] or since
        until = form.cleaned_data["until"] or until
    elif form.is_bound:
        account = form.cleaned_data.get("account")
    zone = ZoneInfo(org.timezone)
    start = datetime.combine(since, time.min, zone)
    end = datetime.combine(until + timedelta(days=1), time.min, zone)
    stem = f"trends-{since.isoformat()}-{until.isoformat()}" + (f"-{account.pk}" if account else "")
    return form, account, start, end, since, until, stem


def _label(row) -> str:
    return timezone.localtime(row["at"]).strftime("%m-%d %H:%M")


def _percent_number(value) -> float | None:
    # The chart's points: a percentage to one decimal (display only; the table has the exact rate).
    return None if value is None else float(half_up(value * 100, 1))


def _axis(labels) -> dict:
    return {"type": "category", "data": labels, "axisLabel": {"color": MUTED},
            "axisLine": {"lineStyle": {"color": LINE}}}


def _value_axis(**extra) -> dict:
    return {"type": "value", "splitLine": {"lineStyle": {"color": LINE}}, "axisLabel": {"color": MUTED}, **extra}


def _option(labels, series, y_axis, legend=True) -> dict:
    option = _base()
    option.update({"grid": {"left": 8, "right": 8, "top": 32 if legend else 8, "bottom": 8, "containLabel": True},
                   "xAxis": _axis(labels), "yAxis": y_axis, "series": series})
    if legend:
        option["legend"] = {"top": 0, "textStyle": {"color": MUTED}, "type": "scroll"}
    if len(labels) > 30:
        option["dataZoom"] = [{"type": "inside"}]
    return option


def sales_chart(rows) -> Chart:
    title = _("GMV and viewers per live")
    labels = [_label(row) for row in rows]
    best = max(rows, key=lambda row: row["gmv"])
    text = _("%(n)s lives from %(first)s to %(last)s: GMV %(gmv)s in all, viewers %(viewers)s; the highest GMV "
             "was %(best)s on %(when)s.") % {
        "n": len(rows), "first": labels[0], "last": labels[-1], "gmv": yuan(sum(r["gmv"] for r in rows)),
        "viewers": f"{sum(r['entered'] for r in rows):,}", "best": yuan(best["gmv"]), "when": _label(best)}
    option = _option(labels, [
        {"type": "bar", "name": _("GMV (¥)"), "data": [whole_yuan(row["gmv"]) for row in rows],
         "itemStyle": {"color": SOFT}, "barMaxWidth": 36},
        {"type": "line", "name": _("Viewers"), "yAxisIndex": 1, "data": [row["entered"] for row in rows],
         "itemStyle": {"color": ACCENT}, "lineStyle": {"width": 2}},
    ], [_value_axis(), _value_axis(minInterval=1, splitLine={"show": False})])
    return Chart("sales", title, text, option,
                 [(f"{label} {row['title']}", f"{yuan(row['gmv'])} · {row['entered']:,}") for label, row in zip(labels, rows)])


def conversion_chart(rows) -> Chart:
    title = _("Conversion and UV value per live")
    labels = [_label(row) for row in rows]
    text = _("Conversion (buyers / viewers) per live, from %(first)s (%(a)s) to %(last)s (%(b)s).") % {
        "first": labels[0], "a": percent_text(rows[0]["conversion"]), "last": labels[-1],
        "b": percent_text(rows[-1]["conversion"])}
    option = _option(labels, [
        {"type": "line", "name": _("Conversion (%)"), "data": [_percent_number(row["conversion"]) for row in rows],
         "itemStyle": {"color": ACCENT}, "lineStyle": {"width": 2}, "connectNulls": False},
        {"type": "line", "name": _("UV value (¥)"), "yAxisIndex": 1,
         "data": [None if row["uv_value"] is None else float(half_up(row["uv_value"] / 100, 2)) for row in rows],
         "itemStyle": {"color": "#f29b38"}, "lineStyle": {"width": 2, "type": "dashed"}},
    ], [_value_axis(), _value_axis(splitLine={"show": False})])
    return Chart("conversion", title, text, option,
                 [(label, f"{percent_text(row['conversion'])}") for label, row in zip(labels, rows)])


def touchpoint_chart(rows, touchpoints, rates) -> Chart:
    title = _("Conversion by touchpoint across lives")
    if not touchpoints:
        return Chart("touchpoints", title, _("No touchpoint was recorded for these lives."), None, [])
    labels = [_label(row) for row in rows]
    names = {tp: value_label("touchpoint", tp) for tp in touchpoints}
    latest = rows[-1]["live"].pk
    text = _("Conversion per touchpoint for each live; in the latest live: %(list)s.") % {
        "list": _(", ").join(f"{names[tp]} {percent_text(rates[latest][tp])}" for tp in touchpoints)}
    series = [{"type": "line", "name": names[tp], "data": [_percent_number(rates[row["live"].pk][tp]) for row in rows],
               "itemStyle": {"color": PALETTE[i % len(PALETTE)]}, "connectNulls": True}
              for i, tp in enumerate(touchpoints)]
    option = _option(labels, series, _value_axis())
    table = [(f"{label} {names[tp]}", percent_text(rates[row["live"].pk][tp]))
             for label, row in zip(labels, rows) for tp in touchpoints]
    return Chart("touchpoints", title, text, option, table)


def flywheel_chart(rows) -> Chart:
    title = _("Flywheel per live")
    labels = [_label(row) for row in rows]
    text = _("Captures and net private-domain growth (captured viewers who came from public traffic): "
             "%(captures)s and %(growth)s over the %(n)s lives.") % {
        "captures": f"{sum(r['captures'] for r in rows):,}", "growth": f"{sum(r['public_captures'] for r in rows):,}",
        "n": len(rows)}
    option = _option(labels, [
        {"type": "bar", "name": _("Captures"), "data": [row["captures"] for row in rows],
         "itemStyle": {"color": SOFT}, "barMaxWidth": 28},
        {"type": "bar", "name": _("Net private-domain growth"), "data": [row["public_captures"] for row in rows],
         "itemStyle": {"color": ACCENT}, "barMaxWidth": 28},
    ], _value_axis(minInterval=1))
    return Chart("flywheel", title, text, option,
                 [(label, f"{row['captures']:,} · {row['public_captures']:,}") for label, row in zip(labels, rows)])


@org_view
def trends_page(request, org):
    form, account, start, end, since, until, _stem = selection(request, org)
    lives = trend_lives(org, account, start, end)
    rows = trend_rows(org, lives)
    touchpoints, rates = touchpoint_conversion(org, lives)
    charts = ([sales_chart(rows), conversion_chart(rows), touchpoint_chart(rows, touchpoints, rates),
               flywheel_chart(rows)] if rows else [])
    return render(request, "web/trends.html", {
        "form": form, "since": since, "until": until, "rows": rows, "charts": charts,
        "touchpoints": [(tp, value_label("touchpoint", tp)) for tp in touchpoints],
        "touchpoint_rows": [(row, [rates[row["live"].pk][tp] for tp in touchpoints]) for row in rows],
        "query": request.GET.urlencode(),
    }, status=400 if form.is_bound and form.errors else 200)


def _export(respond):
    @org_view
    @requires("export")
    def view(request, org):
        form, account, start, end, _since, _until, stem = selection(request, org)
        lives = trend_lives(org, account, start, end)
        touchpoints, rates = touchpoint_conversion(org, lives)
        return respond(org, trend_rows(org, lives), touchpoints, rates, stem)
    return view


# The page's files, for people (headers in the reader's language, yuan, the org's zone).
trends_csv = _export(trends_page_csv_response)
trends_xlsx = _export(trends_xlsx_response)
