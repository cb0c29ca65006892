"""推客 (WeChat's promoter programme) on the pages: Settings → 推客 (the owner connects the
联盟带货机构 account), the 推客 page (operators link sharers to promoters; a name match is only a
suggestion to confirm), and the live page's section (link the live to its WeChat notice, see the
sync state, sync now). docs/wechat.md "推客".

Secrets are written, never shown back: only their last four characters. A secret left empty
keeps the one stored. Every change is audited (orgs.audit) and read back in words (web.audit).
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from liveloop.integrations.models import TuikeAccount, TuikeLiveSharer, TuikeNotice, TuikeSharer
from liveloop.integrations.tuike import links, sync, worker
from liveloop.integrations.tuike.client import ShopApiError, ShopUnavailable, TuikeClient
from liveloop.integrations.wechat.crypto import CryptoError, aes_key
from liveloop.orgs.audit import record
from liveloop.promoters.models import Promoter
from liveloop.web import queries
from liveloop.web.context import org_view, requires
from liveloop.web.shops import APPID_RE, TOKEN_RE, last4
from liveloop.web.wechat_apps import SECRET_RE

STATE_LABELS = {TuikeNotice.OK: _("Synced"), TuikeNotice.RETRYING: _("Retrying"),
                TuikeNotice.STOPPED: _("Stopped")}
KIND_LABELS = {TuikeAccount.TALENT: _("A talent's own lives (带货者)"),
               TuikeAccount.SHOP: _("A shop-linked account's lives (小店关联账号)")}


# -- Settings → 推客 ------------------------------------------------------------------------------

class AccountForm(forms.Form):
    appid = forms.CharField(label=_("AppID of the 联盟带货机构 account"), max_length=64)
    app_secret = forms.CharField(label=_("AppSecret"), max_length=128, required=False, widget=forms.PasswordInput,
                                 help_text=_("Leave empty to keep the one saved."))
    kind = forms.ChoiceField(label=_("Whose lives"), choices=list(KIND_LABELS.items()))
    talent_appid = forms.CharField(label=_("Talent AppID (带货者)"), max_length=64, required=False)
    mini_program_appid = forms.CharField(label=_("Mini-program AppID bound to the account"), max_length=64,
                                         required=False,
                                         help_text=_("The mini-program the share link opens (wx.reserveChannelsLive)."))
    shop_appid = forms.CharField(label=_("Shop AppID (小店)"), max_length=64, required=False)
    promoter_id = forms.CharField(label=_("Shop-linked account id"), max_length=128, required=False,
                                  help_text=_("From WeChat's list of the shop's linked accounts (a Channels account)."))
    token = forms.CharField(label=_("Callback Token"), max_length=32, required=False, widget=forms.PasswordInput,
                            help_text=_("For the promoter-bind callback; leave empty to keep the one saved."))
    encoding_aes_key = forms.CharField(label=_("Callback EncodingAESKey"), max_length=43, required=False,
                                       widget=forms.PasswordInput,
                                       help_text=_("43 characters; leave empty to keep the one saved."))
    api_base_url = forms.URLField(label=_("API address"), max_length=200, required=False, assume_scheme="https",
                                  help_text=_("Leave empty for WeChat's (https://api.weixin.qq.com)."))

    def __init__(self, *args, account: TuikeAccount | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account

    def _appid(self, name, required=False):
        value = self.cleaned_data[name].strip()
        if (value or required) and not APPID_RE.match(value):
            raise forms.ValidationError(_("Not an AppID."))
        return value

    def clean_appid(self):
        return self._appid("appid", required=True)

    def clean_talent_appid(self):
        return self._appid("talent_appid")

    def clean_mini_program_appid(self):
        return self._appid("mini_program_appid")

    def clean_shop_appid(self):
        return self._appid("shop_appid")

    def clean_promoter_id(self):
        value = self.cleaned_data["promoter_id"].strip()
        if value and not links.NOTICE_ID_RE.match(value):
            raise forms.ValidationError(_("Letters, digits or symbols, without spaces."))
        return value

    def _kept(self, name, pattern, message):
        value = self.cleaned_data[name].strip()
        if value and not pattern(value):
            raise forms.ValidationError(message)
        return value or (getattr(self.account, name) if self.account else "")

    def clean_app_secret(self):
        value = self._kept("app_secret", SECRET_RE.match, _("Not an AppSecret: letters and digits."))
        if not value:
            raise forms.ValidationError(_("Enter the AppSecret."))
        return value

    def clean_token(self):
        return self._kept("token", TOKEN_RE.match, _("3 to 32 letters or digits."))

    def clean_encoding_aes_key(self):
        def valid(key):
            try:
                aes_key(key)
            except CryptoError:
                return False
            return True
        return self._kept("encoding_aes_key", valid, _("Not an EncodingAESKey: 43 letters and digits."))

    def clean_api_base_url(self):
        return self.cleaned_data["api_base_url"].strip() or "https://api.weixin.qq.com"

    def clean(self):
        data = super().clean()
        talent = data.get("kind") == TuikeAccount.TALENT
        if talent and "talent_appid" not in self.errors and not data.get("talent_appid"):
            self.add_error("talent_appid", _("A talent's lives need the talent's AppID."))
        if data.get("kind") == TuikeAccount.SHOP:
            for name in ("shop_appid", "promoter_id"):
                if name not in self.errors and not data.get(name):
                    self.add_error(name, _("A shop-linked account's lives need this."))
        if bool(data.get("token")) != bool(data.get("encoding_aes_key")) and \
                "token" not in self.errors and "encoding_aes_key" not in self.errors:
            self.add_error("encoding_aes_key" if data.get("token") else "token",
                           _("The callback Token and EncodingAESKey go together."))
        return data

    def save(self, org) -> TuikeAccount:
        account = self.account or TuikeAccount(org=org)
        for name, value in self.cleaned_data.items():
            setattr(account, name, value)
        account.save()
        return account


def _initial(account):
    if account is None:
        return {"kind": TuikeAccount.TALENT}
    return {name: getattr(account, name) for name in
            ("appid", "kind", "talent_appid", "mini_program_appid", "shop_appid", "promoter_id", "api_base_url")}


def _settings_page(request, org, account, form, status=200):
    response = render(request, "web/tuike_settings.html", {
        "account": account, "form": form, "kind_label": KIND_LABELS.get(account.kind) if account else "",
        "secrets": {"secret": last4(account.app_secret), "token": last4(account.token) if account.token else "",
                    "aes": last4(account.encoding_aes_key) if account.encoding_aes_key else ""} if account else {},
        "callback_url": request.build_absolute_uri(reverse("wechat:tuike_callback", args=[account.callback_key]))
        if account else "",
    }, status=status)
    response["Cache-Control"] = "no-store"  # the callback URL names the account to anyone who has it
    return response


@org_view
@require_http_methods(["GET", "POST"])
def tuike_settings(request, org):
    account = TuikeAccount.objects.for_org(org).first()
    if request.method == "GET":
        return _settings_page(request, org, account, AccountForm(account=account, initial=_initial(account)))
    return _save_account(request, org, account)


@requires("manage_settings")
def _save_account(request, org, account):
    form = AccountForm(request.POST, account=account)
    if not form.is_valid():
        return _settings_page(request, org, account, form, status=400)
    try:
        account = form.save(org)
    except IntegrityError:  # connected from another tab meanwhile
        form.add_error(None, _g("The account was connected meanwhile: reload the page."))
        return _settings_page(request, org, account, form, status=409)
    resumed = sync.resume_stopped(org)
    record(org, request.user, "tuike.connect", "organisation", appid=account.appid, kind=account.kind,
           resumed=resumed)
    messages.success(request, _g("推客 account saved."))
    return redirect("web:tuike_settings")


# -- the 推客 page: sharers ↔ promoters ------------------------------------------------------------

def _sharers_page(request, org, status=200):
    sharers = list(TuikeSharer.objects.for_org(org).select_related("promoter").order_by("-bound", "nickname", "pk"))
    suggested = links.suggestions(org)
    linked_ids = {s.promoter_id for s in sharers if s.promoter_id}
    free = [p for p in Promoter.objects.for_org(org).order_by("name_pinyin", "code").only("code", "name")
            if p.pk not in linked_ids]
    return render(request, "web/tuike_sharers.html", {
        "account": TuikeAccount.objects.for_org(org).first(),
        "rows": [(sharer, suggested.get(sharer.pk)) for sharer in sharers],
        "free_promoters": free,
    }, status=status)


@org_view
def tuike_sharers(request, org):
    return _sharers_page(request, org)


def _client(org) -> TuikeClient | None:
    account = TuikeAccount.objects.for_org(org).first()
    return TuikeClient(account) if account is not None else None


def _api_trouble(request, error) -> None:
    # WeChat's errcode/errmsg or the network failure: never a secret.
    messages.error(request, _g("WeChat did not answer: %(error)s") % {"error": error})


@require_POST
@org_view
@requires("manage_lives")
def tuike_sharers_fetch(request, org):
    client = _client(org)
    if client is None:
        messages.error(request, _g("Connect the 推客 account first."))
        return redirect("web:tuike_sharers")
    try:
        report = links.record_sharers(org, client.bound_sharers())
    except (ShopApiError, ShopUnavailable) as error:
        _api_trouble(request, error)
        return _sharers_page(request, org, status=502)
    except IntegrityError:  # a bind callback or another fetch added the same 推客 meanwhile
        messages.error(request, _g("Another fetch or a bind callback ran at the same time: fetch again."))
        return redirect("web:tuike_sharers")
    record(org, request.user, "tuike.sharers_fetch", "organisation", count=report.new + report.seen,
           new=report.new, unbound=len(report.unbound))
    messages.success(request, _g("%(total)s bound 推客 from WeChat, %(new)s new; %(gone)s no longer bound.")
                     % {"total": report.new + report.seen, "new": report.new, "gone": len(report.unbound)})
    return redirect("web:tuike_sharers")


def _sharer_of(org, sharer_id) -> TuikeSharer:
    return get_object_or_404(TuikeSharer.objects.for_org(org).select_related("promoter"), pk=sharer_id)


@require_POST
@org_view
@requires("manage_lives")
def tuike_sharer_link(request, org, sharer_id):
    sharer = _sharer_of(org, sharer_id)
    code = str(request.POST.get("promoter", ""))[:32]
    if not code:
        messages.error(request, _g("Choose a promoter."))
        return _sharers_page(request, org, status=400)
    promoter = get_object_or_404(Promoter.objects.for_org(org), code=code)
    try:
        links.link_sharer(sharer, promoter)
    except links.LinkError as error:
        messages.error(request, str(error))
        return _sharers_page(request, org, status=409)
    record(org, request.user, "tuike.sharer_link", f"promoter {promoter.code}", sharer=sharer.sharer_appid,
           nickname=sharer.nickname)
    messages.success(request, _g("Promoter %(name)s is now the 推客 %(sharer)s.")
                     % {"name": promoter.name, "sharer": sharer.nickname or sharer.sharer_appid})
    return redirect("web:tuike_sharers")


@require_POST
@org_view
@requires("manage_lives")
def tuike_sharer_unlink(request, org, sharer_id):
    sharer = _sharer_of(org, sharer_id)
    promoter = links.unlink_sharer(sharer)
    if promoter is not None:
        record(org, request.user, "tuike.sharer_unlink", f"promoter {promoter.code}", sharer=sharer.sharer_appid,
               nickname=sharer.nickname)
    return redirect("web:tuike_sharers")


# -- the live page's section ----------------------------------------------------------------------

class NoticeForm(forms.Form):
    notice_id = forms.CharField(label=_("WeChat live notice id"), max_length=200,
                                help_text=_("Pick it from WeChat's list, or type it."))
    live_export_id = forms.CharField(label=_("Live id once on air (optional)"), max_length=200, required=False,
                                     help_text=_("For the promotion statistics; found by itself when the live "
                                                 "is on air."))

    def clean_notice_id(self):
        try:
            return links.clean_notice_id(self.cleaned_data["notice_id"])
        except links.LinkError as error:
            raise forms.ValidationError(str(error)) from None


NOTICE_CHOICES = "tuike_notices"  # the session key of the list fetched for this live
MAX_CHOICES = 100


def live_context(request, live, form: NoticeForm | None = None) -> dict:
    """The live page's 推客 section: nothing at all until the organisation connects an account."""
    account = TuikeAccount.objects.for_org(live.org).first()
    if account is None:
        return {"tuike": None}
    notice = links.notice_of(live)
    rows = []
    if notice is not None:
        # Figures of the current notice only (a re-linked live's old ones are not its counts).
        rows = list(TuikeLiveSharer.objects.for_org(live.org).filter(live=live, notice_id=notice.notice_id)
                    .select_related("sharer", "promoter").order_by("-reservation_count", "pk"))
    return {"tuike": {
        "notice": notice, "rows": rows,
        "state_label": STATE_LABELS.get(notice.sync_state) if notice else "",
        "form": form or NoticeForm(), "choices": _fetched(request, live) or None,
    }}


def _fetched(request, live) -> list[dict]:
    """The notices fetched from WeChat for this live, kept in the operator's session."""
    fetched = request.session.get(NOTICE_CHOICES) or {}
    return fetched.get("notices", []) if fetched.get("live") == live.public_id else []


@require_POST
@org_view
@requires("manage_lives")
def live_tuike_notices(request, org, public_id):
    """Fetch WeChat's notice list for the operator to pick from (one API call, on demand)."""
    live = queries.live_of(org, public_id)
    back = redirect(reverse("web:live", args=[live.public_id]) + "#tuike")
    account = TuikeAccount.objects.for_org(org).first()
    if account is None:
        messages.error(request, _g("Connect the 推客 account first."))
        return back
    try:
        notices = TuikeClient(account).notices()
    except (ShopApiError, ShopUnavailable) as error:
        _api_trouble(request, error)
    else:
        request.session[NOTICE_CHOICES] = {"live": live.public_id, "notices": [
            {"notice_id": str(n.get("notice_id", ""))[:200], "description": str(n.get("description", ""))[:200],
             "start_time": n.get("start_time") if isinstance(n.get("start_time"), int) else None}
            for n in notices[:MAX_CHOICES]]}
        if not notices:
            messages.info(request, _g("WeChat lists no live notice for this account."))
    return back


def link_notice(request, live) -> NoticeForm | None:
    """Link the live to the notice posted; the form with its errors when refused, else None."""
    form = NoticeForm(request.POST)
    if form.is_valid():
        details = {n["notice_id"]: n for n in _fetched(request, live)}
        picked = details.get(form.cleaned_data["notice_id"], {})
        try:
            links.link_notice(live, form.cleaned_data["notice_id"], export_id=form.cleaned_data["live_export_id"],
                              description=picked.get("description", ""), start_time=picked.get("start_time"))
        except links.LinkError as error:
            form.add_error("notice_id", str(error))
    if not form.is_valid():
        return form
    request.session.pop(NOTICE_CHOICES, None)
    record(live.org, request.user, "tuike.notice_link", f"live {live.public_id}", notice=form.cleaned_data["notice_id"])
    messages.success(request, _g("Linked to the WeChat live notice: its 推客 figures sync from now on."))
    return None


@require_POST
@org_view
@requires("manage_lives")
def live_tuike_unlink(request, org, public_id):
    live = queries.live_of(org, public_id)
    notice_id = links.unlink_notice(live)
    if notice_id:
        record(org, request.user, "tuike.notice_unlink", f"live {live.public_id}", notice=notice_id)
    return redirect(reverse("web:live", args=[live.public_id]) + "#tuike")


@require_POST
@org_view
@requires("manage_lives")
def live_tuike_sync(request, org, public_id):
    live = queries.live_of(org, public_id)
    notice = get_object_or_404(TuikeNotice.objects.for_org(org), live=live)
    if not worker.claim(notice, timezone.now()):
        messages.info(request, _g("A sync of this live is running: its result shows here in a moment."))
        return redirect(reverse("web:live", args=[live.public_id]) + "#tuike")
    result = sync.sync_live(notice)
    record(org, request.user, "tuike.sync", f"live {live.public_id}", ok=result.ok, synced=result.synced)
    if result.ok:
        messages.success(request, _g("Synced %(n)s 推客 from WeChat.") % {"n": result.synced})
    else:
        messages.error(request, result.reason)
    return redirect(reverse("web:live", args=[live.public_id]) + "#tuike")
