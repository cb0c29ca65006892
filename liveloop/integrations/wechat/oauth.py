"""The WeChat server calls behind login and the mini-program (docs/wechat.md), for one
organisation's WechatApps: the official account's web authorization and the mini-program's
code2Session and URL Link. Field names are WeChat's documented ones."""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
import urllib.parse

from django.conf import settings

from liveloop.integrations.wechat.client import ShopClient

OPEN_BASE = "https://open.weixin.qq.com"
BASE, USERINFO = "snsapi_base", "snsapi_userinfo"
URL_LINK_DAYS = 30  # WeChat's longest: a URL Link expires at most 30 days after it is made


def open_base() -> str:
    # The emulator plays open.weixin.qq.com too: one setting points both at it.
    return (getattr(settings, "LIVELOOP_WECHAT_API_BASE", "") or OPEN_BASE).rstrip("/")


def authorize_url(apps, redirect_uri: str, scope: str, state: str) -> str:
    """Where a page inside WeChat sends the browser to log in (302 needs #wechat_redirect)."""
    query = urllib.parse.urlencode({"appid": apps.oa_appid, "redirect_uri": redirect_uri,
                                    "response_type": "code", "scope": scope, "state": state})
    return f"{open_base()}/connect/oauth2/authorize?{query}#wechat_redirect"


def _oa(apps) -> ShopClient:
    return ShopClient(apps.api_base, apps.oa_appid, apps.oa_secret)


def _mp(apps) -> ShopClient:
    return ShopClient(apps.api_base, apps.mp_appid, apps.mp_secret)


def exchange_code(apps, code: str) -> dict:
    """The code WeChat returned (single use, about five minutes) → openid, unionid when the
    account is bound to an open platform, scope, and the web access token for userinfo."""
    return _oa(apps).get("/sns/oauth2/access_token", {
        "appid": apps.oa_appid, "secret": apps.oa_secret, "code": code, "grant_type": "authorization_code"})


def user_info(apps, access_token: str, openid: str) -> dict:
    """nickname, headimgurl, unionid… (snsapi_userinfo only)."""
    return _oa(apps).get("/sns/userinfo", {"access_token": access_token, "openid": openid, "lang": "zh_CN"})


def code2session(apps, js_code: str) -> dict:
    """wx.login's code → the mini-program's openid, session_key and unionid."""
    return _mp(apps).get("/sns/jscode2session", {
        "appid": apps.mp_appid, "secret": apps.mp_secret, "js_code": js_code, "grant_type": "authorization_code"})


def url_link(apps, path: str, query: str, days: int = URL_LINK_DAYS) -> str:
    """A URL Link opening the mini-program's `path?query` from a page or a message."""
    return _mp(apps).call("/wxa/generate_urllink", {
        "path": path, "query": query, "expire_type": 1, "expire_interval": days})["url_link"]


# The official account's JS-SDK ticket (jsapi_ticket): valid 7200 seconds, limited in how often
# it may be fetched, so cached per (API base, AppID) like access tokens.
_tickets: dict[tuple[str, str], tuple[str, float]] = {}
_tickets_lock = threading.Lock()
TICKET_MARGIN = 300


def jsapi_ticket(apps, clock=time.monotonic) -> str:
    key = (apps.api_base, apps.oa_appid)
    with _tickets_lock:
        held = _tickets.get(key)
        if held and held[1] > clock():
            return held[0]
    client = _oa(apps)
    payload = client.get("/cgi-bin/ticket/getticket", {"access_token": client.access_token(), "type": "jsapi"})
    ticket = str(payload["ticket"])
    with _tickets_lock:
        _tickets[key] = (ticket, clock() + int(payload.get("expires_in", 7200)) - TICKET_MARGIN)
    return ticket


def jssdk_config(apps, url: str, now: int | None = None, nonce: str | None = None) -> dict:
    """wx.config's fields for the page at `url` (without its #fragment): the JS-SDK signature is
    SHA-1 over jsapi_ticket, noncestr, timestamp and url, in that order (JS-SDK appendix 1)."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = nonce or secrets.token_hex(8)
    text = f"jsapi_ticket={jsapi_ticket(apps)}&noncestr={nonce}&timestamp={timestamp}&url={url.split('#')[0]}"
    return {"appId": apps.oa_appid, "timestamp": timestamp, "nonceStr": nonce,
            "signature": hashlib.sha1(text.encode()).hexdigest()}
