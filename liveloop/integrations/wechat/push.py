"""The shop's message push endpoint (消息推送), one URL per shop: /wechat/push/<push_key>/.

It only verifies, decrypts and stores; fetching details and ingesting happen in the worker,
so the `success` answer goes back well inside WeChat's 5 seconds.
"""
from __future__ import annotations

import hashlib
import json
import logging

from django.http import HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from liveloop.integrations.models import PushMessage, Shop
from liveloop.integrations.wechat.crypto import AppIdError, CryptoError, PushCrypto

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


def _text(body: str, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def normalise(message: dict) -> dict:
    """Ids as strings from the first parse: an order_id is 64-bit and a JSON number in some
    pushes, which any JavaScript or float reader downstream would round."""
    for section, fields in (("order_info", ("order_id",)),
                            ("finder_shop_aftersale_status_update", ("order_id", "after_sale_order_id"))):
        part = message.get(section)
        if isinstance(part, dict):
            for name in fields:
                if isinstance(part.get(name), int) and not isinstance(part.get(name), bool):
                    part[name] = str(part[name])
    return message


def message_key(message: dict) -> str:
    """What stays the same when WeChat retries the same push."""
    if message.get("MsgId") is not None:
        return f"msg:{message['MsgId']}"
    event = str(message.get("Event", ""))[:60]
    created = message.get("CreateTime", "")
    order = message.get("order_info")
    if isinstance(order, dict) and order.get("order_id"):
        return f"{event}:{order['order_id']}:{created}"
    aftersale = message.get("finder_shop_aftersale_status_update")
    if isinstance(aftersale, dict) and aftersale.get("after_sale_order_id"):
        return f"{event}:{aftersale['after_sale_order_id']}:{aftersale.get('status', '')}:{created}"
    canonical = json.dumps(message, sort_keys=True, ensure_ascii=False).encode()
    return f"{event}:sha256:{hashlib.sha256(canonical).hexdigest()}"


def open_push(request, crypto: PushCrypto, label: str) -> dict | HttpResponse:
    """A push's verified, decrypted message, or the answer to give: WeChat's URL check (GET
    echostr), or a refusal. `label` names the receiver in the log, never a secret."""
    timestamp = request.GET.get("timestamp", "")
    nonce = request.GET.get("nonce", "")
    if request.method == "GET":
        if not crypto.url_check(timestamp, nonce, request.GET.get("signature")):
            return _text("bad signature", 401)
        return _text(request.GET.get("echostr", ""), 200)
    if len(request.body) > MAX_BODY:
        return _text("too large", 400)
    try:
        envelope = json.loads(request.body)
    except ValueError:
        return _text("not JSON", 400)
    encrypted = envelope.get("Encrypt") if isinstance(envelope, dict) else None
    if not isinstance(encrypted, str) or not encrypted:
        return _text("no Encrypt", 400)
    if not crypto.message_check(timestamp, nonce, encrypted, request.GET.get("msg_signature")):
        log.warning("wechat push for %s: bad msg_signature", label)
        return _text("bad signature", 401)
    try:
        plain = crypto.decrypt(encrypted)
    except AppIdError:
        log.warning("wechat push for %s: appid mismatch", label)
        return _text("wrong appid", 401)
    except CryptoError as error:
        log.warning("wechat push for %s: undecryptable (%s)", label, error)
        return _text("undecryptable", 400)
    try:
        message = json.loads(plain)
    except ValueError:
        return _text("decrypted message is not JSON", 400)
    if not isinstance(message, dict) or not isinstance(message.get("Event", ""), str):
        return _text("decrypted message is not a push event", 400)
    return message


@csrf_exempt
def push(request, push_key: str):
    shop = Shop.objects.select_related("org").filter(push_key=push_key).first()
    if shop is None:
        return _text("unknown shop", 404)
    try:
        crypto = PushCrypto(shop.token, shop.encoding_aes_key, shop.appid)
    except CryptoError:
        log.error("wechat shop %s has an unusable EncodingAESKey", shop.pk)
        return _text("shop misconfigured", 500)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    message = open_push(request, crypto, f"shop {shop.pk}")
    if isinstance(message, HttpResponse):
        return message
    message = normalise(message)
    PushMessage.objects.get_or_create(
        org=shop.org, shop=shop, msg_key=message_key(message),
        defaults={"event": str(message.get("Event", ""))[:64], "payload": message})
    return _text("success", 200)
