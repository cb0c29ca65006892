"""The planner: an upcoming live's forecast from its reservations so far, fitted on the
organisation's ended lives (rules.forecast), and the reservations a target GMV needs."""
from decimal import Decimal
from fractions import Fraction

from django import forms
from django.contrib import messages
from django.db.models import Max, Sum
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from liveloop.analytics.models import PromoterStats
from liveloop.lib.numbers import half_up, round_half_up, yuan
from liveloop.rules.attribution import ENDED
from liveloop.rules.forecast import MIN_LIVES_FOR_ERROR, PastLive, fit, forecast, reservations_needed
from liveloop.web import queries
from liveloop.web.context import org_view, requires
from liveloop.web.forms import PlannerSettingsForm
from liveloop.web.words import labelled, sentences


class TargetForm(forms.Form):
    # Decimal, never float: "1234.56" yuan is exactly 123456 fen.
    target = forms.DecimalField(label=gettext_lazy("Target GMV (¥)"), min_value=Decimal("0.01"),
                                max_digits=14, decimal_places=2)

    def target_fen(self) -> int:
        return int(self.cleaned_data["target"] * 100)


def history(org) -> list[PastLive]:
    """The organisation's ended lives as PastLive, one aggregate query: PromoterStats summed per
    live (every promoter row plus the unattributed one), with the live's LiveStats.showed_up."""
    rows = (PromoterStats.objects.for_org(org).filter(live__state=ENDED)
            .values("live_id")
            .annotate(reservations=Sum("reservations"), entered=Sum("entered"), buyers=Sum("buyers"),
                      orders=Sum("orders"), gmv=Sum("gmv"), showed_up=Max("live__stats__showed_up"))
            .order_by("live_id"))
    return [PastLive(reservations=row["reservations"] or 0, showed_up=row["showed_up"] or 0,
                     entered=row["entered"] or 0, buyers=row["buyers"] or 0, orders=row["orders"] or 0,
                     gmv_fen=row["gmv"] or 0) for row in rows]


def _reservations_so_far(live) -> int:
    total = (PromoterStats.objects.for_org(live.org).filter(live=live)
             .aggregate(total=Sum("reservations"))["total"])
    return total or 0


def _percent(value: Fraction, places: int = 1) -> str:
    return f"{half_up(value * 100, places)}%"


def _ratio(value: Fraction) -> str:
    return str(half_up(value, 2))


def _rate_rows(fitted) -> list[dict]:
    rates, errors = fitted.rates, fitted.errors
    rows = [
        ("show_up", _("Show-up rate (reservers who enter)"), _percent(rates.show_up)),
        ("public_per_reservation", _("Public viewers per reservation (observed)"),
         _ratio(rates.public_per_reservation)),
        ("conversion", _("Conversion (buyers / viewers)"), _percent(rates.conversion, 2)),
        ("orders_per_buyer", _("Orders per buyer"), _ratio(rates.orders_per_buyer)),
        ("aov_fen", _("Average order value"), yuan(round_half_up(rates.aov_fen))),
    ]
    return [{"key": key, "label": label, "value": value, "defaulted": key in fitted.defaulted,
             "error": _percent(errors[key]) if errors.get(key) is not None else None}
            for key, label, value in rows]


@org_view
def planner_page(request, org, public_id):
    live = queries.live_of(org, public_id)
    fitted = fit(history(org))
    ratio = Fraction(org.public_match_bps, 10_000)
    reservations = _reservations_so_far(live)
    result = forecast(reservations, fitted, ratio, org.public_match_cap)
    form = TargetForm(request.GET if "target" in request.GET else None)
    needed = target_fen = None
    if form.is_bound and form.is_valid():
        target_fen = form.target_fen()
        needed = reservations_needed(target_fen, fitted, ratio, org.public_match_cap)
    errors = fitted.errors
    return render(request, "web/planner.html", {
        "live": live, "fitted": fitted, "forecast": result, "reservations": reservations,
        "rates": _rate_rows(fitted),
        "buyers_error": _percent(errors["buyers"]) if errors.get("buyers") is not None else None,
        "gmv_error": _percent(errors["gmv"]) if errors.get("gmv") is not None else None,
        "min_lives": MIN_LIVES_FOR_ERROR,
        "public_match": _ratio(ratio), "public_cap": org.public_match_cap,
        "form": form, "target_fen": target_fen, "needed": needed,
        "still_needed": max(needed - reservations, 0) if needed is not None else None,
    }, status=400 if form.errors else 200)


@require_POST
@org_view
@requires("manage_settings")
def planner_settings(request, org):
    form = PlannerSettingsForm(request.POST, org=org)
    if form.is_valid():
        form.save()
        messages.success(request, _("Planner settings saved."))
    else:
        problems = sentences(labelled(form.fields[name].label, " ".join(errs)) for name, errs in form.errors.items())
        messages.error(request, problems)
    return redirect("web:settings")
