"""Delivery channels: `deliver(notice, channel)` sends one notice through one channel.

It answers SENT, or SKIPPED when the channel cannot reach this recipient (WeCom reaches only
people in the brand's WeCom, so never a viewer), and raises DeliveryError when it should be
tried again later.
"""
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

from django.conf import settings

from liveloop.notify.models import Channel, Notice

SENT, SKIPPED = "sent", "skipped"
TIMEOUT = 5  # seconds: a slow receiver must not hold the worker's batch
WECOM_DEFAULT_BASE = "https://qyapi.weixin.qq.com"
# invalid credential, invalid access_token, access_token expired: fetch a new token once.
WECOM_TOKEN_ERRORS = {40001, 40014, 42001}
# Refresh a little before WeCom's stated expiry so a token never dies mid-send.
TOKEN_MARGIN = timedelta(minutes=5)


class DeliveryError(Exception):
    pass


def deliver(notice: Notice, channel: Channel) -> str:
    return DELIVERERS[channel.kind](notice, channel)


# Webhook

def webhook_body(notice: Notice) -> bytes:
    """The JSON posted; `id` stays the same across retries so the receiver can drop repeats."""
    return json.dumps({
        "id": notice.pk, "kind": notice.kind, "org": notice.org.slug, "live": notice.live.public_id,
        "recipient": notice.recipient, "recipient_kind": notice.recipient_kind,
        "created_at": notice.created_at.isoformat(), "payload": notice.payload,
    }, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed so a captured request
    cannot be replayed later with a fresh one."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def deliver_webhook(notice: Notice, channel: Channel) -> str:
    body = webhook_body(notice)
    timestamp = str(int(time.time()))
    request = urllib.request.Request(channel.url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Liveloop-Notices",
        "X-Liveloop-Timestamp": timestamp,
        "X-Liveloop-Signature": sign(channel.secret, timestamp, body),
    })
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryError(f"webhook {channel.name}: {getattr(error, 'reason', error)}") from error
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook {channel.name}: HTTP {status}")
    return SENT


# WeCom application message (应用消息)

def wecom_base() -> str:
    return getattr(settings, "LIVELOOP_WECOM_API_BASE", "") or WECOM_DEFAULT_BASE


def deliver_wecom(notice: Notice, channel: Channel) -> str:
    userid = notice.payload.get("wecom_userid", "")
    if not userid:
        return SKIPPED
    message = {"touser": userid, "msgtype": "text", "agentid": int(channel.agent_id),
               "text": {"content": notice.payload.get("text", "")}}
    answer = _wecom_send(channel, message, _token(channel))
    if answer.get("errcode") in WECOM_TOKEN_ERRORS:
        answer = _wecom_send(channel, message, _token(channel, refresh=True))
    if answer.get("errcode") != 0:
        raise DeliveryError(f"WeCom {channel.name}: {answer.get('errcode')} {answer.get('errmsg', '')}")
    return SENT


def _token(channel: Channel, refresh: bool = False) -> str:
    now = datetime.now(timezone.utc)
    if not refresh and channel.access_token and channel.token_expires_at and channel.token_expires_at > now:
        return channel.access_token
    query = urllib.parse.urlencode({"corpid": channel.corp_id, "corpsecret": channel.corp_secret})
    answer = _wecom_call(f"{wecom_base()}/cgi-bin/gettoken?{query}")
    if answer.get("errcode") != 0 or not answer.get("access_token"):
        raise DeliveryError(f"WeCom {channel.name}: gettoken {answer.get('errcode')} {answer.get('errmsg', '')}")
    channel.access_token = answer["access_token"]
    channel.token_expires_at = now + timedelta(seconds=int(answer.get("expires_in", 7200))) - TOKEN_MARGIN
    Channel.objects.filter(pk=channel.pk).update(access_token=channel.access_token,
                                                 token_expires_at=channel.token_expires_at)
    return channel.access_token


def _wecom_send(channel: Channel, message: dict, token: str) -> dict:
    query = urllib.parse.urlencode({"access_token": token})
    return _wecom_call(f"{wecom_base()}/cgi-bin/message/send?{query}",
                       json.dumps(message, ensure_ascii=False).encode())


def _wecom_call(url: str, body: bytes | None = None) -> dict:
    # WeCom answers errors as {errcode, errmsg} with HTTP 200; anything else is a transport failure.
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DeliveryError(f"WeCom: {getattr(error, 'reason', error)}") from error


DELIVERERS = {Channel.WEBHOOK: deliver_webhook, Channel.WECOM: deliver_wecom}
