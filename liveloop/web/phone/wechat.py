"""WeChat login on the phone pages: inside WeChat (its browser says MicroMessenger) a page of an
organisation with an official account sends the browser through web authorization once; the
login cookie then names the WeChat identity for that organisation. Outside WeChat, or when the
person declines, nothing changes: the own-page link and the viewer cookie work as before.
"""
import json
import logging

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from liveloop.integrations.models import WechatApps
from liveloop.integrations.wechat import login, miniprogram, oauth
from liveloop.integrations.wechat.client import ShopApiError, ShopUnavailable
from liveloop.web.ratelimit import rate_limited

log = logging.getLogger(__name__)

IDENTITY_COOKIE = "ll_wx"
STATE_COOKIE = "ll_wx_state"
# ?wx=0 on a page: go on without WeChat login (it was declined or failed), so no loop. It only
# ever takes a login away: an id still comes from the login cookie or the viewer cookie.
SKIP = "wx"
YEAR = 365 * 24 * 3600


def in_wechat(request) -> bool:
    return "MicroMessenger" in request.headers.get("User-Agent", "")


def identity(request, org):
    return login.identity_from(request.COOKIES.get(IDENTITY_COOKIE), org)


def wants_login(request, org):
    """The organisation's apps when this GET, inside WeChat, should log in first; else None."""
    if request.method != "GET" or not in_wechat(request) or request.GET.get(SKIP) == "0":
        return None
    apps = login.apps_of(org)
    if apps is None or not apps.login_ready or identity(request, org) is not None:
        return None
    return apps


def login_redirect(request, org, apps, scope: str) -> HttpResponseRedirect:
    state, nonce = login.begin(org, scope, request.get_full_path())
    redirect_uri = request.build_absolute_uri(reverse("phone:wx_callback"))
    response = HttpResponseRedirect(oauth.authorize_url(apps, redirect_uri, scope, state))
    response.set_cookie(STATE_COOKIE, nonce, max_age=int(login.STATE_LIFETIME.total_seconds()),
                        httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
    return response


def _skip(path: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{SKIP}=0"


@never_cache
@rate_limited("wx_login")
def callback(request):
    """WeChat's return from authorize: ?code&state (no code when the person declined)."""
    attempt = login.take(request.GET.get("state"), request.COOKIES.get(STATE_COOKIE))
    if attempt is None:
        return render(request, "phone/wx_failed.html", status=400)
    code = request.GET.get("code")
    if not code:
        response = HttpResponseRedirect(_skip(attempt.next_path))
    else:
        try:
            found = login.finish(attempt, code)
        except (ShopApiError, ShopUnavailable, LookupError) as error:
            # WeChat's errcode or the network: logged, and the page goes on without login.
            log.warning("wechat login failed for org %s: %s", attempt.org_id, error)
            response = HttpResponseRedirect(_skip(attempt.next_path))
        else:
            response = HttpResponseRedirect(attempt.next_path)
            response.set_cookie(IDENTITY_COOKIE, login.sign_identity(found), max_age=YEAR, httponly=True,
                                samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
    response.delete_cookie(STATE_COOKIE, samesite="Lax")
    return response


# The mini-program's report ---------------------------------------------------------------------

@csrf_exempt  # called by the mini-program (wx.request), which holds no cookie: the ticket and
@require_POST  # WeChat's code are what it proves itself with
@rate_limited("mp_report")
def mp_report(request):
    """{ticket, code, outcome}: what wx.reserveChannelsLive did, with a fresh wx.login code."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JsonResponse({"errors": {"body": "a JSON object"}}, status=400)
    ticket = miniprogram.read_ticket(body.get("ticket"))
    code = body.get("code")
    errors = {}
    if ticket is None:
        errors["ticket"] = "not a ticket Liveloop signed"
    if not isinstance(code, str) or not 1 <= len(code) <= 128:
        errors["code"] = "the code wx.login gave"
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    apps = WechatApps.objects.select_related("org").filter(org_id=ticket["o"]).first()
    if apps is None or not apps.mini_program_ready:
        return JsonResponse({"errors": {"ticket": "the brand has no mini-program"}}, status=404)
    try:
        done = miniprogram.report(apps, ticket, code, body.get("outcome"))
    except miniprogram.ReportError as error:
        return JsonResponse({"errors": {error.field: error.reason}}, status=400)
    except ShopUnavailable:
        return JsonResponse({"errors": {"code": "WeChat did not answer: report again"}}, status=503)
    return JsonResponse({"recorded": done.recorded, "duplicate": done.duplicate})
