"""The emulator's WeChat users: official-account web authorization (网页授权), the mini-program's
code2Session and URL Links, answered in the documented shapes (docs/wechat.md).

A browser is one WeChat user by a cookie on the emulator's own host (`emu_wx_user`), so a second
browser context with the same cookie is the same person on a new phone. Each user has one openid
per app (derived from the app id and the user, as WeChat's differ per app) and, when the store
says the apps share an open platform, one unionid across them.

- GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state — 302 to
  redirect_uri?code=…&state=…; snsapi_userinfo is consented at once (WeChat would ask).
- GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code — openid, scope,
  access_token… or errcode 40029 (invalid code), 40163 (code been used), 40125 (bad secret).
- GET /sns/userinfo?access_token&openid — nickname, headimgurl… (48001 under snsapi_base).
- GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code — openid,
  session_key, unionid, or 40029 / 40163.
- POST /wxa/generate_urllink?access_token — url_link, opened at GET /emulator/urllink/<id>.
- Control: GET /emulator/become?user=NAME[&next=URL] (this browser is that user),
  POST /emulator/wx-user {user, nickname?, headimgurl?}, POST /emulator/wx-login {user, appid}
  → {code} (what wx.login gives the mini-program).
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field

CODE_LIFETIME = 300  # seconds: WeChat's codes live about five minutes
USER_COOKIE = "emu_wx_user"
INVALID_CODE, CODE_USED, BAD_SECRET, UNAUTHORIZED, INVALID_TOKEN = 40029, 40163, 40125, 48001, 40001
SCOPES = ("snsapi_base", "snsapi_userinfo")


def _digest(*parts: str, length: int) -> str:
    raw = hashlib.sha256("|".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]


@dataclass
class Code:
    appid: str
    user: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class Users:
    """WeChat users and the codes and tokens issued to them. Guarded by the Store's lock."""
    apps: dict[str, str] = field(default_factory=dict)  # appid → secret (OA and mini-program)
    profiles: dict[str, dict] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    sns_tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # token → appid, user, scope
    url_links: dict[str, dict] = field(default_factory=dict)
    open_platform: bool = True

    def ensure(self, user: str, nickname: str = "", headimgurl: str = "") -> dict:
        profile = self.profiles.setdefault(user, {"nickname": nickname or f"微信用户{user[-4:]}",
                                                  "headimgurl": headimgurl})
        if nickname:
            profile["nickname"] = nickname
        if headimgurl:
            profile["headimgurl"] = headimgurl
        return profile

    def openid(self, appid: str, user: str) -> str:
        return "o" + _digest("openid", appid, user, length=27)

    def unionid(self, user: str) -> str:
        return "u" + _digest("unionid", user, length=27) if self.open_platform else ""

    def issue_code(self, appid: str, user: str, scope: str, now: float | None = None) -> str:
        code = secrets.token_hex(16)
        self.codes[code] = Code(appid, user, scope, (now or time.time()) + CODE_LIFETIME)
        return code

    def spend_code(self, appid: str, code: str, now: float | None = None) -> tuple[Code | None, dict | None]:
        found = self.codes.get(code)
        if found is None or found.appid != appid or found.expires_at < (now or time.time()):
            return None, {"errcode": INVALID_CODE, "errmsg": "invalid code"}
        if found.used:
            return None, {"errcode": CODE_USED, "errmsg": "code been used"}
        found.used = True
        return found, None

    def identity(self, appid: str, user: str) -> dict:
        ids = {"openid": self.openid(appid, user)}
        if self.open_platform:
            ids["unionid"] = self.unionid(user)
        return ids


def authorize(users: Users, query: dict, user: str) -> tuple[int, str | dict]:
    """(302, Location) as WeChat redirects after consent, or (200, error) for a bad request."""
    appid, redirect_uri = query.get("appid", ""), query.get("redirect_uri", "")
    if appid not in users.apps:
        return 200, {"errcode": 40013, "errmsg": "invalid appid"}
    if query.get("response_type") != "code" or query.get("scope") not in SCOPES or not redirect_uri:
        return 200, {"errcode": 10003, "errmsg": "redirect_uri or scope invalid"}
    users.ensure(user)
    code = users.issue_code(appid, user, query["scope"])
    separator = "&" if "?" in redirect_uri else "?"
    return 302, redirect_uri + separator + urllib.parse.urlencode({"code": code, "state": query.get("state", "")})


def oauth_access_token(users: Users, query: dict) -> dict:
    appid = query.get("appid", "")
    if users.apps.get(appid) != query.get("secret") or not appid:
        return {"errcode": BAD_SECRET, "errmsg": "invalid appsecret"}
    found, error = users.spend_code(appid, query.get("code", ""))
    if error:
        return error
    token = "sns-" + secrets.token_hex(12)
    users.sns_tokens[token] = (appid, found.user, found.scope)
    return {"access_token": token, "expires_in": 7200, "refresh_token": "r-" + secrets.token_hex(12),
            "scope": found.scope, "is_snapshotuser": 0, **users.identity(appid, found.user)}


def userinfo(users: Users, query: dict) -> dict:
    held = users.sns_tokens.get(query.get("access_token", ""))
    if held is None:
        return {"errcode": INVALID_TOKEN, "errmsg": "invalid credential, access_token is invalid"}
    appid, user, scope = held
    if scope != "snsapi_userinfo":
        return {"errcode": UNAUTHORIZED, "errmsg": "api unauthorized"}
    if query.get("openid") != users.openid(appid, user):
        return {"errcode": 40003, "errmsg": "invalid openid"}
    profile = users.profiles[user]
    return {**users.identity(appid, user), "nickname": profile["nickname"], "sex": 0, "province": "",
            "city": "", "country": "", "headimgurl": profile["headimgurl"], "privilege": []}


def jscode2session(users: Users, query: dict) -> dict:
    appid = query.get("appid", "")
    if users.apps.get(appid) != query.get("secret") or not appid:
        return {"errcode": BAD_SECRET, "errmsg": "invalid appsecret"}
    found, error = users.spend_code(appid, query.get("js_code", ""))
    if error:
        return error
    return {"session_key": base64.b64encode(secrets.token_bytes(16)).decode(), **users.identity(appid, found.user)}


def generate_urllink(users: Users, body: dict, base_url: str) -> dict:
    query = body.get("query", "")
    if not isinstance(query, str) or len(query) > 1024:
        return {"errcode": 40212, "errmsg": "invalid query"}
    if body.get("expire_type") not in (0, 1):
        return {"errcode": 40097, "errmsg": "invalid args"}
    link_id = secrets.token_urlsafe(9)
    users.url_links[link_id] = {"path": body.get("path", ""), "query": query,
                                "expire_type": body["expire_type"],
                                "expire_interval": body.get("expire_interval"),
                                "expire_time": body.get("expire_time")}
    return {"errcode": 0, "errmsg": "ok", "url_link": f"{base_url}/emulator/urllink/{link_id}"}
