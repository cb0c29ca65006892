"""The finance pages' forms. Amounts typed in yuan are read with Decimal and turned into whole
fen exactly, never through a float; rates in percent into whole basis points."""
from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation

from django import forms
from django.db import IntegrityError
from django.utils.translation import gettext as _, gettext_lazy

from liveloop.money.ledger import AdjustmentError, adjust
from liveloop.money.models import Plan
from liveloop.money.plans import save_plan
from liveloop.money.teams import set_leadership
from liveloop.orgs import audit
from liveloop.promoters.models import Promoter, Team
from liveloop.rules import commission as rules
from liveloop.rules.tax_identity import ID_TYPES, InvalidIdNumber, clean_id_number
from liveloop.web.money.labels import said


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
    pay_wechat_commissioned = forms.BooleanField(
        label=gettext_lazy("Also pay on orders WeChat commissions"), required=False,
        help_text=gettext_lazy("Off: the part of an order WeChat's sharer programme (推客) already pays its "
                               "sharer for is left out of this plan, so one sale is not paid twice. A "
                               "commission WeChat cancels counts again."))
    make_default = forms.BooleanField(label=gettext_lazy("The organisation's default plan"), required=False)

    # PlanError.field → the form field showing it
    FIELDS = {"rate_bps": "rate_percent", "tiers": "tiers", "reservation_bounty_fen": "reservation_bounty",
              "new_buyer_bounty_fen": "new_buyer_bounty", "effective_view_bounty_fen": "effective_view_bounty",
              "effective_view_cap": "effective_view_cap", "cap_fen": "cap", "override_levels": "override_levels",
              "override_bps": "override_1", "allow_self_purchase": "allow_self_purchase",
              "pay_wechat_commissioned": "pay_wechat_commissioned"}

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
                "allow_self_purchase": r.allow_self_purchase,
                "pay_wechat_commissioned": r.pay_wechat_commissioned, "make_default": plan.is_default}

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
                "override_bps": override, "allow_self_purchase": bool(data.get("allow_self_purchase")),
                "pay_wechat_commissioned": bool(data.get("pay_wechat_commissioned"))}

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


# Settings and bulk actions --------------------------------------------------------------------

class MoneySettingsForm(forms.Form):
    refund_window_days = forms.IntegerField(
        label=gettext_lazy("Refund window (days after a live ends)"), min_value=0, max_value=365,
        help_text=gettext_lazy("A live can be settled once this many days have passed since it ended."))
    withhold_tax = forms.BooleanField(
        label=gettext_lazy("Withhold individual income tax on labour remuneration (劳务报酬)"), required=False)

    payout_ceiling = YuanField(
        label=gettext_lazy("Most paid to one promoter in one payout batch (yuan)"), required=False,
        min_value=Decimal("0.01"), max_value=Decimal("10000000"),
        help_text=gettext_lazy("Above it, the promoter's statements are held out of the batch until finance "
                               "releases them. Empty: no ceiling."))

    def __init__(self, *args, org, **kwargs):
        kwargs.setdefault("initial", {"refund_window_days": org.refund_window_days,
                                      "withhold_tax": org.withhold_tax,
                                      "payout_ceiling": None if org.payout_ceiling is None
                                      else Decimal(org.payout_ceiling) / 100})
        super().__init__(*args, **kwargs)
        self.org = org

    def save(self, user):
        before = {"refund_window_days": self.org.refund_window_days, "withhold_tax": self.org.withhold_tax,
                  "payout_ceiling": self.org.payout_ceiling}
        self.org.refund_window_days = self.cleaned_data["refund_window_days"]
        self.org.withhold_tax = self.cleaned_data["withhold_tax"]
        self.org.payout_ceiling = self.cleaned_data["payout_ceiling"]
        self.org.save(update_fields=["refund_window_days", "withhold_tax", "payout_ceiling"])
        audit.record(self.org, user, "money.settings", "organisation", before=before,
                     after={"refund_window_days": self.org.refund_window_days,
                            "withhold_tax": self.org.withhold_tax, "payout_ceiling": self.org.payout_ceiling})


class TaxIdentityForm(forms.Form):
    """What the tax report and the bank file name a promoter by: entered by finance on the
    promoter's ledger page, each field with its own error."""
    legal_name = forms.CharField(label=gettext_lazy("Legal name (as on the ID and the bank card)"), max_length=64)
    id_type = forms.ChoiceField(label=gettext_lazy("ID type"), choices=list(ID_TYPES.items()))
    id_number = forms.CharField(label=gettext_lazy("ID number"), max_length=32)
    bank_branch = forms.CharField(label=gettext_lazy("Bank branch or city (for a card of another bank)"),
                                  max_length=60, required=False)

    def clean_legal_name(self):
        name = " ".join(self.cleaned_data["legal_name"].split())
        if any(ch.isdigit() or not ch.isprintable() for ch in name):
            raise forms.ValidationError(_("A legal name has no digits or control characters."))
        return name

    def clean(self):
        data = super().clean()
        if "id_type" in data and "id_number" in data:
            try:
                data["id_number"] = clean_id_number(data["id_type"], data["id_number"])
            except InvalidIdNumber as error:
                self.add_error("id_number", {
                    "checksum": _("This ID number's last digit does not match the others: check it against the card."),
                    "date": _("This ID number does not hold a real birth date."),
                }.get(error.code, _("This is not a number of the chosen ID type.")))
        return data

    def save(self, org, user, promoter):
        data = self.cleaned_data
        promoter.legal_name, promoter.id_type = data["legal_name"], data["id_type"]
        promoter.id_number, promoter.bank_branch = data["id_number"], data["bank_branch"]
        promoter.save(update_fields=["legal_name", "id_type", "id_number", "bank_branch"])
        # Masked in the log too: the audit page is open to every role.
        audit.record(org, user, "promoter.tax_identity", f"promoter {promoter.code}",
                     id_type=data["id_type"], id_number=promoter.masked_id_number,
                     legal_name=promoter.masked_legal_name)


CONFIRM = re.compile(r"(\d{1,9}):(\d{1,15})")


def confirmed(request) -> tuple[int, int] | None:
    """The (count, sum in fen) a bulk action's checkbox carries, as shown on the page when the
    person ticked it; None when unticked or not in that shape."""
    match = CONFIRM.fullmatch(request.POST.get("confirm", ""))
    return (int(match[1]), int(match[2])) if match else None


# Payout batches, a promoter's ledger, teams ---------------------------------------------------

class ResultsForm(forms.Form):
    results = forms.FileField(label=gettext_lazy("Payment results file (CSV or XLSX)"),
                              help_text=gettext_lazy("Columns: payment reference (付款参考号), status (成功/已完成 or "
                                                     "失败/已退回), transaction id (流水号) for paid rows, reason (原因) "
                                                     "for failed ones."))


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


def adjust_key(request) -> str:
    """The idempotency key the adjustment form carries: kept on a resend of the same form (a
    refused one wrote nothing), a new one for a fresh form."""
    key = request.POST.get("key", "") if request.method == "POST" else ""
    return key if ADJUST_KEY.fullmatch(key) else uuid.uuid4().hex


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
