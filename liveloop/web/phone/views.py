"""Promoter and viewer pages (phones): joining, the promoter's own page and poster, the relay.

No sign-in: the join token, the signed own-page link (and its cookie) and the invite link's
live + code are what identify things here. Each view parses, looks up, calls one function,
renders.
"""
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from liveloop.integrations.tuike import links as tuike_links
from liveloop.integrations.tuike import qr as tuike_qr
from liveloop.integrations.wechat import login as wx_login
from liveloop.integrations.wechat import miniprogram, oauth
from liveloop.integrations.wechat.client import ShopApiError, ShopUnavailable
from liveloop.integrations.models import WechatApps
from liveloop.actions import joining, proof
from liveloop.money import wechatpay
from liveloop.promoters import images
from liveloop.promoters.links import own_page_url, sign_enrolment
from liveloop.promoters.poster import draw_poster
from liveloop.promoters.qr import qr_png
from liveloop.rules import attribution
from liveloop.web.brand import image_response
from liveloop.web.phone import owner, relay, signals, wechat
from liveloop.web.phone.dates import local, when_text
from liveloop.web.phone.forms import JoinForm, PhoneForm, VerifyForm
from liveloop.web.phone.ics import live_calendar
from liveloop.web.ratelimit import rate_limited

OWN_COOKIE = "ll_promoter"
YEAR = 365 * 24 * 3600
# 409: the programme refuses this person as things stand (full, already in); 410: joining
# through this link is over (recruiting closed, the one-person code used).
JOIN_REFUSALS = {
    joining.JoinError.FULL: 409,
    joining.JoinError.CLOSED: 410,
    joining.JoinError.CODE_USED: 410,
}
# The number belongs to a promoter: the page asks for proof (it is theirs, not yours, so far).
PROOF_NEEDED_STATUS = 409


def _live_context(live, code: str | None = None) -> dict:
    """With the promoter's code, the brand's cover and logo too (served through their invite link)."""
    context = {"live": live, "when": when_text(live.announced_at, live.org),
               "starts_at": local(live.announced_at, live.org).isoformat()}
    if code is not None:
        shown = images.for_live(live)
        if shown.cover is not None:
            context["cover_url"] = reverse("phone:invite_cover", args=[live.public_id, code])
        if shown.logo is not None:
            context["logo_url"] = reverse("phone:invite_logo", args=[live.public_id, code])
    return context


def _set_cookie(response, name: str, value: str) -> None:
    response.set_cookie(name, value, max_age=YEAR, httponly=True, samesite="Lax",
                        secure=settings.SESSION_COOKIE_SECURE)


# Joining ---------------------------------------------------------------------------------

def _join_code_or_404(token):
    code = joining.join_code_for(token)
    if code is None:
        raise Http404("unknown or revoked join link")
    return code


def _cookie_promoter(request, org):
    """The promoter whose own-page cookie this phone carries, when it is of this organisation,
    or whom the WeChat user logged in here is: proof that whoever holds the phone is them."""
    enrolment = _cookie_enrolment(request)
    if enrolment is not None and enrolment.org_id == org.pk:
        return enrolment.promoter
    found = wechat.identity(request, org)
    return found.promoter if found is not None else None


def _join_initial(identity) -> dict:
    """What the join form starts with for a WeChat user: the promoter they are, else the
    nickname WeChat gave."""
    if identity is None:
        return {}
    if identity.promoter is not None:
        return {"name": identity.promoter.name, "phone": identity.promoter.phone}
    return {"name": identity.nickname}


def _refused(request, context, reason):
    return render(request, "phone/join_refused.html", {**context, "reason": reason},
                  status=JOIN_REFUSALS[reason])


def _prove_page(request, code, context, phone_form, status=PROOF_NEEDED_STATUS):
    """"This number already belongs to a promoter: prove it's you", and how. Nothing of the
    promoter is on it: not their name, not whether they are in this live."""
    return render(request, "phone/join_prove.html", {
        **context, "phone_form": phone_form, "token": code.token,
        "can_send": proof.channel_available(code.org)}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@rate_limited("join")
def join(request, token):
    code = _join_code_or_404(token)
    apps = wechat.wants_login(request, code.org)
    if apps is not None:
        # snsapi_userinfo: WeChat asks once, and the form starts with the person's nickname.
        return wechat.login_redirect(request, code.org, apps, oauth.USERINFO)
    identity = wechat.identity(request, code.org)
    if identity is not None and identity.promoter is not None:
        mine = owner.enrolment_in(code.programme, identity.promoter)
        if mine is not None:
            # A promoter back on a new phone: their own page, even after recruiting closed.
            return redirect(own_page_url(mine))
    context = _live_context(code.programme.live)
    try:
        joining.check_open(code)
        teams = joining.teams_of(code.org)
        form = JoinForm(request.POST if request.method == "POST" else None, teams=teams,
                        initial=_join_initial(identity))
        if request.method == "POST" and form.is_valid():
            phone = form.cleaned_data["phone"]
            joined = joining.join(code, name=form.cleaned_data["name"], phone=phone,
                                  team=form.cleaned_data.get("team"), proven=_cookie_promoter(request, code.org))
            if identity is not None and identity.promoter is None:
                try:
                    wx_login.link_promoter(identity, joined.promoter)
                except wx_login.AlreadyLinked:
                    pass  # a parallel join of the same WeChat user linked it first
            return redirect(own_page_url(joined.enrolment))
    except joining.JoinError as refusal:
        if refusal.reason == joining.JoinError.PROOF_NEEDED:
            return _prove_page(request, code, context, PhoneForm(initial={"phone": form.cleaned_data["phone"]}))
        return _refused(request, context, refusal.reason)
    status = 400 if request.method == "POST" else 200
    return render(request, "phone/join.html", {**context, "form": form}, status=status)


@never_cache
@require_POST
@rate_limited("join_code")
def join_code(request, token):
    """Send a one-time code to the promoter with this number. The answer is the same whether or
    not the number is anyone's (and whether a code went out): it is no way to look numbers up."""
    code = _join_code_or_404(token)
    context = _live_context(code.programme.live)
    form = PhoneForm(request.POST)
    if not form.is_valid():
        return _prove_page(request, code, context, form, status=400)
    if not proof.channel_available(code.org):
        return _prove_page(request, code, context, form)
    proof.send_code(code.org, form.cleaned_data["phone"], code.programme.live)
    return render(request, "phone/join_verify.html", {
        **context, "token": code.token, "minutes": proof.LIFETIME.seconds // 60,
        "form": VerifyForm(initial={"phone": form.cleaned_data["phone"]})})


@never_cache
@require_POST
@rate_limited("join_verify")
def join_verify(request, token):
    """The code the promoter received proves the number is theirs: they join this live (or get
    back their page in it) and the phone remembers them."""
    code = _join_code_or_404(token)
    context = _live_context(code.programme.live)
    form = VerifyForm(request.POST)
    if form.is_valid():
        phone = form.cleaned_data["phone"]
        found = proof.verify(code.org, phone, form.cleaned_data["code"])
        if found is None:
            form.add_error("code", _("The code is wrong or has expired. Check it, or ask for a new one."))
        else:
            try:
                # Spent in the same transaction as the join: a refusal (full, closed) leaves it usable.
                with transaction.atomic():
                    if proof.spend(found):
                        joined = joining.join(code, name=found.promoter.name, phone=phone, team=None,
                                              proven=found.promoter)
                        return redirect(own_page_url(joined.enrolment))
                form.add_error("code", _("The code is wrong or has expired. Check it, or ask for a new one."))
            except joining.JoinError as refusal:
                return _refused(request, context, refusal.reason)
    return render(request, "phone/join_verify.html", {
        **context, "token": code.token, "minutes": proof.LIFETIME.seconds // 60, "form": form}, status=400)


# The promoter's own page -----------------------------------------------------------------

def _own_page(request, enrolment, *, signed: str):
    if not enrolment.active:
        return render(request, "phone/removed.html", _live_context(enrolment.programme.live), status=410)
    live, promoter = enrolment.programme.live, enrolment.promoter
    context = {
        **_live_context(live, promoter.code),
        "promoter": promoter,
        "enrolment": enrolment,
        "countdown": _countdown(live),
        "invite_url": _invite_url(request, live, promoter),
        "figures": owner.figures(enrolment),
        "invitees": owner.invitees(enrolment),
        "money": owner.money(enrolment),
        "others": [(e, own_page_url(e)) for e in owner.other_enrolments(enrolment)],
        # WeChat's own count when the promoter is a linked 推客 of the live's notice.
        "official": tuike_links.materials_for(live, promoter),
        "transfers": wechatpay.waiting_for(enrolment.org, promoter),
    }
    response = render(request, "phone/me.html", context)
    _set_cookie(response, OWN_COOKIE, signed)
    return response


def _countdown(live) -> dict:
    """What the countdown shows before any script runs (and forever without one)."""
    if live.state != attribution.SCHEDULED:
        return {"state": live.state}
    left = max(0, int((live.announced_at - timezone.now()).total_seconds()))
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return {"state": live.state, "left": left, "days": days, "hours": f"{hours:02d}",
            "minutes": f"{minutes:02d}", "seconds": f"{seconds:02d}"}


def _invite_url(request, live, promoter) -> str:
    return request.build_absolute_uri(reverse("phone:invite", args=[live.public_id, promoter.code]))


@never_cache
@rate_limited("own")
def me_link(request, signed):
    enrolment = owner.enrolment_for(signed)
    if enrolment is None:
        return render(request, "phone/link_invalid.html", status=404)
    # Re-signed: a link signed with a retired key (SECRET_KEY_FALLBACKS) leaves the cookie
    # signed with the current one.
    return _own_page(request, enrolment, signed=sign_enrolment(enrolment))


def _cookie_enrolment(request):
    return owner.enrolment_for(request.COOKIES.get(OWN_COOKIE))


@never_cache
@rate_limited("own")
def me(request):
    enrolment = _cookie_enrolment(request)
    if enrolment is None:
        response = render(request, "phone/no_cookie.html")
        response.delete_cookie(OWN_COOKIE, samesite="Lax")
        return response
    return _own_page(request, enrolment, signed=request.COOKIES[OWN_COOKIE])


def _active_from_cookie(request):
    enrolment = _cookie_enrolment(request)
    if enrolment is None or not enrolment.active:
        raise Http404("open your own page's link first")
    return enrolment


@never_cache
@rate_limited("own")
def receive(request, out_bill_no):
    """确认收款: one WeChat Pay bill waiting for this promoter's confirmation. Only their own
    (the page's cookie names the promoter; the organisation scopes the query): any other → 404."""
    enrolment = _active_from_cookie(request)
    transfer = next((t for t in wechatpay.waiting_for(enrolment.org, enrolment.promoter)
                     if t.out_bill_no == out_bill_no), None)
    merchant = wechatpay.merchant_of(enrolment.org)
    if transfer is None or merchant is None:
        raise Http404("no such bill waits for you")
    in_wechat = "MicroMessenger" in request.headers.get("User-Agent", "")
    jssdk = _jssdk_config(request, enrolment.org) if in_wechat else None
    response = render(request, "phone/receive.html", {
        **_live_context(enrolment.programme.live, enrolment.promoter.code), "transfer": transfer,
        "merchant": merchant, "in_wechat": in_wechat, "jssdk": jssdk, "jssdk_script": JSSDK_SCRIPT,
    })
    if jssdk:  # WeChat's JS-SDK is served only from its own host
        response["Content-Security-Policy"] = settings.LIVELOOP_CSP.replace(
            "script-src 'self'", f"script-src 'self' {JSSDK_ORIGIN}")
    return response


JSSDK_ORIGIN = "https://res.wx.qq.com"
JSSDK_SCRIPT = f"{JSSDK_ORIGIN}/open/js/jweixin-1.6.0.js"


def _jssdk_config(request, org) -> dict | None:
    """wx.config's signed fields for this page, with the official account's JS-SDK ticket (the
    H5 way to open requestMerchantTransfer); None without an official account or when WeChat
    cannot be reached (the page then calls WeixinJSBridge directly)."""
    apps = WechatApps.objects.for_org(org).first()
    if apps is None or not apps.login_ready:
        return None
    try:
        return oauth.jssdk_config(apps, request.build_absolute_uri())
    except (ShopApiError, ShopUnavailable, OSError):
        return None


@never_cache
@rate_limited("own")
def my_qr(request):
    enrolment = _active_from_cookie(request)
    url = _invite_url(request, enrolment.programme.live, enrolment.promoter)
    return HttpResponse(qr_png(url), content_type="image/png")


@never_cache
@rate_limited("own")
def poster(request):
    enrolment = _active_from_cookie(request)
    live, promoter = enrolment.programme.live, enrolment.promoter
    shown = images.for_live(live)
    official = tuike_links.materials_for(live, promoter)
    png = draw_poster(brand=enrolment.org.name, title=live.title,
                      when=when_text(live.announced_at, live.org, get_language()),
                      promoter_name=promoter.name, invite_url=_invite_url(request, live, promoter),
                      cover=images.pillow_image(shown.cover), logo=images.pillow_image(shown.logo),
                      official_qr=tuike_qr.pillow(official.qr_image) if official else None)
    response = HttpResponse(png, content_type="image/png")
    # ASCII only: the live's public id and the promoter's code are [A-Za-z0-9].
    response["Content-Disposition"] = f'attachment; filename="poster-{live.public_id}-{promoter.code}.png"'
    return response


# The viewer relay ------------------------------------------------------------------------

def _invite_or_404(live_id, code):
    found = relay.invite_of(live_id, code)
    if found is None:
        raise Http404("unknown invite link")
    return found


def _viewer(request, live, identity) -> tuple[str, bool]:
    """The viewer's id and whether it is new (the cookie must be set). Inside WeChat it is the
    openid of the WeChat login (signed cookie). An `openid` in the link counts only when
    Liveloop signed it for this live (relay.proven_viewer); a bare one is a claim anyone could
    type, so the phone's own cookie decides instead."""
    if identity is not None:
        return identity.openid, False
    openid = relay.proven_viewer(request.GET.get("openid"), live)
    if openid:
        return openid, False
    cookie = relay.cookie_viewer(request.COOKIES.get(relay.VIEWER_COOKIE))
    if cookie:
        return cookie, False
    return relay.new_viewer(), True


@never_cache
@require_http_methods(["GET", "POST"])
@rate_limited("invite")
def invite(request, live_id, code):
    live, enrolment = _invite_or_404(live_id, code)
    apps = wechat.wants_login(request, live.org)
    if apps is not None:
        # snsapi_base: silent, the openid only.
        return wechat.login_redirect(request, live.org, apps, oauth.BASE)
    context = {**_live_context(live, code), "promoter": enrolment.promoter,
               "ics_url": reverse("phone:invite_ics", args=[live.public_id, code])}
    if not relay.can_reserve(live):
        return render(request, "phone/invite_closed.html", context, status=410)
    identity = wechat.identity(request, live.org)
    viewer, new = _viewer(request, live, identity)
    mini = _mini_program(live)
    # On air, with the brand's mini-program: the button enters the live room (进入直播间).
    entering = mini is not None and live.state == attribution.LIVE
    if request.method == "POST":
        if not entering:
            relay.reserve(live, enrolment.promoter.code, viewer,
                          attrs={**signals.reservation_keys(request, live.org_id, viewer),
                                 **relay.linked_ids(identity)})
        link = miniprogram.url_link(mini, live, enrolment.promoter.code, viewer, entering,
                                    share=_share(live, enrolment.promoter)) if mini else None
        if link or live.preview_url:
            # 303: the mini-program (its URL Link) or the platform's page is fetched with GET.
            response = HttpResponseRedirect(link or live.preview_url, status=303)
        else:
            response = render(request, "phone/reserved.html", context)
    else:
        official = tuike_links.materials_for(live, enrolment.promoter)
        response = render(request, "phone/invite.html", {**context, "mini_program": mini is not None,
                                                         "entering": entering,
                                                         "official_qr": bool(official and official.qr_image)})
    if new:
        _set_cookie(response, relay.VIEWER_COOKIE, relay.viewer_cookie(viewer))
    return response


def _share(live, promoter) -> tuple[str, str] | None:
    """The promoter's WeChat share link for the live's notice (推客), when synced: the
    mini-program passes it to wx.reserveChannelsLive so WeChat counts the reservation for them."""
    official = tuike_links.materials_for(live, promoter)
    return (official.notice_id, official.share_link) if official and official.share_link else None


def _mini_program(live):
    apps = wx_login.apps_of(live.org)
    return apps if apps is not None and apps.mini_program_ready else None


@rate_limited("invite")
def invite_ics(request, live_id, code):
    live, _enrolment = _invite_or_404(live_id, code)
    url = live.preview_url or request.build_absolute_uri(reverse("phone:invite", args=[live_id, code]))
    body = live_calendar(live, url, host=request.get_host().split(":")[0])
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{live.public_id}.ics"'
    return response


def _invite_image(row) -> HttpResponse:
    response = image_response(row)
    # Public through the invite link, like the page; short, so a replaced image shows soon.
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
@rate_limited("invite")
def invite_cover(request, live_id, code):
    live, _enrolment = _invite_or_404(live_id, code)
    return _invite_image(images.for_live(live).cover)


@require_GET
@rate_limited("invite")
def invite_logo(request, live_id, code):
    live, _enrolment = _invite_or_404(live_id, code)
    return _invite_image(images.for_live(live).logo)


@require_GET
@rate_limited("invite")
def invite_wechat_qr(request, live_id, code):
    """The promoter's official WeChat reservation code (推客), public through the invite link."""
    live, enrolment = _invite_or_404(live_id, code)
    official = tuike_links.materials_for(live, enrolment.promoter)
    data = tuike_qr.read(official.qr_image) if official else None
    if data is None:
        raise Http404("no official code")
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    return response
