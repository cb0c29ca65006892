"""The WeChat Pay side of `liveloop wechat-emulator`: merchant transfer bills, for the demo and
the tests (docs/wechat.md "The emulator: WeChat Pay").

It has its own RSA key pair (made at start; its public key and id are what a merchant
configures as "the WeChat Pay public key"), verifies each merchant's Authorization signature,
answers create / query / cancel signed as WeChat Pay does, and plays the receiver: confirming
a bill (what `requestMerchantTransfer` does in WeChat) or letting it expire, or failing it, then
POSTs the signed, AES-256-GCM encrypted result callback to the bill's notify_url.

On demand (docs/wechat.md): a remark containing "[FAIL]" fails the bill at once (as a real
name mismatch would); POST /emulator/pay/fail or /emulator/pay/expire with {"out_bill_no"} fails
or expires a waiting one; POST /emulator/pay/confirm with {"package"} confirms.
"""
from __future__ import annotations

import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from liveloop.integrations.wechatpay import protocol
from liveloop.integrations.wechatpay.client import BILLS

FINAL = {"SUCCESS", "FAIL", "CANCELLED"}
FAIL_MARKER = "[FAIL]"
OUT_BILL_NO = re.compile(r"^[A-Za-z0-9]{1,32}$")
CHINA = timezone(timedelta(hours=8))


def _now_text(at: float) -> str:
    return datetime.fromtimestamp(at, CHINA).isoformat(timespec="seconds")


@dataclass
class MerchantAccount:
    mchid: str
    public_key: str  # the merchant's API certificate public key, to check its Authorization
    api_v3_key: str


@dataclass
class PayStore:
    private_key: str = ""
    public_key: str = ""
    public_key_id: str = field(default_factory=lambda: "PUB_KEY_ID_" + secrets.token_hex(8).upper())
    merchants: dict[str, MerchantAccount] = field(default_factory=dict)
    bills: dict[tuple[str, str], dict] = field(default_factory=dict)  # (mchid, out_bill_no) → bill
    sent: list[tuple[str, int]] = field(default_factory=list)  # (out_bill_no, HTTP status) of callbacks
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: object = time.time
    # How a callback reaches Liveloop: (url, headers, body) → HTTP status. Tests hand in a
    # Django test client; by default an HTTP POST.
    deliver: object = None

    def __post_init__(self):
        if not self.private_key:
            self.private_key, self.public_key = protocol.new_key_pair()

    def add_merchant(self, mchid: str, public_key: str, api_v3_key: str) -> None:
        protocol.public_key(public_key), protocol.aes_key(api_v3_key)  # refuse a bad one now
        with self.lock:
            self.merchants[mchid] = MerchantAccount(mchid, public_key, api_v3_key)

    # -- the API -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers, body: str) -> tuple[int, dict, str]:
        """One API call: (status, headers, body), signed as WeChat Pay signs."""
        status, answer = self._answer(method, path, headers, body)
        text = json.dumps(answer, ensure_ascii=False)
        signed = protocol.signed_headers(self.private_key, self.public_key_id, text, int(self.clock())) \
            if status < 300 else {}
        return status, {"Content-Type": "application/json", **signed}, text

    def _answer(self, method, path, headers, body) -> tuple[int, dict]:
        try:
            auth = protocol.parse_authorization(headers.get("Authorization") or "")
            merchant = self.merchants.get(auth.get("mchid", ""))
            if merchant is None:
                return 401, {"code": "SIGN_ERROR", "message": "商户号不存在"}
            if abs(int(self.clock()) - int(auth.get("timestamp", "0"))) > protocol.MAX_SKEW:
                return 401, {"code": "SIGN_ERROR", "message": "时间戳过期"}
            protocol.verify(merchant.public_key, protocol.request_message(
                method, path, auth["timestamp"], auth.get("nonce_str", ""), body), auth.get("signature", ""))
        except (protocol.SignatureError, KeyError, ValueError):
            return 401, {"code": "SIGN_ERROR", "message": "签名错误"}
        with self.lock:
            if method == "POST" and path == BILLS:
                return self._create(merchant, body)
            prefix = f"{BILLS}/out-bill-no/"
            if path.startswith(prefix):
                rest = path[len(prefix):]
                if method == "GET" and "/" not in rest:
                    bill = self.bills.get((merchant.mchid, rest))
                    return (200, self._shown(bill)) if bill else (404, {"code": "NOT_FOUND", "message": "记录不存在"})
                if method == "POST" and rest.endswith("/cancel"):
                    return self._cancel(merchant, rest[:-len("/cancel")])
        return 404, {"code": "NOT_FOUND", "message": "unknown api"}

    def _create(self, merchant, body) -> tuple[int, dict]:
        try:
            data = json.loads(body)
            out_bill_no, amount = str(data["out_bill_no"]), data["transfer_amount"]
            openid, remark, scene = str(data["openid"]), str(data["transfer_remark"]), str(data["transfer_scene_id"])
        except (ValueError, KeyError, TypeError):
            return 400, {"code": "PARAM_ERROR", "message": "参数错误"}
        if not OUT_BILL_NO.match(out_bill_no) or not isinstance(amount, int) or amount < 10 or len(remark) > 32:
            return 400, {"code": "PARAM_ERROR", "message": "参数错误"}
        if not data.get("transfer_scene_report_infos"):
            return 400, {"code": "PARAM_ERROR", "message": "需传入转账场景报备信息,请检查"}
        name = ""
        if data.get("user_name"):
            try:
                name = protocol.decrypt_field(self.private_key, data["user_name"])
            except protocol.SignatureError:
                return 400, {"code": "PARAM_ERROR", "message": "user_name 解密失败"}
        if amount >= 200000 and not name:
            return 400, {"code": "PARAM_ERROR", "message": "转账金额 >= 2000元时,收款用户姓名必填"}
        key = (merchant.mchid, out_bill_no)
        bill = self.bills.get(key)
        if bill is not None:  # idempotent by out_bill_no: the same request answers the same bill
            if (bill["openid"], bill["transfer_amount"]) != (openid, amount):
                return 400, {"code": "INVALID_REQUEST", "message": "单号已存在但信息不一致,请查单后比较确认"}
            return 200, self._created(bill)
        now = self.clock()
        bill = {"mch_id": merchant.mchid, "out_bill_no": out_bill_no,
                "transfer_bill_no": "1330" + secrets.token_hex(14)[:28], "appid": data.get("appid", ""),
                "state": "WAIT_USER_CONFIRM", "transfer_amount": amount, "transfer_remark": remark,
                "openid": openid, "user_name": name, "transfer_scene_id": scene,
                "notify_url": data.get("notify_url", ""), "package_info": "EMU" + secrets.token_urlsafe(32),
                "create_time": _now_text(now), "update_time": _now_text(now), "fail_reason": ""}
        self.bills[key] = bill
        if FAIL_MARKER in remark:
            self._finish(bill, "FAIL", "PAYEE_ACCOUNT_ABNORMAL")
        return 200, self._created(bill)

    @staticmethod
    def _created(bill) -> dict:
        shown = {k: bill[k] for k in ("out_bill_no", "transfer_bill_no", "create_time", "state")}
        if bill["state"] == "WAIT_USER_CONFIRM":
            shown["package_info"] = bill["package_info"]
        if bill["fail_reason"]:
            shown["fail_reason"] = bill["fail_reason"]
        return shown

    @staticmethod
    def _shown(bill) -> dict:
        shown = {k: v for k, v in bill.items() if k not in ("package_info", "notify_url", "user_name")}
        if not shown["fail_reason"]:
            del shown["fail_reason"]
        return shown

    def _cancel(self, merchant, out_bill_no) -> tuple[int, dict]:
        bill = self.bills.get((merchant.mchid, out_bill_no))
        if bill is None:
            return 404, {"code": "NOT_FOUND", "message": "记录不存在"}
        if bill["state"] not in ("WAIT_USER_CONFIRM", "ACCEPTED", "CANCELLED", "CANCELING"):
            return 400, {"code": "INVALID_REQUEST", "message": "当前状态不支持撤销"}
        if bill["state"] != "CANCELLED":
            self._finish(bill, "CANCELLED", "MERCHANT_REVOCATION")
        return 200, {"out_bill_no": out_bill_no, "transfer_bill_no": bill["transfer_bill_no"],
                     "state": "CANCELING", "update_time": bill["update_time"]}

    def _finish(self, bill, state: str, reason: str = "") -> None:
        bill["state"], bill["fail_reason"], bill["update_time"] = state, reason, _now_text(self.clock())

    # -- the receiver and the callback ------------------------------------------------------------

    def confirm(self, package: str) -> tuple[int, dict]:
        """The receiver confirms in WeChat (requestMerchantTransfer): the money moves."""
        with self.lock:
            bill = next((b for b in self.bills.values() if b["package_info"] == package), None)
            if bill is None or bill["state"] != "WAIT_USER_CONFIRM":
                return 400, {"error": "no bill waits for this confirmation"}
            self._finish(bill, "SUCCESS")
        return 200, {"state": "SUCCESS", "callback": self.notify(bill)}

    def settle_waiting(self, out_bill_no: str, state: str) -> tuple[int, dict]:
        """Fail a waiting bill, or let it expire (WeChat closes it after 24 hours unconfirmed)."""
        with self.lock:
            bill = next((b for (_m, no), b in self.bills.items() if no == out_bill_no), None)
            if bill is None or bill["state"] in FINAL:
                return 400, {"error": "no waiting bill with this out_bill_no"}
            if state == "expire":
                self._finish(bill, "CANCELLED", "TRANSFER_EXPIRED")
            else:
                self._finish(bill, "FAIL", "REAL_NAME_CHECK_FAIL")
        return 200, {"state": bill["state"], "callback": self.notify(bill)}

    def callback(self, bill: dict) -> tuple[dict, str]:
        """The headers and body WeChat Pay POSTs to notify_url for a finished bill."""
        merchant = self.merchants[bill["mch_id"]]
        resource = {k: bill[k] for k in ("out_bill_no", "transfer_bill_no", "state", "mch_id",
                                          "transfer_amount", "openid", "create_time", "update_time")}
        if bill["fail_reason"]:
            resource["fail_reason"] = bill["fail_reason"]
        now = self.clock()
        body = json.dumps({
            "id": secrets.token_hex(16), "create_time": _now_text(now), "resource_type": "encrypt-resource",
            "event_type": "MCHTRANSFER.BILL.FINISHED", "summary": "商家转账单据终态通知",
            "resource": {"original_type": "mch_payment",
                         **protocol.encrypt(merchant.api_v3_key, json.dumps(resource, ensure_ascii=False),
                                            "mch_payment")}}, ensure_ascii=False)
        return protocol.signed_headers(self.private_key, self.public_key_id, body, int(now)), body

    def notify(self, bill: dict) -> int:
        headers, body = self.callback(bill)
        status = (self.deliver or post)(bill["notify_url"], headers, body)
        with self.lock:
            self.sent.append((bill["out_bill_no"], status))
        return status


def post(url: str, headers: dict, body: str, timeout: float = 10) -> int:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0  # not delivered: Liveloop's status query finds the state instead


def control(store: PayStore, path: str, body: dict) -> tuple[int, dict] | None:
    """The emulator's /emulator/pay/... endpoints; None for another path."""
    if path == "/emulator/pay/merchant":
        try:
            store.add_merchant(str(body["mchid"]), str(body["public_key"]), str(body["api_v3_key"]))
        except (KeyError, protocol.SignatureError) as error:
            return 400, {"error": f"bad merchant: {error}"}
        return 200, {"public_key": store.public_key, "public_key_id": store.public_key_id}
    if path == "/emulator/pay/confirm":
        return store.confirm(str(body.get("package") or ""))
    if path in ("/emulator/pay/fail", "/emulator/pay/expire"):
        return store.settle_waiting(str(body.get("out_bill_no") or ""), path.rsplit("/", 1)[1])
    return None


def new_merchant(store: PayStore, mchid: str = "1900000109", appid: str = "wxemulatorpay0001") -> dict:
    """A merchant the emulator knows, as the organisation's settings hold it: a fresh API key
    pair and API v3 key, and the emulator's WeChat Pay public key and id (demo, tests,
    `liveloop wechatpay-emulator-merchant`)."""
    private, public = protocol.new_key_pair()
    api_v3_key = secrets.token_hex(16)
    store.add_merchant(mchid, public, api_v3_key)
    return {"mchid": mchid, "appid": appid, "cert_serial": secrets.token_hex(20).upper(), "private_key": private,
            "api_v3_key": api_v3_key, "public_key": store.public_key, "public_key_id": store.public_key_id}
