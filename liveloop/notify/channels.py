"""Delivery channels: `deliver(notice, channel)` sends one notice through one channel.

It answers SENT; raises Skipped, with the reason, when the channel cannot reach this recipient
(WeCom reaches only people in the brand's WeCom: never a viewer, and a promoter only with a
WeCom user id), and DeliveryError when it should be tried again later.
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
from liveloop.promoters.models import Promoter

SENT = "sent"
WECOM_DEFAULT_BASE = "https://qyapi.weixin.qq.com"
# invalid credential, invalid access_token, access_token expired: fetch a new token once.
WECOM_TOKEN_ERRORS = {40001, 40014, 42001}
# Refresh a little before WeCom's stated expiry so a token never dies mid-send.
TOKEN_MARGIN = timedelta(minutes=5)
WECOM_DUPLICATE_WINDOW = 4 * 3600  # seconds, WeCom's longest


class DeliveryError(Exception):
    pass


class Skipped(Exception):
    """This channel cannot reach this recipient; the message says why, for the operator (kept in
    English like every other delivery error: it is a record, shown as written)."""


def timeout() -> float:
    """Seconds one HTTP call may take (5 by default): a slow receiver must not hold the batch."""
    return float(getattr(settings, "LIVELOOP_NOTICE_TIMEOUT_SECONDS", 5))


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


def delivery_key(notice: Notice) -> str:
    return str(notice.pk)


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
        # The idempotency key: the same on every send of this notice (a worker killed after
        # the receiver's 2xx sends again), so the receiver applies each key once.
        "X-Liveloop-Delivery": delivery_key(notice),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout()) as response:
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


def wecom_userid(notice: Notice) -> str:
    """The promoter's WeCom user id as it is now, not when the notice was queued: an operator
    who fills it in for a summary waiting in the retries or the dead letters gets it delivered,
    and one who clears it (the guide left) stops it. Raises Skipped with the reason when none."""
    if notice.recipient_kind != Notice.PROMOTER:
        raise Skipped("WeCom reaches only promoters, not viewers")
    userid = (Promoter.objects.for_org(notice.org).filter(code=notice.recipient)
              .values_list("wecom_userid", flat=True).first())
    if not userid:
        raise Skipped(f"promoter {notice.recipient} has no WeCom user id")
    return userid


def deliver_wecom(notice: Notice, channel: Channel) -> str:
    userid = wecom_userid(notice)
    # WeCom's duplicate check drops a request identical to one it took within the interval
    # (4 hours at most, far beyond a lease): a resend after a killed worker is not shown twice.
    message = {"touser": userid, "msgtype": "text", "agentid": int(channel.agent_id),
               "text": {"content": notice.payload.get("text", "")},
               "enable_duplicate_check": 1, "duplicate_check_interval": WECOM_DUPLICATE_WINDOW}
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
        with urllib.request.urlopen(request, timeout=timeout()) as response:
            return json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DeliveryError(f"WeCom: {getattr(error, 'reason', error)}") from error


DELIVERERS = {Channel.WEBHOOK: deliver_webhook, Channel.WECOM: deliver_wecom}
