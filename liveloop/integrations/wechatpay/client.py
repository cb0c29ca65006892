"""The merchant transfer API (商家转账, `/v3/fund-app/mch-transfer/transfer-bills`): create a bill,
query it by out_bill_no, cancel it. Standard library HTTP; every 2xx answer's signature is
checked with the WeChat Pay public key before it is believed (a man in the middle cannot
say SUCCESS). Why not the `wechatpayv3` package: docs/decisions.md "WeChat Pay transfers"."""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from liveloop.integrations.wechatpay import protocol

BILLS = "/v3/fund-app/mch-transfer/transfer-bills"


class PayApiError(Exception):
    """WeChat Pay answered, and said no: `code` (PARAM_ERROR, NOT_ENOUGH, …) and its message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"WeChat Pay {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class PayUnavailable(Exception):
    """No answer we can believe (network, 5xx, a bad signature): the bill's state is unknown,
    so the same out_bill_no is asked again later — never a new one."""


@dataclass
class Merchant:
    """What the client needs of the organisation's merchant settings."""
    mchid: str
    appid: str
    serial: str
    private_key: str
    public_key: str
    public_key_id: str
    base_url: str


class PayClient:
    def __init__(self, merchant: Merchant, *, timeout: float = 10.0, clock=time.time):
        self.merchant = merchant
        self.timeout = timeout
        self.clock = clock

    def __repr__(self):  # never the keys
        return f"PayClient({self.merchant.base_url!r}, {self.merchant.mchid!r})"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        m = self.merchant
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        headers = {"Accept": "application/json", "Content-Type": "application/json",
                   "Wechatpay-Serial": m.public_key_id,
                   "Authorization": protocol.authorization(m.mchid, m.serial, m.private_key, method, path, text,
                                                           int(self.clock()))}
        request = urllib.request.Request(m.base_url.rstrip("/") + path, data=text.encode() if body is not None
                                         else None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, answer, answer_headers = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            status, answer, answer_headers = error.code, error.read().decode(errors="replace"), error.headers
        except (urllib.error.URLError, socket.timeout, ConnectionError) as error:
            raise PayUnavailable(f"WeChat Pay unreachable: {error}") from error
        if status >= 500 or status == 429:
            raise PayUnavailable(f"WeChat Pay answered {status}")
        if status >= 300:
            try:
                data = json.loads(answer)
            except ValueError:
                data = {}
            raise PayApiError(status, str(data.get("code") or status), str(data.get("message") or "")[:200])
        try:
            protocol.check_signed(answer_headers, answer, m.public_key, m.public_key_id, int(self.clock()))
        except protocol.SignatureError as error:
            raise PayUnavailable(f"WeChat Pay's answer is not signed by its key: {error}") from error
        try:
            return json.loads(answer) if answer else {}
        except ValueError as error:
            raise PayUnavailable("WeChat Pay's answer is not JSON") from error

    def create(self, *, out_bill_no: str, scene_id: str, openid: str, amount: int, remark: str,
               report_infos: list, notify_url: str, user_name: str = "") -> dict:
        body = {"appid": self.merchant.appid, "out_bill_no": out_bill_no, "transfer_scene_id": scene_id,
                "openid": openid, "transfer_amount": amount, "transfer_remark": remark,
                "notify_url": notify_url, "transfer_scene_report_infos": report_infos}
        if user_name:
            body["user_name"] = protocol.encrypt_field(self.merchant.public_key, user_name)
        return self._call("POST", BILLS, body)

    def query(self, out_bill_no: str) -> dict:
        return self._call("GET", f"{BILLS}/out-bill-no/{urllib.parse.quote(out_bill_no)}")

    def cancel(self, out_bill_no: str) -> dict:
        return self._call("POST", f"{BILLS}/out-bill-no/{urllib.parse.quote(out_bill_no)}/cancel", {})
