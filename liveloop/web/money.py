"""Finance pages: plans, settling lives, statements, payout batches, a promoter's ledger, team
leaders and the audit log (docs/decisions.md "Money: pages and API").

Every figure is read from the money tables (liveloop/money); every change goes through the
money services, which write the audit log. Reading needs `view` (exports `export`); every POST
needs `manage_money` (owner, finance). Amounts typed in yuan are read with Decimal and turned
into whole fen exactly, never through a float.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import get_language, gettext as _, gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from liveloop.events.models import Event, Order
from liveloop.importers.readers import ReadError
from liveloop.lives.models import Live
from liveloop.money import exports, payouts
from liveloop.money.ledger import AdjustmentError, AlreadyRecorded, adjust, balances, is_settled
from liveloop.money.models import Entry, PayoutBatch, Plan, ProgrammePlan, SettlementRun, Statement
from liveloop.money.plans import (ArchivedPlan, DefaultPlan, choose_plan, offered_plans, plans_for,
                                   save_plan, set_archived)
from liveloop.money.settlement import SettleError, check_settleable, settle_live, settleable_from
from liveloop.money.teams import set_leadership
from liveloop.orgs import audit
from liveloop.orgs.models import AuditEntry
from liveloop.promoters.models import Promoter, Team
from liveloop.rules import commission as rules
from liveloop.rules.attribution import ENDED, LIVE, SCHEDULED
from liveloop.web.audit import describe as audit_rows
from liveloop.web.context import org_view, requires

PER_PAGE = 50
LEDGER_PER_PAGE = 100
RESULTS_MAX_BYTES = 5 * 1024 * 1024

STATEMENT_STATES = payouts.STATE_LABELS
ENTRY_KINDS = {
    Entry.ACCRUAL: gettext_lazy("Estimate"), Entry.REVERSAL: gettext_lazy("Estimate reversed"),
    Entry.SETTLEMENT: gettext_lazy("Settlement true-up"), Entry.CLAWBACK: gettext_lazy("Clawback"),
    Entry.ADJUSTMENT: gettext_lazy("Adjustment"), Entry.CARRY: gettext_lazy("Carried"),
}
LINE_KINDS = {
    rules.RATE: gettext_lazy("Commission on net"), rules.TIER: gettext_lazy("Tier"),
    rules.SELF_PURCHASE: gettext_lazy("Own purchases"), rules.RESERVATION_BOUNTY: gettext_lazy("Reservation bounty"),
    rules.NEW_BUYER_BOUNTY: gettext_lazy("New buyer bounty"), rules.EFFECTIVE_VIEW_BOUNTY: gettext_lazy("Effective view bounty"),
    rules.OVERRIDE: gettext_lazy("Team override"), rules.ROUNDING: gettext_lazy("Rounding"), rules.CAP: gettext_lazy("Cap"),
}
FIGURE_LABELS = {
    "net_fen": gettext_lazy("Net sales (paid − refunded)"), "self_purchase_net_fen": gettext_lazy("Own purchases (net)"),
    "reservations": gettext_lazy("Reservations"), "new_buyers": gettext_lazy("New buyers"),
    "effective_views": gettext_lazy("Effective views"),
}
MONEY_FIGURES = {"net_fen", "self_purchase_net_fen"}


def said(error) -> str:
    """A rules or settlement error in the page's language (they carry both)."""
    return error.zh if (get_language() or "").startswith("zh") else error.en


def _now() -> datetime:
    return datetime.now(timezone.utc)


# Reading yuan and percentages -------------------------------------------------------------

class YuanField(forms.DecimalField):
    """An amount in yuan, at most two decimal places, cleaned to whole fen (an int)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        super().__init__(decimal_places=2, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return None if value is None else int(value * 100)


class PercentField(forms.DecimalField):
    """A rate in percent with at most two decimals: whole basis points (5.25% → 525)."""

    def __init__(self, **kwargs):
        super().__init__(decimal_places=2, max_digits=5, min_value=0, max_value=100, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return None if value is None else int(value * 100)


OPEN_WORDS = {"", "-", "*", "以上", "above", "∞"}


def parse_tiers(text: str) -> tuple:
    """Lines "upper yuan, rate %" → ((upper fen, bps), ..., (None, bps)); the last line's upper
    is empty ("以上" or "-" also read as open). Raises ValidationError naming the line."""
    tiers = []
    lines = [line.strip() for line in (text or "").replace("，", ",").splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        parts = [part.strip().removesuffix("%").strip() for part in line.split(",")]
        if len(parts) != 2:
            raise forms.ValidationError(_("Line %(n)d: write \"upper yuan, rate %%\", e.g. \"10000, 5\".")
                                        % {"n": number})
        upper_text, rate_text = parts
        try:
            upper = None if upper_text.lower() in OPEN_WORDS else Decimal(upper_text.replace("¥", ""))
            rate = Decimal(rate_text)
        except InvalidOperation:
            raise forms.ValidationError(_("Line %(n)d: not a number.") % {"n": number}) from None
        if upper is not None and (upper != upper.quantize(Decimal("0.01")) or upper <= 0):
            raise forms.ValidationError(_("Line %(n)d: the upper bound is yuan with at most two decimals, above 0.")
                                        % {"n": number})
        if rate != rate.quantize(Decimal("0.01")) or not 0 <= rate <= 100:
            raise forms.ValidationError(_("Line %(n)d: the rate is a percentage from 0 to 100, at most two decimals.")
                                        % {"n": number})
        if upper is None and number != len(lines):
            raise forms.ValidationError(_("Line %(n)d: only the last line has no upper bound.") % {"n": number})
        if upper is not None and number == len(lines):
            raise forms.ValidationError(_("Line %(n)d: the last line has no upper bound, e.g. \", 8\".")
                                        % {"n": number})
        if upper is not None and tiers and upper * 100 <= tiers[-1][0]:
            raise forms.ValidationError(_("Line %(n)d: each upper bound (yuan) must be above the line before's.")
                                        % {"n": number})
        tiers.append((None if upper is None else int(upper * 100), int(rate * 100)))
    # Checked here in yuan, as typed: the rules' own refusals speak of fen (for the API).
    return tuple(tiers)


def tiers_text(tiers) -> str:
    return "\n".join(f"{'' if upper is None else Decimal(upper) / 100}, {Decimal(bps) / 100}"
                     for upper, bps in tiers or ())


# Plans --------------------------------------------------------------------------------------

class PlanForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Plan name"), max_length=80)
    rate_percent = PercentField(label=gettext_lazy("Rate on net (%)"), required=False,
                                help_text=gettext_lazy("One rate on the promoter's net sales. Leave empty to use tiers."))
    tiers = forms.CharField(label=gettext_lazy("Tiers"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text=gettext_lazy("One line per tier: \"upper yuan, rate %\"; the last line has no "
                                         "upper, e.g. \"10000, 5\" then \", 8\". Each rate pays only the part "
                                         "of the net inside its tier."))
    reservation_bounty = YuanField(label=gettext_lazy("Bounty per reservation (¥)"), required=False, min_value=0)
    new_buyer_bounty = YuanField(label=gettext_lazy("Bounty per new buyer (¥)"), required=False, min_value=0)
    effective_view_bounty = YuanField(label=gettext_lazy("Bounty per effective view (¥)"), required=False, min_value=0)
    effective_view_cap = forms.IntegerField(label=gettext_lazy("Most effective views paid"), required=False, min_value=0)
    cap = YuanField(label=gettext_lazy("Cap per promoter per live (¥)"), required=False, min_value=0,
                    help_text=gettext_lazy("Limits a promoter's own commission for one live; empty: no cap."))
    override_levels = forms.IntegerField(
        label=gettext_lazy("Team override levels"), min_value=0, initial=0,
        help_text=gettext_lazy("0, 1 or 2. Paying on downlines three or more levels deep is pyramid selling (传销)."))
    override_1 = PercentField(label=gettext_lazy("Level 1 override (%)"), required=False)
    override_2 = PercentField(label=gettext_lazy("Level 2 override (%)"), required=False)
    allow_self_purchase = forms.BooleanField(label=gettext_lazy("Own purchases earn commission"), required=False)
    make_default = forms.BooleanField(label=gettext_lazy("The organisation's default plan"), required=False)

    # PlanError.field → the form field showing it
    FIELDS = {"rate_bps": "rate_percent", "tiers": "tiers", "reservation_bounty_fen": "reservation_bounty",
              "new_buyer_bounty_fen": "new_buyer_bounty", "effective_view_bounty_fen": "effective_view_bounty",
              "effective_view_cap": "effective_view_cap", "cap_fen": "cap", "override_levels": "override_levels",
              "override_bps": "override_1", "allow_self_purchase": "allow_self_purchase"}

    def __init__(self, *args, org, plan: Plan | None = None, **kwargs):
        if plan is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_of(plan)
        super().__init__(*args, **kwargs)
        self.org, self.plan = org, plan

    @staticmethod
    def initial_of(plan: Plan) -> dict:
        r = rules.Plan(**plan.rules)
        yuan = lambda fen: None if fen is None else Decimal(fen) / 100  # noqa: E731
        percent = lambda bps: None if bps is None else Decimal(bps) / 100  # noqa: E731
        return {"name": plan.name, "rate_percent": percent(r.rate_bps), "tiers": tiers_text(r.tiers),
                "reservation_bounty": yuan(r.reservation_bounty_fen), "new_buyer_bounty": yuan(r.new_buyer_bounty_fen),
                "effective_view_bounty": yuan(r.effective_view_bounty_fen),
                "effective_view_cap": r.effective_view_cap, "cap": yuan(r.cap_fen),
                "override_levels": r.override_levels,
                "override_1": percent(r.override_bps[0]) if r.override_levels >= 1 else None,
                "override_2": percent(r.override_bps[1]) if r.override_levels >= 2 else None,
                "allow_self_purchase": r.allow_self_purchase, "make_default": plan.is_default}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(self.fields["name"].error_messages["required"], code="required")
        taken = Plan.objects.for_org(self.org).filter(name=name)
        if self.plan is not None:
            taken = taken.exclude(pk=self.plan.pk)
        if taken.exists():
            raise forms.ValidationError(_("A plan with this name exists."))
        return name

    def clean_tiers(self):
        return parse_tiers(self.cleaned_data.get("tiers", ""))

    def rule_fields(self) -> dict:
        data = self.cleaned_data
        levels = data.get("override_levels") or 0
        given = [data.get("override_1"), data.get("override_2")]
        # The rates of the levels asked for; a missing one is refused by make_plan by name.
        override = tuple(bps for bps in given[:min(levels, 2)] if bps is not None)
        return {"rate_bps": data.get("rate_percent"), "tiers": data.get("tiers") or (),
                "reservation_bounty_fen": data.get("reservation_bounty") or 0,
                "new_buyer_bounty_fen": data.get("new_buyer_bounty") or 0,
                "effective_view_bounty_fen": data.get("effective_view_bounty") or 0,
                "effective_view_cap": data.get("effective_view_cap"), "cap_fen": data.get("cap"),
                "override_bps": override, "allow_self_purchase": bool(data.get("allow_self_purchase"))}

    def save(self, user) -> Plan | None:
        """The saved plan, or None with the rules' refusal added to the field at fault."""
        try:
            return save_plan(self.org, user, name=self.cleaned_data["name"], fields=self.rule_fields(),
                             plan=self.plan, make_default=self.cleaned_data["make_default"],
                             override_levels=self.cleaned_data["override_levels"])
        except rules.PlanError as error:
            self.add_error(self.FIELDS.get(error.field), said(error))
        except IntegrityError:  # the same name saved at the same moment by someone else
            self.add_error("name", _("A plan with this name exists."))
        return None


def plan_of(org, plan_id) -> Plan:
    return get_object_or_404(Plan.objects.for_org(org), pk=plan_id)


def _plan_summary(plan: Plan) -> str:
    r = rules.Plan(**plan.rules)
    parts = []
    if r.rate_bps is not None:
        parts.append(f"{Decimal(r.rate_bps) / 100}%")
    if r.tiers:
        parts.append(" / ".join(f"{Decimal(bps) / 100}%" + ("" if upper is None else f"≤¥{Decimal(upper) / 100:,}")
                                for upper, bps in r.tiers))
    if r.override_levels:
        parts.append(_("overrides %(rates)s") % {"rates": " + ".join(f"{Decimal(b) / 100}%" for b in r.override_bps)})
    return " · ".join(parts) or "—"


@org_view
def plans_page(request, org):
    plans = list(Plan.objects.for_org(org).order_by("archived", "-is_default", "name"))
    return render(request, "web/money/plans.html", {
        "plans": [{"plan": p, "summary": _plan_summary(p)} for p in plans],
    })


@require_POST
@org_view
@requires("manage_money")
def plan_archive(request, org, plan_id):
    """Archive (archived=1) or bring back (archived=0) a plan. Lives already paying by it keep it."""
    plan = plan_of(org, plan_id)
    archived = request.POST.get("archived") == "1"
    try:
        set_archived(org, request.user, plan, archived)
    except DefaultPlan:
        messages.error(request, _("The default plan cannot be archived: make another plan the default first."))
        return redirect("web:money_plans")
    if archived:
        messages.success(request, _("“%(name)s” is archived: it is no longer offered for lives; lives that use "
                                    "it keep it.") % {"name": plan.name})
    else:
        messages.success(request, _("“%(name)s” is offered for lives again.") % {"name": plan.name})
    return redirect("web:money_plans")


@require_http_methods(["GET", "POST"])
@org_view
def plan_edit(request, org, plan_id=None):
    plan = plan_of(org, plan_id) if plan_id is not None else None
    if request.method == "POST" and not request.may["manage_money"]:
        return render(request, "web/forbidden.html", status=403)
    form = PlanForm(request.POST or None, org=org, plan=plan)
    if request.method == "POST" and form.is_valid():
        saved = form.save(request.user)
        if saved is not None:
            messages.success(request, _("Plan “%(name)s” saved. Estimates of open lives follow it.")
                             % {"name": saved.name})
            return redirect("web:money_plans")
    return render(request, "web/money/plan_form.html", {"form": form, "plan": plan},
                  status=400 if form.errors else 200)


@require_POST
@org_view
@requires("manage_money")
def plan_default(request, org, plan_id):
    plan = plan_of(org, plan_id)  # an archived plan made the default is offered again (save_plan)
    save_plan(org, request.user, name=plan.name, fields=plan.rules, plan=plan, make_default=True)
    messages.success(request, _("“%(name)s” is now the default plan.") % {"name": plan.name})
    return redirect("web:money_plans")


# Lives and settling ---------------------------------------------------------------------------

def live_of(org, public_id) -> Live:
    return get_object_or_404(Live.objects.for_org(org), public_id=public_id)


@org_view
def overview(request, org):
    lives = Live.objects.for_org(org).filter(state=ENDED).order_by("-ended_at", "-pk")
    page = Paginator(lives, PER_PAGE).get_page(request.GET.get("page"))
    ids = [live.pk for live in page]
    runs = {run.live_id: run for run in SettlementRun.objects.for_org(org).filter(live_id__in=ids)}
    plans = plans_for(org, ids)
    chosen = dict(ProgrammePlan.objects.for_org(org).filter(live_id__in=ids).values_list("live_id", "plan_id"))
    now = _now()
    rows = []
    for live in page:
        refusal = None
        if live.pk not in runs:
            try:
                check_settleable(org, live, now)
            except SettleError as error:
                refusal = said(error)
        rows.append({"live": live, "run": runs.get(live.pk), "plan": plans[live.pk],
                     "chosen": chosen.get(live.pk), "opens": settleable_from(org, live), "refusal": refusal})
    # Lives still to come or on air: their plan can be chosen before they end (estimates follow).
    coming = list(Live.objects.for_org(org).filter(state__in=(SCHEDULED, LIVE)).order_by("announced_at", "pk")[:PER_PAGE])
    coming_chosen = dict(ProgrammePlan.objects.for_org(org).filter(live__in=coming).values_list("live_id", "plan_id"))
    # Archived plans drop out of the menus, except where a live on this page pays by one.
    keep = {*chosen.values(), *coming_chosen.values()}
    return render(request, "web/money/overview.html", {
        "page_obj": page, "rows": rows, "plans": offered_plans(org, keep),
        "coming": [{"live": live, "chosen": coming_chosen.get(live.pk)} for live in coming],
        "batchable": payouts.batchable(org).count(),
    })


@require_POST
@org_view
@requires("manage_money")
def settle(request, org, public_id):
    live = live_of(org, public_id)
    try:
        run = settle_live(org, live, request.user)
    except SettleError as error:
        messages.error(request, said(error))
        return redirect("web:money")
    messages.success(request, _("%(title)s is settled: %(count)d statements wait for approval.")
                     % {"title": live.title, "count": run.statements.count()})
    return redirect("web:money_run", run.pk)


@require_POST
@org_view
@requires("manage_money")
def live_plan(request, org, public_id):
    live = live_of(org, public_id)
    plan_id = request.POST.get("plan", "")
    plan = plan_of(org, plan_id) if plan_id else None
    try:
        choose_plan(org, request.user, live, plan)
    except ArchivedPlan:
        messages.error(request, _("This plan is archived: bring it back on the plans page to choose it."))
    except ValueError:
        messages.error(request, _("A settled live keeps the plan it was settled by."))
    return redirect("web:money")


class MoneySettingsForm(forms.Form):
    refund_window_days = forms.IntegerField(
        label=gettext_lazy("Refund window (days after a live ends)"), min_value=0, max_value=365,
        help_text=gettext_lazy("A live can be settled once this many days have passed since it ended."))
    withhold_tax = forms.BooleanField(
        label=gettext_lazy("Withhold individual income tax on labour remuneration (劳务报酬)"), required=False)

    def __init__(self, *args, org, **kwargs):
        kwargs.setdefault("initial", {"refund_window_days": org.refund_window_days,
                                      "withhold_tax": org.withhold_tax})
        super().__init__(*args, **kwargs)
        self.org = org

    def save(self, user):
        before = {"refund_window_days": self.org.refund_window_days, "withhold_tax": self.org.withhold_tax}
        self.org.refund_window_days = self.cleaned_data["refund_window_days"]
        self.org.withhold_tax = self.cleaned_data["withhold_tax"]
        self.org.save(update_fields=["refund_window_days", "withhold_tax"])
        audit.record(self.org, user, "money.settings", "organisation", before=before,
                     after={"refund_window_days": self.org.refund_window_days,
                            "withhold_tax": self.org.withhold_tax})


@require_http_methods(["GET", "POST"])
@org_view
def money_settings(request, org):
    if request.method == "POST" and not request.may["manage_money"]:
        return render(request, "web/forbidden.html", status=403)
    form = MoneySettingsForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        form.save(request.user)
        messages.success(request, _("Money settings saved."))
        return redirect("web:money")
    return render(request, "web/money/settings.html", {"form": form}, status=400 if form.errors else 200)


CONFIRM = re.compile(r"(\d{1,9}):(\d{1,15})")


def confirmed(request) -> tuple[int, int] | None:
    """The (count, sum in fen) a bulk action's checkbox carries, as shown on the page when the
    person ticked it; None when unticked or not in that shape."""
    match = CONFIRM.fullmatch(request.POST.get("confirm", ""))
    return (int(match[1]), int(match[2])) if match else None


# Settlement runs and statements -----------------------------------------------------------------

def run_of(org, run_id) -> SettlementRun:
    return get_object_or_404(SettlementRun.objects.for_org(org).select_related("live", "user"), pk=run_id)


def statement_of(org, number) -> Statement:
    return get_object_or_404(Statement.objects.for_org(org).select_related("promoter__team", "run__live", "batch"),
                             number=number)


@org_view
def run_page(request, org, run_id):
    run = run_of(org, run_id)
    statements = Paginator(exports.statements_of(org, run), PER_PAGE).get_page(request.GET.get("page"))
    totals = run.statements.aggregate(gross=Sum("gross"), tax=Sum("tax"), payable=Sum("payable"))
    states = dict(run.statements.values("state").annotate(n=Count("pk")).values_list("state", "n"))
    frozen_total = run.statements.filter(state=Statement.FROZEN).aggregate(total=Sum("payable"))["total"] or 0
    return render(request, "web/money/run.html", {
        "run": run, "live": run.live, "page_obj": statements, "totals": totals,
        "frozen": states.get(Statement.FROZEN, 0), "frozen_total": frozen_total, "states": STATEMENT_STATES,
    })


@require_POST
@org_view
@requires("manage_money")
def run_approve(request, org, run_id):
    run = run_of(org, run_id)
    expect = confirmed(request)
    if expect is None:
        messages.error(request, _("Tick the box confirming the count and sum first."))
        return redirect("web:money_run", run.pk)
    try:
        moved = payouts.approve(org, request.user, run.statements.filter(state=Statement.FROZEN).order_by("number"),
                                expect=expect)
    except payouts.PayoutError as error:  # approved by someone else at the same moment
        messages.error(request, str(error))
    else:
        messages.success(request, _("%(count)d statements approved.") % {"count": moved})
    return redirect("web:money_run", run.pk)


@org_view
@requires("export")
def run_export(request, org, run_id, kind):
    run = run_of(org, run_id)
    xlsx = kind == "xlsx"
    # Operators export the figures too; the payees in full only to the finance roles.
    full = request.may["payee_details"]
    body = exports.statements_xlsx(org, run, full) if xlsx else exports.statements_csv(org, run, full)
    return exports.download(body, f"statements-{run.live.public_id}.{kind}", xlsx)


def _breakdown_rows(line) -> list[dict]:
    return [{**item, "label": LINE_KINDS.get(item.get("kind"), item.get("kind")),
             "rate": None if item.get("rate_bps") is None else Decimal(item["rate_bps"]) / 100}
            for item in line.breakdown or ()]


def _figure_rows(line) -> list[dict]:
    return [{"label": FIGURE_LABELS.get(key, key), "value": value, "money": key in MONEY_FIGURES}
            for key, value in (line.figures or {}).items()]


@org_view
def statement_page(request, org, number):
    statement = statement_of(org, number)
    lines = []
    for line in statement.lines.select_related("entry__live").order_by("pk"):
        lines.append({"line": line, "label": ENTRY_KINDS.get(line.label, line.label) if line.entry_id else line.label,
                      "breakdown": _breakdown_rows(line), "figures": _figure_rows(line)})
    return render(request, "web/money/statement.html", {
        "statement": statement, "lines": lines, "states": STATEMENT_STATES,
        "batches": statement.items.select_related("batch").order_by("pk"),
    })


def _statement_action(request, org, number, action):
    statement = statement_of(org, number)
    try:
        action(statement)
    except payouts.PayoutError as error:
        messages.error(request, str(error))
    back = request.POST.get("next", "")
    # Only back to our own pages: the run or the statement.
    if back != reverse("web:money_run", args=[statement.run_id]):
        back = reverse("web:money_statement", args=[statement.number])
    return redirect(back)


@require_POST
@org_view
@requires("manage_money")
def statement_approve(request, org, number):
    return _statement_action(request, org, number,
                             lambda s: payouts.approve(org, request.user, [s]))


@require_POST
@org_view
@requires("manage_money")
def statement_paid(request, org, number):
    return _statement_action(request, org, number,
                             lambda s: payouts.mark_paid(org, request.user, s, request.POST.get("reference", "")))


@require_POST
@org_view
@requires("manage_money")
def statement_retry(request, org, number):
    return _statement_action(request, org, number, lambda s: payouts.retry(org, request.user, s))


# Payout batches ---------------------------------------------------------------------------------

def batch_of(org, batch_id) -> PayoutBatch:
    return get_object_or_404(PayoutBatch.objects.for_org(org).select_related("user"), pk=batch_id)


@require_http_methods(["GET", "POST"])
@org_view
def batches_page(request, org):
    if request.method == "POST":
        if not request.may["manage_money"]:
            return render(request, "web/forbidden.html", status=403)
        expect = confirmed(request)
        if expect is None:
            messages.error(request, _("Tick the box confirming the count and sum first."))
            return redirect("web:money_batches")
        try:
            batch = payouts.create_batch(org, request.user, expect=expect)
        except (payouts.Conflict, payouts.StaleConfirmation) as error:
            messages.error(request, str(error))
            return redirect("web:money_batches")
        except payouts.PayoutError:
            # Also the loser of two batches made at once: the other claimed every statement.
            messages.error(request, _("No settled statements are waiting for payment."))
            return redirect("web:money_batches")
        return redirect("web:money_batch", batch.pk)
    page = Paginator(PayoutBatch.objects.for_org(org).select_related("user").order_by("-pk"),
                     PER_PAGE).get_page(request.GET.get("page"))
    waiting = payouts.batchable(org)
    return render(request, "web/money/batches.html", {
        "page_obj": page, "waiting": waiting.count(),
        "waiting_total": waiting.aggregate(total=Sum("payable"))["total"] or 0,
    })


class ResultsForm(forms.Form):
    results = forms.FileField(label=gettext_lazy("Payment results file (CSV or XLSX)"),
                              help_text=gettext_lazy("Columns: payment reference (付款参考号), status (成功/已完成 or "
                                                     "失败/已退回), transaction id (流水号) for paid rows, reason (原因) "
                                                     "for failed ones."))


def _batch_page(request, org, batch, form=None, errors=(), status=200):
    items = batch.items.select_related("statement__promoter").order_by("statement__number")
    # The column as the page names it (付款参考号, 状态…), never the code the reader keys it by.
    return render(request, "web/money/batch.html", {
        "batch": batch, "items": items, "form": form or ResultsForm(), "errors": errors,
        "error_rows": [(row, payouts.RESULT_COLUMN_LABELS.get(column, column), reason)
                       for row, column, reason in errors],
        "states": STATEMENT_STATES,
    }, status=status)


@org_view
def batch_page(request, org, batch_id):
    return _batch_page(request, org, batch_of(org, batch_id))


@org_view
@requires("payee_details")  # the accounts in full, for the payment channel: finance roles only
def batch_file(request, org, batch_id, kind):
    batch = batch_of(org, batch_id)
    xlsx = kind == "xlsx"
    body = exports.batch_xlsx(batch) if xlsx else exports.batch_csv(batch)
    return exports.download(body, f"{batch.number}.{kind}", xlsx)


@require_POST
@org_view
@requires("manage_money")
def batch_results(request, org, batch_id):
    batch = batch_of(org, batch_id)
    form = ResultsForm(request.POST, request.FILES)
    if not form.is_valid():
        return _batch_page(request, org, batch, form=form, status=400)
    upload = form.cleaned_data["results"]
    if upload.size > RESULTS_MAX_BYTES:
        form.add_error("results", _("The file is larger than 5 MB."))
        return _batch_page(request, org, batch, form=form, status=400)
    data = upload.read()
    if upload.name.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        try:
            data = exports.xlsx_to_csv(data)
        except ReadError as error:
            if error.code == "too_large":
                form.add_error("results", _("The workbook expands to more than %(mb)d MB of data, or holds "
                                            "too many rows: upload only the batch's rows, or save it as CSV.")
                               % {"mb": exports.RESULTS_XLSX_MAX_EXPANDED // (1024 * 1024)})
            else:
                form.add_error("results", _("This is not an XLSX workbook: the file is damaged, truncated or "
                                            "of another format. Save it again as .xlsx or CSV."))
            return _batch_page(request, org, batch, form=form, status=400)
    try:
        check = payouts.apply_results(org, request.user, batch, data)
    except payouts.Conflict as error:
        # The same results applied by someone else at this moment: nothing was written here.
        form.add_error(None, str(error))
        return _batch_page(request, org, batch, form=form, status=409)
    if check.errors:
        # All or nothing: apply_results wrote nothing; every bad row is listed.
        return _batch_page(request, org, batch, form=form, errors=check.errors, status=400)
    paid = sum(1 for row in check.rows if row[1])
    messages.success(request, _("Results applied: %(paid)d paid, %(failed)d failed.")
                     % {"paid": paid, "failed": len(check.rows) - paid})
    return redirect("web:money_batch", batch.pk)


# A promoter's ledger ----------------------------------------------------------------------------

def promoter_of(org, code) -> Promoter:
    return get_object_or_404(Promoter.objects.for_org(org).select_related("team"), code=code)


class AdjustmentForm(forms.Form):
    amount = YuanField(label=gettext_lazy("Amount (¥)"), help_text=gettext_lazy("Negative to take back, e.g. -12.50."))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("Enter an amount other than 0."))
        return amount

    def save(self, org, user, promoter, key):
        """The entry; None with the refusal on the form. AlreadyRecorded passes through."""
        try:
            return adjust(org, user, promoter, self.cleaned_data["amount"], self.cleaned_data["reason"], key=key)
        except AdjustmentError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return None


ADJUST_KEY = re.compile(r"[0-9a-f]{32}")


def _adjust_key(request) -> str:
    """The idempotency key the adjustment form carries: kept on a resend of the same form (a
    refused one wrote nothing), a new one for a fresh form."""
    key = request.POST.get("key", "") if request.method == "POST" else ""
    return key if ADJUST_KEY.fullmatch(key) else uuid.uuid4().hex


def _ledger_page(request, org, promoter, form=None, status=200):
    entries = (Entry.objects.for_org(org).filter(promoter=promoter)
               .select_related("live", "user", "run").order_by("pk"))
    page = Paginator(entries, LEDGER_PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page)
    # The running balance continues from the entries on earlier pages.
    balance = 0
    if rows:
        balance = entries.filter(pk__lt=rows[0].pk).aggregate(total=Sum("amount"))["total"] or 0
    shown = []
    for entry in rows:
        balance += entry.amount
        shown.append({"entry": entry, "kind": ENTRY_KINDS.get(entry.kind, entry.kind), "balance": balance})
    return render(request, "web/money/ledger.html", {
        "promoter": promoter, "page_obj": page, "rows": shown, "balances": balances(org, promoter),
        "form": form or AdjustmentForm(), "adjust_key": _adjust_key(request),
        "statements": Statement.objects.for_org(org).filter(promoter=promoter)
                      .select_related("run__live").order_by("-pk")[:20],
        "states": STATEMENT_STATES,
    }, status=status)


@org_view
def ledger_page(request, org, code):
    return _ledger_page(request, org, promoter_of(org, code))


@require_POST
@org_view
@requires("manage_money")
def ledger_adjust(request, org, code):
    promoter = promoter_of(org, code)
    form = AdjustmentForm(request.POST)
    key = request.POST.get("key", "")
    if not ADJUST_KEY.fullmatch(key):
        # Without the form's key a resend could not be told from a new adjustment.
        form.is_valid()
        form.add_error(None, _("This form is out of date: reload the page and enter the adjustment again."))
        return _ledger_page(request, org, promoter, form=form, status=400)
    try:
        if form.is_valid() and form.save(org, request.user, promoter, key) is not None:
            messages.success(request, _("Adjustment recorded: it appears on the promoter's next statement."))
            return redirect("web:money_ledger", promoter.code)
    except AlreadyRecorded:
        messages.info(request, _("This adjustment was already recorded (the form was sent twice): it is on "
                                 "the ledger once."))
        return redirect("web:money_ledger", promoter.code)
    return _ledger_page(request, org, promoter, form=form, status=400)


ORDER_EVENTS = ("order_paid", "order_refund")
ORDER_EVENT_LABELS = {"order_paid": gettext_lazy("Order paid"), "order_refund": gettext_lazy("Order refunded")}


@org_view
def ledger_live(request, org, code, public_id):
    """The events behind a promoter's entries for one live: the orders credited to them and
    the log's order_paid / order_refund events of those orders."""
    promoter = promoter_of(org, code)
    live = live_of(org, public_id)
    orders = Order.objects.for_org(org).filter(live=live, promoter=promoter).order_by("pk")
    page = Paginator(orders, LEDGER_PER_PAGE).get_page(request.GET.get("page"))
    numbers = [o.order for o in page]
    events: dict = {}
    for seq, order, kind, amount, at in (Event.objects.for_org(org)
                                         .filter(live=live, order__in=numbers, type__in=ORDER_EVENTS)
                                         .order_by("seq").values_list("seq", "order", "type", "amount", "at")):
        events.setdefault(order, []).append({"seq": seq, "type": kind, "label": ORDER_EVENT_LABELS[kind],
                                             "amount": amount, "at": at})
    entries = (Entry.objects.for_org(org).filter(promoter=promoter, live=live)
               .select_related("run").order_by("pk"))
    return render(request, "web/money/ledger_live.html", {
        "promoter": promoter, "live": live, "page_obj": page,
        "orders": [{"order": o, "events": events.get(o.order, [])} for o in page],
        "entries": [{"entry": e, "kind": ENTRY_KINDS.get(e.kind, e.kind)} for e in entries],
        "held": sum(e.amount for e in entries),
        "totals": orders.aggregate(paid=Sum("paid"), refunded=Sum("refunded")),
        "settled": is_settled(org, live),
    })


# Teams -----------------------------------------------------------------------------------------

class LeadershipForm(forms.Form):
    leader = forms.CharField(label=gettext_lazy("Leader's promoter code"), max_length=32, required=False)
    parent = forms.ModelChoiceField(label=gettext_lazy("Team above"), queryset=Team.objects.none(), required=False,
                                    empty_label=gettext_lazy("— none —"))

    def __init__(self, *args, org, team, **kwargs):
        kwargs.setdefault("initial", {"leader": team.leader.code if team.leader else "", "parent": team.parent_id})
        super().__init__(*args, **kwargs)
        self.org, self.team = org, team
        self.fields["parent"].queryset = Team.objects.for_org(org).exclude(pk=team.pk).order_by("name_pinyin", "name")
        self.prefix = f"team-{team.pk}"

    def clean_leader(self):
        code = self.cleaned_data["leader"].strip()
        if not code:
            return None
        promoter = Promoter.objects.for_org(self.org).filter(code=code).first()
        if promoter is None:
            raise forms.ValidationError(_("No promoter has this code."))
        return promoter

    def save(self, user) -> bool:
        try:
            set_leadership(self.org, user, self.team, leader=self.cleaned_data["leader"],
                           parent=self.cleaned_data["parent"])
            return True
        except rules.TeamError as error:
            self.add_error(None, said(error))
            return False


def _teams_page(request, org, failed=None, status=200):
    teams = Team.objects.for_org(org).select_related("leader", "parent").order_by("name_pinyin", "name")
    page = Paginator(teams, PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"team": t, "form": failed if failed is not None and failed.team.pk == t.pk
             else LeadershipForm(org=org, team=t)} for t in page]
    return render(request, "web/money/teams.html", {"page_obj": page, "rows": rows}, status=status)


@org_view
def teams_page(request, org):
    return _teams_page(request, org)


@require_POST
@org_view
@requires("manage_money")
def team_leadership(request, org, team_id):
    team = get_object_or_404(Team.objects.for_org(org), pk=team_id)
    form = LeadershipForm(request.POST, org=org, team=team)
    if form.is_valid() and form.save(request.user):
        messages.success(request, _("Team %(name)s saved. Estimates of open lives follow it.") % {"name": team.name})
        return redirect("web:money_teams")
    return _teams_page(request, org, failed=form, status=400)


# The audit log ---------------------------------------------------------------------------------

@org_view
def audit_page(request, org):
    entries = AuditEntry.objects.for_org(org).order_by("-at", "-pk")
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/money/audit.html", {"page_obj": page, "rows": audit_rows(org, page)})


urlpatterns = [
    path("", overview, name="money"),
    path("settings/", money_settings, name="money_settings"),
    path("plans/", plans_page, name="money_plans"),
    path("plans/new/", plan_edit, name="money_plan_new"),
    path("plans/<int:plan_id>/", plan_edit, name="money_plan"),
    path("plans/<int:plan_id>/default/", plan_default, name="money_plan_default"),
    path("plans/<int:plan_id>/archive/", plan_archive, name="money_plan_archive"),
    path("lives/<str:public_id>/settle/", settle, name="money_settle"),
    path("lives/<str:public_id>/plan/", live_plan, name="money_live_plan"),
    path("runs/<int:run_id>/", run_page, name="money_run"),
    path("runs/<int:run_id>/approve/", run_approve, name="money_run_approve"),
    path("runs/<int:run_id>/statements.csv", run_export, {"kind": "csv"}, name="money_run_csv"),
    path("runs/<int:run_id>/statements.xlsx", run_export, {"kind": "xlsx"}, name="money_run_xlsx"),
    path("statements/<str:number>/", statement_page, name="money_statement"),
    path("statements/<str:number>/approve/", statement_approve, name="money_statement_approve"),
    path("statements/<str:number>/paid/", statement_paid, name="money_statement_paid"),
    path("statements/<str:number>/retry/", statement_retry, name="money_statement_retry"),
    path("batches/", batches_page, name="money_batches"),
    path("batches/<int:batch_id>/", batch_page, name="money_batch"),
    path("batches/<int:batch_id>/batch.csv", batch_file, {"kind": "csv"}, name="money_batch_csv"),
    path("batches/<int:batch_id>/batch.xlsx", batch_file, {"kind": "xlsx"}, name="money_batch_xlsx"),
    path("batches/<int:batch_id>/results/", batch_results, name="money_batch_results"),
    path("promoters/<str:code>/", ledger_page, name="money_ledger"),
    path("promoters/<str:code>/adjust/", ledger_adjust, name="money_adjust"),
    path("promoters/<str:code>/lives/<str:public_id>/", ledger_live, name="money_ledger_live"),
    path("teams/", teams_page, name="money_teams"),
    path("teams/<int:team_id>/", team_leadership, name="money_team"),
    path("audit/", audit_page, name="money_audit"),
]
