"""Settings → WeChat login and mini-program: the brand's official account (web login on its
pages inside WeChat) and mini-program (the reservation made on Channels), docs/wechat.md.

Secrets are written, never shown back: only their last four characters. A secret left empty
keeps the one stored, so changing an app id or the Channels id does not mean typing them again.
"""
from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from liveloop.integrations.models import WechatApps
from liveloop.web.context import org_view, requires
from liveloop.web.shops import APPID_RE, last4

FINDER_RE = re.compile(r"^sph[A-Za-z0-9_-]{3,60}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


class WechatAppsForm(forms.Form):
    oa_appid = forms.CharField(label=_("Official account AppID"), max_length=64, required=False)
    oa_secret = forms.CharField(label=_("Official account AppSecret"), max_length=128, required=False,
                                widget=forms.PasswordInput,
                                help_text=_("Leave empty to keep the one saved."))
    mp_appid = forms.CharField(label=_("Mini-program AppID"), max_length=64, required=False)
    mp_secret = forms.CharField(label=_("Mini-program AppSecret"), max_length=128, required=False,
                                widget=forms.PasswordInput,
                                help_text=_("Leave empty to keep the one saved."))
    finder_username = forms.CharField(label=_("Channels account id"), max_length=64, required=False,
                                      help_text=_("Starts with sph, from the Channels assistant (视频号助手)."))

    def __init__(self, *args, apps: WechatApps | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.apps = apps

    def _appid(self, name):
        value = self.cleaned_data[name].strip()
        if value and not APPID_RE.match(value):
            raise forms.ValidationError(_("Not an AppID."))
        return value

    def clean_oa_appid(self):
        return self._appid("oa_appid")

    def clean_mp_appid(self):
        return self._appid("mp_appid")

    def _secret(self, name):
        value = self.cleaned_data[name].strip()
        if value and not SECRET_RE.match(value):
            raise forms.ValidationError(_("Not an AppSecret: letters and digits."))
        return value or (getattr(self.apps, name) if self.apps else "")

    def clean_oa_secret(self):
        return self._secret("oa_secret")

    def clean_mp_secret(self):
        return self._secret("mp_secret")

    def clean_finder_username(self):
        value = self.cleaned_data["finder_username"].strip()
        if value and not FINDER_RE.match(value):
            raise forms.ValidationError(_("A Channels account id starts with sph."))
        return value

    def clean(self):
        data = super().clean()
        # An app id without its secret (or the reverse) would fail at the first login.
        for appid, secret in (("oa_appid", "oa_secret"), ("mp_appid", "mp_secret")):
            if appid in self.errors or secret in self.errors:
                continue
            if bool(data.get(appid)) != bool(data.get(secret)):
                self.add_error(secret if data.get(appid) else appid, _("The AppID and the AppSecret go together."))
        return data

    def save(self, org) -> WechatApps:
        apps = self.apps or WechatApps(org=org)
        for name, value in self.cleaned_data.items():
            setattr(apps, name, value)
        apps.save()
        return apps


def _page(request, org, apps, form, status=200):
    response = render(request, "web/wechat_apps.html", {
        "apps": apps, "form": form,
        "secrets": {"oa": last4(apps.oa_secret) if apps and apps.oa_secret else "",
                    "mp": last4(apps.mp_secret) if apps and apps.mp_secret else ""},
        "login_url": request.build_absolute_uri(reverse("phone:wx_callback")),
    }, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _initial(apps):
    if apps is None:
        return {}
    return {"oa_appid": apps.oa_appid, "mp_appid": apps.mp_appid, "finder_username": apps.finder_username}


@org_view
@require_http_methods(["GET", "POST"])
def wechat_apps_page(request, org):
    apps = WechatApps.objects.for_org(org).first()
    if request.method == "GET":
        return _page(request, org, apps, WechatAppsForm(apps=apps, initial=_initial(apps)))
    return _save(request, org, apps)


@requires("manage_settings")
def _save(request, org, apps):
    form = WechatAppsForm(request.POST, apps=apps)
    if not form.is_valid():
        return _page(request, org, apps, form, status=400)
    form.save(org)
    messages.success(request, _g("WeChat login and mini-program settings saved."))
    return redirect("web:wechat_apps")
