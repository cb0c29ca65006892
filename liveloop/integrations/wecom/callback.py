"""WeCom's customer-contact callback, one URL per corp: /wecom/callback/<callback_key>/.

WeCom uses the WeChat push recipe (signature, AES-256-CBC) with the corp id as receive id, but
signs the URL check too and sends XML. Only `change_external_contact` / `add_external_contact`
is recorded, as a `capture` event through ingest; every other event is acknowledged and
dropped. The event id names corp, customer and member, so WeCom's retries are duplicates.

XML: the standard library parser (expat) does not fetch external entities; documents with a
DOCTYPE are refused outright, so no entity of any kind (external or nested internal) is ever
expanded — defusedxml is not needed for that.
"""
from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone

from django.http import HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from liveloop.events.ingest import ingest
from liveloop.integrations.models import WecomApp
from liveloop.integrations.wechat.crypto import AppIdError, CryptoError, PushCrypto
from liveloop.integrations.wecom.state import StateError, parse_state
from liveloop.lives.models import Live
from liveloop.rules.events import MAX_CODE, MAX_ID

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


class BadXml(ValueError):
    pass


def _text(body: str, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def parse_xml(text: str) -> dict[str, str]:
    """A flat WeCom XML document as {tag: text}."""
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise BadXml("DOCTYPE or ENTITY declarations are not accepted")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise BadXml(f"not XML ({error})") from None
    return {child.tag: (child.text or "").strip() for child in root}


def capture_id(corp_id: str, external_user: str, user: str) -> str:
    event_id = f"wecom:{corp_id}:add:{external_user}:{user}"
    if len(event_id) <= MAX_ID:
        return event_id
    digest = hashlib.sha256(f"{external_user}:{user}".encode()).hexdigest()
    return f"wecom:{corp_id}:add:sha256:{digest}"


def capture_event(app: WecomApp, message: dict[str, str]) -> dict:
    """The `capture` event for an add_external_contact message (ValueError if unusable)."""
    external_user = message.get("ExternalUserID", "")
    user = message.get("UserID", "")
    if not external_user or not user:
        raise ValueError("ExternalUserID and UserID are required")
    try:
        at = datetime.fromtimestamp(int(message.get("CreateTime", "")), timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ValueError("CreateTime is not Unix seconds") from None
    live = promoter = None
    if message.get("State"):
        try:
            state = parse_state(message["State"])
        except StateError as error:
            log.info("wecom capture for app %s: unusable state (%s)", app.pk, error)
        else:
            promoter = state.promoter if state.promoter and len(state.promoter) <= MAX_CODE else None
            if state.live and Live.objects.for_org(app.org).filter(public_id=state.live).exists():
                live = state.live
    event = {"id": capture_id(app.corp_id, external_user, user), "type": "capture",
             "viewer": external_user, "at": at.isoformat(),
             "attrs": {"channel": "wecom", "guide": user}}
    if live:
        event["live"] = live
    if promoter:
        event["promoter"] = promoter
    return event


def record_capture(app: WecomApp, message: dict[str, str]):
    event = capture_event(app, message)
    result = ingest(app.org, [event], source="wecom")
    if result.rejected and "live" in event:
        # A capture stays a capture when its live can no longer take events (cancelled):
        # kept outside any live rather than lost.
        log.info("wecom capture %s rejected for its live (%s): kept without it",
                 event["id"], result.rejected[0]["error"])
        event.pop("live")
        result = ingest(app.org, [event], source="wecom")
    if result.rejected:
        raise ValueError(result.rejected[0]["error"])
    return result


@csrf_exempt
def callback(request, callback_key: str):
    app = WecomApp.objects.select_related("org").filter(callback_key=callback_key).first()
    if app is None:
        return _text("unknown app", 404)
    try:
        crypto = PushCrypto(app.token, app.encoding_aes_key, app.corp_id)
    except CryptoError:
        log.error("wecom app %s has an unusable EncodingAESKey", app.pk)
        return _text("app misconfigured", 500)
    timestamp = request.GET.get("timestamp", "")
    nonce = request.GET.get("nonce", "")
    signature = request.GET.get("msg_signature")

    if request.method == "GET":
        echostr = request.GET.get("echostr", "")
        if not echostr or not crypto.message_check(timestamp, nonce, echostr, signature):
            return _text("bad signature", 401)
        try:
            return _text(crypto.decrypt(echostr), 200)
        except CryptoError:
            return _text("undecryptable", 400)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])

    if len(request.body) > MAX_BODY:
        return _text("too large", 400)
    try:
        envelope = parse_xml(request.body.decode("utf-8"))
    except (UnicodeDecodeError, BadXml):
        return _text("not XML", 400)
    encrypted = envelope.get("Encrypt", "")
    if not encrypted:
        return _text("no Encrypt", 400)
    if not crypto.message_check(timestamp, nonce, encrypted, signature):
        log.warning("wecom callback for app %s: bad msg_signature", app.pk)
        return _text("bad signature", 401)
    try:
        message = parse_xml(crypto.decrypt(encrypted))
    except AppIdError:
        log.warning("wecom callback for app %s: corp id mismatch", app.pk)
        return _text("wrong corp", 401)
    except (CryptoError, BadXml) as error:
        log.warning("wecom callback for app %s: unusable (%s)", app.pk, error)
        return _text("undecryptable", 400)
    if (message.get("Event") == "change_external_contact"
            and message.get("ChangeType") == "add_external_contact"):
        try:
            record_capture(app, message)
        except ValueError as error:
            log.warning("wecom capture for app %s not recorded: %s", app.pk, error)
            return _text("unusable add_external_contact", 400)
    return _text("success", 200)
