"""The promoter-bind callback (推客绑定机构的回调), one URL per account:
/wechat/tuike/<callback_key>/. Verified and decrypted like the shop's push (the 机构's Token,
EncodingAESKey and AppID); a message that fails any check changes nothing. Applied at once (a
row or two, no API call), in CreateTime order, so a replayed or late message is a no-op.
"""
from __future__ import annotations

import logging

from django.http import HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from liveloop.integrations.models import TuikeAccount
from liveloop.integrations.tuike.commissions import COMMISSION_EVENT, record_update
from liveloop.integrations.tuike.links import apply_bind
from liveloop.integrations.wechat.crypto import CryptoError, PushCrypto
from liveloop.integrations.wechat.push import open_push
from liveloop.orgs.audit import record

log = logging.getLogger(__name__)


def _text(body: str, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
def receive(request, callback_key: str):
    account = TuikeAccount.objects.select_related("org").filter(callback_key=callback_key).first()
    if account is None or not account.callback_ready:
        return _text("unknown account", 404)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        crypto = PushCrypto(account.token, account.encoding_aes_key, account.appid)
    except CryptoError:
        log.error("tuike account %s has an unusable EncodingAESKey", account.pk)
        return _text("account misconfigured", 500)
    message = open_push(request, crypto, f"tuike account {account.pk}")
    if isinstance(message, HttpResponse):
        return message
    if message.get("Event") == COMMISSION_EVENT:
        if record_update(account.org, message) is None:
            return _text("not a commission order update", 400)
        return _text("success", 200)
    if message.get("Event") != "promoter_bind_result":
        return _text("success", 200)  # another event: acknowledged, nothing to do
    try:
        outcome = apply_bind(account.org, message)
    except ValueError:
        return _text("not a promoter_bind_result message", 400)
    if outcome.linked is not None:
        record(account.org, None, "tuike.sharer_link", f"promoter {outcome.linked.code}",
               sharer=outcome.sharer.sharer_appid, nickname=outcome.sharer.nickname, by="unionid")
    log.info("tuike.bind org=%s sharer=%s applied=%s linked=%s", account.org_id,
             outcome.sharer.sharer_appid, outcome.applied, bool(outcome.linked))
    return _text("success", 200)
