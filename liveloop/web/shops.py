"""Connected WeChat shops (微信小店) on the settings pages: add a shop, show the push URL to
paste into the shop's message push settings, map Channels lives to Liveloop lives, sync
sharers, back-fill orders and watch the pushes.

Secrets (token, EncodingAESKey, app secret) are written once and never shown back: only their
last four characters, so an operator can tell which one is configured.
"""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from liveloop.integrations.models import PushMessage, Shop, ShopLive
from liveloop.integrations.wechat.client import ShopApiError, ShopUnavailable
from liveloop.integrations.wechat import worker
from liveloop.integrations.wechat.crypto import CryptoError, aes_key
from liveloop.integrations.wechat.sharers import LinkError, backfill, link_promoter, sync_sharers
from liveloop.lives.models import Live
from liveloop.promoters.models import Promoter
from liveloop.web.context import org_view, requires
from liveloop.web.forms import BoundedDateField

RECENT_PUSHES = 20
FAILED_PUSHES = 100  # every failed push stays listed with its retry button, the newest this many
STATE_LABELS = {PushMessage.QUEUED: _("Queued"), PushMessage.PROCESSING: _("Processing"),
                PushMessage.DONE: _("Done"), PushMessage.SKIPPED: _("Skipped"),
                PushMessage.FAILED: _("Failed")}
MAX_BACKFILL_DAYS = 31  # back-fill runs inside the request: a bounded range keeps it short
TOKEN_RE = re.compile(r"^[A-Za-z0-9]{3,32}$")  # the shop's push settings accept 3–32 letters/digits
APPID_RE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


def last4(secret: str) -> str:
    return f"…{secret[-4:]}" if len(secret) > 4 else "…"


class ShopForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    appid = forms.CharField(label=_("AppID"), max_length=64)
    # Password inputs never render their value, so a form sent back with errors does not echo
    # a secret into the page.
    token = forms.CharField(label=_("Token"), max_length=32, widget=forms.PasswordInput,
                            help_text=_("As entered in the shop's message push settings."))
    encoding_aes_key = forms.CharField(label=_("EncodingAESKey"), max_length=43, min_length=43,
                                       widget=forms.PasswordInput, help_text=_("43 characters, from the shop's message push settings."))
    app_secret = forms.CharField(label=_("AppSecret"), max_length=128, widget=forms.PasswordInput)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.org = org

    def clean_appid(self):
        appid = self.cleaned_data["appid"].strip()
        if not APPID_RE.match(appid):
            raise forms.ValidationError(_("Not an AppID."))
        if Shop.objects.for_org(self.org).filter(appid=appid).exists():
            raise forms.ValidationError(_("This shop is already connected."))
        return appid

    def clean_token(self):
        token = self.cleaned_data["token"].strip()
        if not TOKEN_RE.match(token):
            raise forms.ValidationError(_("3 to 32 letters or digits."))
        return token

    def clean_encoding_aes_key(self):
        key = self.cleaned_data["encoding_aes_key"].strip()
        try:
            aes_key(key)
        except CryptoError:
            raise forms.ValidationError(_("Not an EncodingAESKey: 43 letters and digits.")) from None
        return key

    def clean_app_secret(self):
        return self.cleaned_data["app_secret"].strip()

    def save(self) -> Shop:
        return Shop.objects.create(org=self.org, **self.cleaned_data)


class MapLiveForm(forms.Form):
    channels_live_id = forms.CharField(label=_("Channels live id"), max_length=200,
                                       help_text=_("The live id in the shop's orders (ext_info.live_id)."))
    live = forms.ModelChoiceField(label=_("Live"), queryset=Live.objects.none(), to_field_name="public_id")

    def __init__(self, *args, shop, **kwargs):
        super().__init__(*args, **kwargs)
        self.shop = shop
        self.fields["live"].queryset = Live.objects.for_org(shop.org).order_by("-announced_at")

    def clean_channels_live_id(self):
        value = self.cleaned_data["channels_live_id"].strip()
        if ShopLive.objects.for_org(self.shop.org).filter(shop=self.shop, channels_live_id=value).exists():
            raise forms.ValidationError(_("This Channels live is already mapped."))
        return value

    def save(self) -> ShopLive:
        return ShopLive.objects.create(org=self.shop.org, shop=self.shop,
                                       channels_live_id=self.cleaned_data["channels_live_id"],
                                       live=self.cleaned_data["live"])


class BackfillForm(forms.Form):
    since = BoundedDateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = BoundedDateField(label=_("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if until < since:
                raise forms.ValidationError(_("The end is before the start."))
            if (until - since).days >= MAX_BACKFILL_DAYS:
                raise forms.ValidationError(_("At most %(days)s days at a time.") % {"days": MAX_BACKFILL_DAYS})
        return data

    def range(self) -> tuple[datetime, datetime]:
        """Whole local days in the organisation's zone (org_view activates it)."""
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.cleaned_data["since"], time.min, tzinfo=zone)
        end = datetime.combine(self.cleaned_data["until"] + timedelta(days=1), time.min, tzinfo=zone)
        return start, end


class LinkForm(forms.Form):
    openid = forms.CharField(label=_("Sharer openid"), max_length=128)
    promoter = forms.ModelChoiceField(label=_("Promoter"), queryset=Promoter.objects.none(),
                                      to_field_name="code")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["promoter"].queryset = Promoter.objects.for_org(org).order_by("code")


def _shop_of(org, shop_id) -> Shop:
    return get_object_or_404(Shop.objects.for_org(org), pk=shop_id)


@org_view
def shops_page(request, org):
    return _shops_page(request, org)


def _shops_page(request, org, form=None, status=200):
    shops = Shop.objects.for_org(org).annotate(mapped=Count("lives", distinct=True)).order_by("name")
    return render(request, "web/shops.html", {"shops": shops, "form": form or ShopForm(org=org)},
                  status=status)


@require_POST
@org_view
@requires("manage_settings")
def shop_add(request, org):
    form = ShopForm(request.POST, org=org)
    if not form.is_valid():
        return _shops_page(request, org, form=form, status=400)
    shop = form.save()
    messages.success(request, _g("Shop %(name)s connected. Paste its push URL into the shop's settings.")
                     % {"name": shop.name})
    return redirect("web:shop", shop.pk)


def _shop_page(request, shop, *, map_form=None, backfill_form=None, link_form=None, sync=None,
               filled=None, status=200):
    states = dict(PushMessage.objects.for_org(shop.org).filter(shop=shop)
                  .values_list("state").annotate(n=Count("pk")).order_by())
    mappings = (ShopLive.objects.for_org(shop.org).filter(shop=shop).select_related("live")
                .order_by("-live__announced_at", "channels_live_id"))
    pushes = PushMessage.objects.for_org(shop.org).filter(shop=shop).order_by("-pk")[:RECENT_PUSHES]
    failed = (PushMessage.objects.for_org(shop.org).filter(shop=shop, state=PushMessage.FAILED)
              .order_by("-pk")[:FAILED_PUSHES])
    push_url = request.build_absolute_uri(reverse("wechat:push", args=[shop.push_key]))
    response = render(request, "web/shop.html", {
        "shop": shop,
        "push_url": push_url,
        "secrets": {"token": last4(shop.token), "aes": last4(shop.encoding_aes_key),
                    "secret": last4(shop.app_secret)},
        "mappings": mappings,
        "map_form": map_form or MapLiveForm(shop=shop),
        "backfill_form": backfill_form or BackfillForm(),
        "link_form": link_form or LinkForm(org=shop.org),
        "counts": [(state, STATE_LABELS[state], states.get(state, 0)) for state, _label in PushMessage.STATES],
        "pushes": [(push, STATE_LABELS.get(push.state, push.state)) for push in pushes],
        "failed": [(push, failure_reason(push)) for push in failed],
        "sync": sync,
        "filled": filled,
        "max_days": MAX_BACKFILL_DAYS,
    }, status=status)
    # The push URL names the shop to anyone who has it: keep it out of shared caches.
    response["Cache-Control"] = "no-store"
    return response


def failure_reason(push: PushMessage) -> str:
    """Why a push failed, in the operator's language (the worker's own words are kept for the
    technical detail beside it)."""
    if worker.unusable(push):
        return _g("The shop's detail lacks what an order or refund needs (order, buyer or amount). "
                  "Correct it in the shop, then retry.")
    return _g("Given up after %(n)s attempts: the shop's API did not answer or Liveloop refused the "
              "event. Retry when the cause is fixed.") % {"n": push.attempts}


@org_view
def shop_page(request, org, shop_id):
    return _shop_page(request, _shop_of(org, shop_id))


@require_POST
@org_view
@requires("manage_settings")
def shop_map(request, org, shop_id):
    shop = _shop_of(org, shop_id)
    form = MapLiveForm(request.POST, shop=shop)
    if not form.is_valid():
        return _shop_page(request, shop, map_form=form, status=400)
    form.save()
    return redirect("web:shop", shop.pk)


@require_POST
@org_view
@requires("manage_settings")
def shop_unmap(request, org, shop_id, mapping_id):
    shop = _shop_of(org, shop_id)
    get_object_or_404(ShopLive.objects.for_org(org), shop=shop, pk=mapping_id).delete()
    return redirect("web:shop", shop.pk)


def _api_trouble(request, shop, error):
    # The error text is WeChat's errcode/errmsg or the network failure; it never holds a secret.
    messages.error(request, _g("The shop API did not answer: %(error)s") % {"error": error})
    return _shop_page(request, shop, status=502)


@require_POST
@org_view
@requires("manage_settings")
def shop_sync(request, org, shop_id):
    shop = _shop_of(org, shop_id)
    try:
        report = sync_sharers(shop)
    except (ShopApiError, ShopUnavailable) as error:
        return _api_trouble(request, shop, error)
    return _shop_page(request, shop, sync=report)


@require_POST
@org_view
@requires("manage_settings")
def shop_link(request, org, shop_id):
    shop = _shop_of(org, shop_id)
    form = LinkForm(request.POST, org=org)
    if form.is_valid():
        try:
            link_promoter(form.cleaned_data["promoter"], form.cleaned_data["openid"])
        except LinkError as error:
            form.add_error("openid", str(error))
    if not form.is_valid():
        return _shop_page(request, shop, link_form=form, status=400)
    messages.success(request, _g("Promoter %(code)s now sells as this sharer.")
                     % {"code": form.cleaned_data["promoter"].code})
    return redirect("web:shop", shop.pk)


@require_POST
@org_view
@requires("manage_settings")
def shop_backfill(request, org, shop_id):
    shop = _shop_of(org, shop_id)
    form = BackfillForm(request.POST)
    if not form.is_valid():
        return _shop_page(request, shop, backfill_form=form, status=400)
    since, until = form.range()
    try:
        report = backfill(shop, since, until)
    except (ShopApiError, ShopUnavailable) as error:
        return _api_trouble(request, shop, error)
    return _shop_page(request, shop, backfill_form=form, filled=report)


@require_POST
@org_view
@requires("manage_settings")
def shop_push_retry(request, org, shop_id, push_id):
    shop = _shop_of(org, shop_id)
    # Another organisation's (or shop's) push is not found, like every foreign id.
    get_object_or_404(PushMessage.objects.for_org(org), shop=shop, pk=push_id)
    if worker.retry(org, push_id):
        messages.success(request, _g("The push is back in the queue."))
    else:
        messages.error(request, _g("This push has not failed: nothing to retry."))
    return redirect("web:shop", shop.pk)
