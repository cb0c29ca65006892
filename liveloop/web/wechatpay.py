"""Settings → WeChat Pay (owner): the merchant that pays promoters by merchant transfer, and
the result callback WeChat Pay posts to (docs/wechat.md "WeChat Pay").

The merchant's API private key and API v3 key are written, never shown back (only that one
is saved and the last four characters of the v3 key); left empty they keep the saved ones."""
from __future__ import annotations

import json
import re

from django import forms
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from liveloop.integrations.models import WechatPayMerchant
from liveloop.integrations.wechatpay import protocol
from liveloop.lib.numbers import yuan_amount
from liveloop.money import wechatpay
from liveloop.orgs import audit
from liveloop.web.context import org_view, requires
from liveloop.web.shops import APPID_RE, last4

MCHID_RE = re.compile(r"^\d{8,12}$")
SERIAL_RE = re.compile(r"^[A-Za-z0-9_]{8,64}$")
SCENE_RE = re.compile(r"^\d{4}$")
V3_KEY_RE = re.compile(r"^[A-Za-z0-9]{32}$")
CALLBACK_MAX_BYTES = 64 * 1024
REPORT_MAX = 5


def _yuan_field(label, help_text):
    return forms.DecimalField(label=label, min_value=1, max_value=10_000_000, decimal_places=2, max_digits=12,
                              help_text=help_text)


class MerchantForm(forms.Form):
    mchid = forms.CharField(label=_("Merchant id (商户号)"), max_length=12)
    appid = forms.CharField(label=_("AppID of the receivers"), max_length=32,
                            help_text=_("The official account or mini-program whose openids are paid."))
    cert_serial = forms.CharField(label=_("Merchant API certificate serial number"), max_length=64)
    private_key = forms.CharField(label=_("Merchant API private key (apiclient_key.pem)"), required=False,
                                  max_length=8000, widget=forms.Textarea(attrs={"rows": 4}),
                                  help_text=_("Leave empty to keep the one saved."))
    api_v3_key = forms.CharField(label=_("API v3 key"), required=False, max_length=32,
                                 widget=forms.PasswordInput, help_text=_("Leave empty to keep the one saved."))
    public_key = forms.CharField(label=_("WeChat Pay public key (or platform certificate)"), max_length=8000,
                                 widget=forms.Textarea(attrs={"rows": 4}))
    public_key_id = forms.CharField(label=_("WeChat Pay public key id (or certificate serial number)"),
                                    max_length=64)
    scene_id = forms.CharField(label=_("Transfer scene id"), max_length=4, initial="1005",
                               help_text=_("1005 佣金报酬 (commission), 1000 现金营销 …: as approved for the merchant."))
    report_infos = forms.CharField(label=_("Scene report fields"), max_length=1000,
                                   widget=forms.Textarea(attrs={"rows": 3}),
                                   help_text=_("One per line, type=content, e.g. 岗位类型=直播推广员"))
    remark = forms.CharField(label=_("Remark the receiver sees"), max_length=32, initial="佣金报酬")
    receiver_daily = _yuan_field(_("Daily limit per receiver (yuan)"), _("WeChat Pay's default: 20,000 yuan."))
    merchant_daily = _yuan_field(_("Daily limit of the merchant (yuan)"), _("WeChat Pay's default: 100,000 yuan."))
    api_base_url = forms.URLField(label=_("API address"), max_length=200, initial="https://api.mch.weixin.qq.com",
                                  assume_scheme="https",
                                  help_text=_("WeChat Pay's; the emulator's address to try it out."))

    def __init__(self, *args, merchant: WechatPayMerchant | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.merchant = merchant

    def _matching(self, name, pattern, message):
        value = self.cleaned_data[name].strip()
        if not pattern.match(value):
            raise forms.ValidationError(message)
        return value

    def clean_mchid(self):
        return self._matching("mchid", MCHID_RE, _("A merchant id is 8 to 12 digits."))

    def clean_appid(self):
        return self._matching("appid", APPID_RE, _("Not an AppID."))

    def clean_cert_serial(self):
        return self._matching("cert_serial", SERIAL_RE, _("Not a certificate serial number."))

    def clean_public_key_id(self):
        return self._matching("public_key_id", SERIAL_RE, _("Not a public key id."))

    def clean_scene_id(self):
        return self._matching("scene_id", SCENE_RE, _("A transfer scene id is 4 digits."))

    def clean_private_key(self):
        value = self.cleaned_data["private_key"].strip()
        if not value:
            if self.merchant is None:
                raise forms.ValidationError(_("The private key is required."))
            return self.merchant.private_key
        try:
            protocol.private_key(value)
        except protocol.SignatureError:
            raise forms.ValidationError(_("Not an RSA private key in PEM (-----BEGIN PRIVATE KEY-----)."))
        return value

    def clean_api_v3_key(self):
        value = self.cleaned_data["api_v3_key"].strip()
        if not value:
            if self.merchant is None:
                raise forms.ValidationError(_("The API v3 key is required."))
            return self.merchant.api_v3_key
        if not V3_KEY_RE.match(value):
            raise forms.ValidationError(_("The API v3 key is 32 letters and digits."))
        return value

    def clean_public_key(self):
        value = self.cleaned_data["public_key"].strip()
        try:
            protocol.public_key(value)
        except protocol.SignatureError:
            raise forms.ValidationError(_("Not an RSA public key or certificate in PEM."))
        return value

    def clean_report_infos(self):
        infos = []
        for line in self.cleaned_data["report_infos"].splitlines():
            if not line.strip():
                continue
            kind, equals, content = line.partition("=")
            if not equals or not kind.strip() or not content.strip() or len(kind) > 15 or len(content) > 32:
                raise forms.ValidationError(_("Each line is type=content (type up to 15, content up to 32 "
                                              "characters)."))
            infos.append({"info_type": kind.strip(), "info_content": content.strip()})
        if not infos or len(infos) > REPORT_MAX:
            raise forms.ValidationError(_("Between 1 and 5 report fields, as the scene asks."))
        return infos

    def save(self, org, site_url: str = "") -> WechatPayMerchant:
        merchant = self.merchant or WechatPayMerchant(org=org)
        merchant.site_url = site_url or merchant.site_url
        data = dict(self.cleaned_data)
        data["receiver_daily_fen"] = int(data.pop("receiver_daily") * 100)
        data["merchant_daily_fen"] = int(data.pop("merchant_daily") * 100)
        for name, value in data.items():
            setattr(merchant, name, value)
        merchant.save()
        return merchant


def _initial(merchant):
    if merchant is None:
        return {"report_infos": "\n".join(f"{i['info_type']}={i['info_content']}"
                                          for i in WechatPayMerchant().report_infos),
                "receiver_daily": 20000, "merchant_daily": 100000}
    return {"mchid": merchant.mchid, "appid": merchant.appid, "cert_serial": merchant.cert_serial,
            "public_key": merchant.public_key, "public_key_id": merchant.public_key_id,
            "scene_id": merchant.scene_id, "remark": merchant.remark, "api_base_url": merchant.api_base_url,
            "report_infos": "\n".join(f"{i['info_type']}={i['info_content']}" for i in merchant.report_infos),
            "receiver_daily": yuan_amount(merchant.receiver_daily_fen),
            "merchant_daily": yuan_amount(merchant.merchant_daily_fen)}


def _page(request, merchant, form, status=200):
    response = render(request, "web/wechatpay.html", {
        "merchant": merchant, "form": form, "v3_last4": last4(merchant.api_v3_key) if merchant else "",
        "notify_url": request.build_absolute_uri(merchant.notify_path) if merchant else "",
    }, status=status)
    response["Cache-Control"] = "no-store"
    return response


@org_view
@require_http_methods(["GET", "POST"])
def wechatpay_page(request, org):
    merchant = wechatpay.merchant_of(org)
    if request.method == "GET":
        return _page(request, merchant, MerchantForm(merchant=merchant, initial=_initial(merchant)))
    return _save(request, org, merchant)


@requires("manage_settings")
def _save(request, org, merchant):
    form = MerchantForm(request.POST, merchant=merchant)
    if not form.is_valid():
        return _page(request, merchant, form, status=400)
    saved = form.save(org, site_url=request.build_absolute_uri("/"))
    audit.record(org, request.user, "wechatpay.settings", "organisation", mchid=saved.mchid, appid=saved.appid,
                 scene=saved.scene_id, receiver_daily=saved.receiver_daily_fen,
                 merchant_daily=saved.merchant_daily_fen)
    messages.success(request, _g("WeChat Pay merchant saved."))
    return redirect("web:wechatpay")


@csrf_exempt  # WeChat Pay's server posts here; the RSA signature is the proof, not a cookie
@require_POST
def notify(request, key):
    """WeChat Pay's result callback. 200 when applied (or already applied: a replay); 401 for
    a bad signature or an old timestamp, 400 for an unreadable resource — nothing changed."""
    if len(request.body) > CALLBACK_MAX_BYTES:
        return JsonResponse({"code": "FAIL", "message": "too large"}, status=413)
    try:
        wechatpay.receive_callback(key, request.headers, request.body.decode("utf-8", errors="replace"))
    except wechatpay.CallbackRefused as refused:
        return HttpResponse(json.dumps({"code": "FAIL", "message": str(refused)}), status=refused.status,
                            content_type="application/json")
    return HttpResponse(status=204)
