"""A plain HTTP client for the Channels shop API (微信小店) and the other WeChat server APIs
Liveloop calls with an app's id and secret (wechat/oauth.py), standard library only.

Errors come back as HTTP 200 with `{errcode, errmsg}`; errcode 0 is success. Access tokens are
cached per (API base, appid) in process memory until shortly before they expire, and fetched
again when WeChat says a token is invalid or expired.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid, not a valid token, expired
BUSY_ERRORS = frozenset({-1, 45009})  # system busy, rate limit reached
TOKEN_MARGIN = 300  # seconds before expiry a cached token stops being used
MAX_PAGE_SIZE = 100


class ShopApiError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"WeChat shop API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class ShopUnavailable(Exception):
    """The API could not be reached (or stayed busy) after every retry: try again later."""


@dataclass
class _Token:
    value: str
    expires_at: float


_tokens: dict[tuple[str, str], _Token] = {}
_tokens_lock = threading.Lock()


def forget_tokens() -> None:
    with _tokens_lock:
        _tokens.clear()


class ShopClient:
    def __init__(self, base_url: str, appid: str, secret: str, *, timeout: float = 5.0,
                 retries: int | None = None, backoff: float | None = None, sleep=time.sleep,
                 clock=time.monotonic):
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self._secret = secret
        self.timeout = timeout
        self.retries = retries if retries is not None else getattr(settings, "LIVELOOP_WECHAT_HTTP_RETRIES", 3)
        self.backoff = backoff if backoff is not None else getattr(settings, "LIVELOOP_WECHAT_HTTP_BACKOFF", 0.5)
        self.sleep = sleep
        self.clock = clock

    @classmethod
    def for_shop(cls, shop, **options) -> "ShopClient":
        return cls(shop.api_base, shop.appid, shop.app_secret, **options)

    def __repr__(self):  # never show the secret
        return f"ShopClient({self.base_url!r}, {self.appid!r})"

    # -- transport ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, query: dict, body: dict | None) -> dict:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(query)}"
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            payload = json.loads(response.read())
        if not isinstance(payload, dict):
            raise ValueError("answer is not a JSON object")
        return payload

    def _with_retries(self, method: str, path: str, query: dict, body: dict | None) -> dict:
        """Network errors, HTTP 5xx, system busy and rate limits: back off and try again."""
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                payload = self._send(method, path, query, body)
            except urllib.error.HTTPError as error:
                if error.code < 500 and error.code != 429:
                    raise ShopApiError(-error.code, f"HTTP {error.code}") from None
                last = f"HTTP {error.code}"
                continue
            except (urllib.error.URLError, socket.timeout, ConnectionError, ValueError) as error:
                # Never the URL itself: it carries the access token.
                last = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
                continue
            errcode = payload.get("errcode", 0) or 0
            if errcode in BUSY_ERRORS:
                last = f"errcode {errcode}: {payload.get('errmsg', '')}"
                continue
            return payload
        raise ShopUnavailable(f"{path}: {last} after {self.retries + 1} attempts")

    # -- access token -------------------------------------------------------------------------

    def access_token(self, refresh: bool = False) -> str:
        key = (self.base_url, self.appid)
        with _tokens_lock:
            cached = _tokens.get(key)
            if cached and not refresh and cached.expires_at > self.clock():
                return cached.value
        payload = self._with_retries("GET", "/cgi-bin/token", {
            "grant_type": "client_credential", "appid": self.appid, "secret": self._secret}, None)
        if payload.get("errcode"):
            raise ShopApiError(payload["errcode"], str(payload.get("errmsg", "")))
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise ShopApiError(-1, "token answer without access_token")
        expires_in = int(payload.get("expires_in", 7200))
        with _tokens_lock:
            _tokens[key] = _Token(token, self.clock() + max(expires_in - TOKEN_MARGIN, 0))
        return token

    def get(self, path: str, query: dict) -> dict:
        """A GET with its own credentials in the query (web authorization, code2Session): no
        access token; an errcode raises. Never log the query: it holds the app secret."""
        payload = self._with_retries("GET", path, query, None)
        errcode = payload.get("errcode", 0) or 0
        if errcode:
            raise ShopApiError(errcode, str(payload.get("errmsg", "")))
        return payload

    def call(self, path: str, body: dict) -> dict:
        """POST to a shop endpoint; one fresh token and a second try if the token was refused."""
        for refresh in (False, True):
            token = self.access_token(refresh=refresh)
            payload = self._with_retries("POST", path, {"access_token": token}, body)
            errcode = payload.get("errcode", 0) or 0
            if errcode in TOKEN_ERRORS and not refresh:
                continue
            if errcode:
                raise ShopApiError(errcode, str(payload.get("errmsg", "")))
            return payload
        raise AssertionError("unreachable")

    # -- endpoints (WECHAT.md) ----------------------------------------------------------------

    def order_detail(self, order_id: str) -> dict:
        return self.call("/channels/ec/order/get", {"order_id": str(order_id)})["order"]

    def aftersale_detail(self, after_sale_order_id: str) -> dict:
        return self.call("/channels/ec/aftersale/getaftersaleorder",
                         {"after_sale_order_id": str(after_sale_order_id)})["after_sale_order"]

    def sharer_bind_qr(self, username: str | None = None) -> dict:
        """An invite QR (base64 image), valid 15 days; one person with a username, else many."""
        body = {"username": username} if username else {}
        return self.call("/channels/ec/sharer/bind", body)

    def sharer_list(self, page: int = 1, page_size: int = MAX_PAGE_SIZE, sharer_type: int = 0) -> list[dict]:
        _check_page(page, page_size)
        payload = self.call("/channels/ec/sharer/get_sharer_list",
                            {"page": page, "page_size": page_size, "sharer_type": sharer_type})
        return payload.get("sharer_info_list", [])

    def sharer_orders(self, start_time: int, end_time: int, openid: str | None = None,
                      share_scene: int | None = None, page: int = 1,
                      page_size: int = MAX_PAGE_SIZE) -> list[dict]:
        _check_page(page, page_size)
        body = {"page": page, "page_size": page_size, "start_time": start_time, "end_time": end_time}
        if openid:
            body["openid"] = openid
        if share_scene is not None:
            body["share_scene"] = share_scene
        return self.call("/channels/ec/sharer/get_sharer_order_list", body).get("order_list", [])


def _check_page(page: int, page_size: int) -> None:
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page ≥ 1 and 1 ≤ page_size ≤ {MAX_PAGE_SIZE}")
