"""WeChat web login (网页授权) for promoters and viewers on the brand's pages inside WeChat.

`begin` records an attempt and gives the `state` to send to WeChat: a signed "<org>.<nonce>".
`take` accepts a returning state once: signed by us, not expired, not used before, and coming
back to the browser that started it (the nonce also sits in that browser's cookie), so a
forged or replayed state, or a code planted into someone else's browser (login CSRF), opens
nothing. `finish` exchanges the code and keeps the WeChat identity (openid, unionid, and under
snsapi_userinfo the nickname and avatar).
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta, timezone

from django.core import signing
from django.db import IntegrityError, transaction

from liveloop.integrations.models import WechatApps, WechatIdentity, WechatLoginState
from liveloop.integrations.wechat import oauth

STATE_SALT = "liveloop.wechat.login-state.v1"
IDENTITY_SALT = "liveloop.wechat.identity.v1"
STATE_LIFETIME = timedelta(minutes=10)
SCOPES = (oauth.BASE, oauth.USERINFO)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def apps_of(org) -> WechatApps | None:
    return WechatApps.objects.for_org(org).first()


def safe_next(path: str) -> str:
    """Only a path on this site: never `//host` or a full URL (no open redirect)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return "/"
    return path


def begin(org, scope: str, next_path: str, now: datetime | None = None) -> tuple[str, str]:
    """(state for WeChat, nonce for the browser's cookie)."""
    if scope not in SCOPES:
        raise ValueError(scope)
    now = now or _now()
    nonce = secrets.token_urlsafe(16)
    # Spent and expired attempts are of no use after a day: the table keeps about a day's logins.
    WechatLoginState.objects.for_org(org).filter(expires_at__lt=now - timedelta(days=1)).delete()
    WechatLoginState.objects.create(org=org, nonce=nonce, scope=scope, next_path=safe_next(next_path),
                                    expires_at=now + STATE_LIFETIME)
    return signing.Signer(salt=STATE_SALT).sign(f"{org.pk}.{nonce}"), nonce


def take(state: str | None, browser_nonce: str | None, now: datetime | None = None) -> WechatLoginState | None:
    """The attempt this state names, spent now; None when forged, expired, used, or brought by
    another browser."""
    if not state or not browser_nonce or len(state) > 128:
        return None
    try:
        org_id, _dot, nonce = signing.Signer(salt=STATE_SALT).unsign(state).partition(".")
    except signing.BadSignature:
        return None
    if not org_id.isdigit() or not hmac.compare_digest(nonce.encode(), browser_nonce.encode()):
        return None
    now = now or _now()
    # One conditional UPDATE: of two requests with the same state only one spends it.
    spent = (WechatLoginState.objects.filter(org_id=int(org_id), nonce=nonce, used_at__isnull=True,
                                             expires_at__gt=now).update(used_at=now))
    if not spent:
        return None
    return WechatLoginState.objects.select_related("org").get(org_id=int(org_id), nonce=nonce)


def finish(attempt: WechatLoginState, code: str) -> WechatIdentity:
    """Exchange the code and keep who it was. Raises client.ShopApiError (a bad or used code:
    40029, 40163) or client.ShopUnavailable."""
    apps = apps_of(attempt.org)
    if apps is None or not apps.login_ready:
        raise LookupError("the organisation has no official account")
    token = oauth.exchange_code(apps, code)
    profile = {}
    if attempt.scope == oauth.USERINFO and token.get("scope", "").find(oauth.USERINFO) >= 0:
        profile = oauth.user_info(apps, token["access_token"], token["openid"])
    return remember(attempt.org, WechatIdentity.OA, apps.oa_appid, token["openid"],
                    unionid=profile.get("unionid") or token.get("unionid") or "",
                    nickname=profile.get("nickname") or "", avatar_url=profile.get("headimgurl") or "")


def remember(org, kind: str, appid: str, openid: str, *, unionid: str = "", nickname: str = "",
             avatar_url: str = "") -> WechatIdentity:
    """The identity row of this openid, created or refreshed with what WeChat gave this time
    (an empty value never erases a known one: snsapi_base gives no nickname)."""
    values = {k: v for k, v in (("unionid", unionid), ("nickname", nickname[:100]),
                                ("avatar_url", avatar_url[:500])) if v}
    try:
        with transaction.atomic():
            identity, created = WechatIdentity.objects.get_or_create(
                org=org, appid=appid, openid=openid, defaults={"kind": kind, **values})
    except IntegrityError:  # a parallel login of the same person made it first
        identity, created = WechatIdentity.objects.get(org=org, appid=appid, openid=openid), False
    if not created and any(getattr(identity, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(identity, k, v)
        identity.save(update_fields=[*values, "updated_at"])
    return identity


def sign_identity(identity: WechatIdentity) -> str:
    return signing.Signer(salt=IDENTITY_SALT).sign_object({"o": identity.org_id, "i": identity.pk})


def identity_from(signed: str | None, org) -> WechatIdentity | None:
    """The identity a login cookie names, when it is of this organisation."""
    if not signed or len(signed) > 200:
        return None
    try:
        data = signing.Signer(salt=IDENTITY_SALT).unsign_object(signed)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict) or data.get("o") != org.pk or not isinstance(data.get("i"), int):
        return None
    return WechatIdentity.objects.for_org(org).select_related("promoter").filter(pk=data["i"]).first()


class AlreadyLinked(Exception):
    """This WeChat user is already another promoter of the organisation."""


def link_promoter(identity: WechatIdentity, promoter) -> None:
    """This WeChat user is this promoter from now on (logging in again opens their page).
    Conditional: an identity already someone else's stays theirs."""
    if identity.promoter_id == promoter.pk:
        return
    linked = (WechatIdentity.objects.filter(pk=identity.pk, org_id=promoter.org_id, promoter__isnull=True)
              .update(promoter=promoter))
    if not linked:
        raise AlreadyLinked()
    identity.promoter = promoter
