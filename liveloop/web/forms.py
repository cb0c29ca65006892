"""The operator pages' forms: each checks its fields (errors shown beside them) and hands the
clean values to the service that owns the change.

Member changes live here too, with the rule that an organisation always keeps an owner.
"""
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _

from liveloop.lives.models import Account
from liveloop.actions.lives import create_live, update_live
from liveloop.orgs.models import ApiKey, Member
from liveloop.orgs.services import add_member
from liveloop.orgs.zones import ZONE_LABELS, zone_label
from liveloop.promoters.models import DEFAULT_CAP
from liveloop.actions.promoters import MAX_INVITE_CODES
from liveloop.rules.attribution import FIRST_TOUCH, MODES
from liveloop.rules.dates import (ANNOUNCE_AHEAD, FIRST_DAY, LAST_DAY, DateRangeError, PastTimeError,
                                   check_announced, check_not_past, day_in_range)
from liveloop.web.tables import MODE_LABELS, ROLE_LABELS

COMMON_ZONES = tuple(ZONE_LABELS)  # the organisation's current zone is added if missing

LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    """A datetime-local input. The value is read and shown in the current time zone, which
    org_view sets to the organisation's."""
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=LOCAL_MINUTE, **kwargs)


class BoundedDateField(forms.DateField):
    """A day a page is asked for (From/To): within rules.dates' window, so turning it into a
    range of aware times (a day later, in the organisation's zone) cannot overflow."""

    def validate(self, value):
        super().validate(value)
        if value is not None and not day_in_range(value):
            raise forms.ValidationError(
                _("Choose a day between %(first)s and %(last)s.")
                % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}, code="out_of_range")


class PreviewLinkField(forms.URLField):
    # Viewers are sent on to this link: only web links, never javascript: or a file.
    default_validators = [URLValidator(schemes=["http", "https"])]

    def __init__(self, **kwargs):
        super().__init__(required=False, max_length=500, assume_scheme="https",
                         help_text=_("The platform's preview link that viewers reserve on. "
                                     "You can add it later."), **kwargs)


class LiveEditForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    announced_at = forms.DateTimeField(label=_("Announced time"), widget=LocalDateTimeInput(),
                                       input_formats=[LOCAL_MINUTE, "%Y-%m-%d %H:%M"])
    preview_url = PreviewLinkField(label=_("Preview link"))

    def __init__(self, *args, live=None, **kwargs):
        if live is not None and "initial" not in kwargs:
            kwargs["initial"] = {"title": live.title, "announced_at": live.announced_at,
                                 "preview_url": live.preview_url}
        super().__init__(*args, **kwargs)
        self.live = live

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(self.fields["title"].error_messages["required"], code="required")
        return title

    def clean_announced_at(self):
        value = self.cleaned_data["announced_at"]
        try:
            check_announced(value, timezone.now())
        except DateRangeError:
            raise forms.ValidationError(
                _("Choose a time between %(first)s and %(years)s years from now.")
                % {"first": FIRST_DAY.isoformat(), "years": ANNOUNCE_AHEAD.days // 365},
                code="out_of_range") from None
        kept = self.live.announced_at if self.live is not None else None
        try:
            check_not_past(value, timezone.now(), unchanged_from=kept)
        except PastTimeError:
            raise forms.ValidationError(
                _("This time has passed: announce the live for now or later."), code="past") from None
        if kept is not None and value.replace(second=0, microsecond=0) == kept.replace(second=0, microsecond=0):
            return kept  # the form shows minutes: an unchanged time keeps its seconds
        return value

    def save(self, live):
        return update_live(live, **{name: self.cleaned_data[name]
                                    for name in ("title", "announced_at", "preview_url")})


class LiveForm(LiveEditForm):
    account = forms.ModelChoiceField(label=_("Account"), queryset=Account.objects.none(),
                                     empty_label=None)
    cap = forms.IntegerField(label=_("Promoter cap"), min_value=1, max_value=DEFAULT_CAP,
                             initial=DEFAULT_CAP)
    mode = forms.ChoiceField(label=_("Attribution"), initial=FIRST_TOUCH,
                             choices=[(mode, MODE_LABELS[mode]) for mode in MODES],
                             help_text=_("Who keeps a viewer reached by two promoters: the first "
                                         "or the latest."))
    binding_days = forms.IntegerField(label=_("Binding days"), min_value=1, max_value=365,
                                      initial=30)
    field_order = ["account", "title", "announced_at", "preview_url", "cap", "mode", "binding_days"]

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.org = org
        self.fields["account"].queryset = Account.objects.for_org(org).order_by("name")

    def save(self):
        data = self.cleaned_data
        return create_live(self.org, account=data["account"], title=data["title"],
                           announced_at=data["announced_at"], preview_url=data["preview_url"],
                           cap=data["cap"], mode=data["mode"], binding_days=data["binding_days"])


class InviteCodesForm(forms.Form):
    count = forms.IntegerField(label=_("How many"), min_value=1, max_value=MAX_INVITE_CODES,
                               initial=10)


# Settings

ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role, _label in Member.ROLES]


class MemberAddForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput(render_value=False),
                               help_text=_("Give it to the person; they sign in with it."))
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial=Member.OPERATOR)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.org = org

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user_model = get_user_model()
        user_model.username_validator(username)
        # An existing account is someone else's: setting its password from here would take it over.
        if user_model.objects.filter(username=username).exists():
            raise forms.ValidationError(_("This username is taken. Choose another."))
        return username

    def clean_password(self):
        password = self.cleaned_data["password"]
        # The would-be account lets UserAttributeSimilarityValidator refuse the username itself.
        validate_password(password, get_user_model()(username=self.cleaned_data.get("username", "")))
        return password

    def save(self) -> Member:
        data = self.cleaned_data
        return add_member(self.org, data["username"], data["role"], password=data["password"])


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Key name"), max_length=80,
                           help_text=_("Where the key is used, e.g. the mini-program shop."))

    def save(self, org) -> tuple[ApiKey, str]:
        return ApiKey.issue(org, self.cleaned_data["name"].strip())


class TimezoneForm(forms.Form):
    timezone = forms.ChoiceField(label=_("Time zone"))

    def __init__(self, *args, org, **kwargs):
        kwargs.setdefault("initial", {"timezone": org.timezone})
        super().__init__(*args, **kwargs)
        self.org = org
        zones = list(COMMON_ZONES)
        if org.timezone not in zones:
            zones.append(org.timezone)
        self.fields["timezone"].choices = [(zone, zone_label(zone)) for zone in zones]

    def save(self):
        self.org.timezone = self.cleaned_data["timezone"]
        self.org.save(update_fields=["timezone"])
        return self.org


class PlannerSettingsForm(forms.Form):
    """The planner's public-traffic match (rules.forecast): entered as a percentage, stored in
    basis points, so 100% = 10000 bps = one public viewer per reservation."""
    public_match_percent = forms.DecimalField(
        label=_("Public viewers per reservation (%)"), min_value=0, max_value=1000, decimal_places=2)
    public_match_cap = forms.IntegerField(label=_("Most public viewers a live gets"), min_value=0,
                                          max_value=100_000_000)

    def __init__(self, *args, org, **kwargs):
        kwargs.setdefault("initial", {"public_match_percent": Decimal(org.public_match_bps) / 100,
                                      "public_match_cap": org.public_match_cap})
        super().__init__(*args, **kwargs)
        self.org = org

    def save(self):
        # Two decimal places of a percentage are whole basis points: the product is exact.
        self.org.public_match_bps = int(self.cleaned_data["public_match_percent"] * 100)
        self.org.public_match_cap = self.cleaned_data["public_match_cap"]
        self.org.save(update_fields=["public_match_bps", "public_match_cap"])
        return self.org


class MemberError(Exception):
    pass


def _keep_an_owner(member: Member) -> None:
    # Locks the owners' rows, so two owners demoting each other at once cannot both succeed.
    owners = list(Member.objects.select_for_update().filter(org_id=member.org_id, role=Member.OWNER)
                  .values_list("pk", flat=True))
    if owners == [member.pk]:
        raise MemberError(_("The organisation's last owner cannot be removed or given another role."))


@transaction.atomic
def change_role(member: Member, role: str) -> Member:
    if member.role == Member.OWNER and role != Member.OWNER:
        _keep_an_owner(member)
    member.role = role
    member.save(update_fields=["role"])
    return member


@transaction.atomic
def remove_member(member: Member) -> None:
    if member.role == Member.OWNER:
        _keep_an_owner(member)
    member.delete()


ROTATION_GRACE = timedelta(hours=24)


@transaction.atomic
def rotate_key(api_key: ApiKey) -> tuple[ApiKey, str]:
    """A new key under the same name; the old one keeps working for ROTATION_GRACE so the
    producers using it can switch without losing a batch, then answers 401."""
    old = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if not old.active or old.rotated_to_id:
        raise MemberError(gettext("Only an active key that was not rotated yet can be rotated."))
    new, secret = ApiKey.issue(old.org, old.name)
    old.expires_at, old.rotated_to = timezone.now() + ROTATION_GRACE, new
    old.save(update_fields=["expires_at", "rotated_to"])
    return new, secret


def revoke_key(api_key: ApiKey) -> ApiKey:
    """From now on the key answers 401; revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key
