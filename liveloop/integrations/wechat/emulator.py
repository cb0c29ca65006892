"""A local stand-in for the WeChat shop API and its message push, for tests and the demo.

Serves /cgi-bin/token and the shop endpoints Liveloop uses, in the documented shapes, from an
in-memory store; `push` encrypts and signs an event exactly as WeChat does and POSTs it to
Liveloop. Control endpoints (/emulator/...) let a demo add orders and after-sales and push them. It also
plays WeChat's users for the official account's web login and the mini-program (code2Session,
URL Links): emulator_login.py. Bind it to 127.0.0.1: it hands tokens to anyone who knows the
appid and secret.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from liveloop.integrations.tuike import emulator as tuike
from liveloop.integrations.wechat import emulator_login
from liveloop.integrations.wechat.crypto import PushCrypto, signature
from liveloop.integrations.wechatpay import emulator as pay_emulator
from liveloop.integrations.wechatpay.emulator import PayStore

ORDER_NOT_FOUND = 100002  # the emulator's own code; WeChat's is not documented in WECHAT.md


@dataclass
class Store:
    appid: str
    secret: str
    token: str = ""
    aes_key: str = ""
    push_url: str = ""
    orders: dict[str, dict] = field(default_factory=dict)
    aftersales: dict[str, dict] = field(default_factory=dict)
    sharers: list[dict] = field(default_factory=list)
    sharer_orders: list[dict] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    # Answers to give before serving normally, e.g. (500, None) or (200, {"errcode": -1}).
    scripted: list[tuple[int, dict | None]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    # WeChat users, the official account's and the mini-program's app ids (emulator_login).
    users: emulator_login.Users = field(default_factory=emulator_login.Users)
    # The brand's 联盟带货机构 account (推客): integrations/tuike/emulator.py.
    tuike: tuike.TuikeWorld = field(default_factory=tuike.TuikeWorld)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # WeChat Pay's merchant transfers (wechatpay/emulator.py), made on first use: its RSA key
    # pair takes a moment to generate, and most uses of the emulator never pay.
    pay_store: PayStore | None = None

    @property
    def pay(self) -> PayStore:
        with self.lock:
            if self.pay_store is None:
                self.pay_store = PayStore()
            return self.pay_store

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()


def order(order_id: str, openid: str, amount: int, live_id: str, pay_time: int,
          sharer_openid: str | None = None, product_id: str = "10000184868", unionid: str = "") -> dict:
    """An order detail in the documented shape (order/get → order)."""
    detail = {
        "product_infos": [{"product_id": product_id, "sku_id": "780750393", "sku_cnt": 1,
                           "sale_price": amount, "title": "真丝围巾 桑蚕丝"}],
        "price_info": {"product_price": amount, "order_price": amount, "freight": 0, "discounted_price": 0},
        "pay_info": {"pay_time": pay_time, "transaction_id": f"42000{order_id}"},
        "ext_info": {"finder_id": "sphEmulator", "live_id": live_id, "order_scene": 2},
        "source_infos": [{"sku_id": "780750393", "sale_channel": 0, "account_type": 1,
                          "account_id": "sphEmulator", "content_type": 0, "content_id": live_id}],
    }
    if sharer_openid:
        detail["sharer_info"] = {"sharer_openid": sharer_openid, "sharer_unionid": "",
                                 "sharer_type": 0, "share_scene": 1}
    return {"order_id": order_id, "status": 20, "openid": openid, "unionid": unionid,
            "create_time": pay_time - 60, "update_time": pay_time, "order_detail": detail}


def aftersale(after_sale_order_id: str, order_id: str, openid: str, amount: int, at: int,
              status: str = "MERCHANT_REFUND_SUCCESS") -> dict:
    """An after-sale detail in the documented shape (getaftersaleorder → after_sale_order)."""
    return {"after_sale_order_id": after_sale_order_id, "order_id": order_id, "status": status,
            "openid": openid, "unionid": "", "product_info": {"product_id": "10000184868",
                                                              "sku_id": "780750393", "count": 1},
            "refund_info": {"amount": amount}, "type": "REFUND", "reason": "NO_LONGER_WANT",
            "create_time": at - 3600, "update_time": at}


def pay_push(appid_user: str, order_detail: dict) -> dict:
    return {"ToUserName": appid_user, "FromUserName": order_detail["openid"],
            "CreateTime": order_detail["update_time"] + 1, "MsgType": "event",
            "Event": "channels_ec_order_pay",
            "order_info": {"order_id": order_detail["order_id"],
                           "pay_time": order_detail["order_detail"]["pay_info"]["pay_time"]}}


def aftersale_push(appid_user: str, detail: dict) -> dict:
    return {"ToUserName": appid_user, "FromUserName": detail["openid"],
            "CreateTime": detail["update_time"], "MsgType": "event",
            "Event": "channels_ec_aftersale_update",
            "finder_shop_aftersale_status_update": {
                "status": detail["status"], "after_sale_order_id": detail["after_sale_order_id"],
                "order_id": detail["order_id"]}}


def signed_push(token: str, aes_key: str, appid: str, message: dict | str,
                timestamp: str | None = None, nonce: str | None = None) -> tuple[dict, bytes]:
    """The query string and body WeChat would send for this message."""
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    encrypted = PushCrypto(token, aes_key, appid).encrypt(text)
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**9))
    query = {"timestamp": timestamp, "nonce": nonce, "encrypt_type": "aes",
             "msg_signature": signature(token, timestamp, nonce, encrypted)}
    body = json.dumps({"ToUserName": "gh_emulator", "Encrypt": encrypted}).encode()
    return query, body


def push(store: Store, message: dict, url: str | None = None, timeout: float = 10) -> tuple[int, str]:
    """POST one event to Liveloop as WeChat would; returns (HTTP status, body)."""
    query, body = signed_push(store.token, store.aes_key, store.appid, message)
    return _post(url or store.push_url, query, body, timeout)


def _post(url: str, query: dict, body: bytes, timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(query)}",
                                     data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Handler(BaseHTTPRequestHandler):
    server: "EmulatorServer"

    def log_message(self, *args):  # quiet: tests and the demo read the store, not a log
        pass

    def _answer(self, status: int, payload: dict | None) -> None:
        body = json.dumps(payload if payload is not None else {"error": "emulated"},
                          ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _pay(self, method: str) -> None:
        """WeChat Pay's API (api.mch.weixin.qq.com): the path and query are what is signed."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace") if length else ""
        status, headers, text = self.server.store.pay.handle(method, self.path, self.headers, body)
        data = text.encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        store = self.server.store
        if self.path.startswith("/v3/"):
            return self._pay("GET")
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        with store.lock:
            store.calls.append(url.path)
            if store.scripted:
                return self._answer(*store.scripted.pop(0))
        if url.path.startswith(tuike.QR_PATH):
            return self._png(tuike.qr_png(query))
        if url.path in self.LOGIN_ROUTES or url.path.startswith(("/emulator/", "/connect/")):
            return self._login_get(url.path, query)
        if url.path == "/cgi-bin/ticket/getticket":  # the official account's JS-SDK ticket
            with store.lock:
                known = query.get("access_token") in store.tokens
            return self._answer(200, {"errcode": 0, "errmsg": "ok", "ticket": "emu-ticket-" + secrets.token_hex(12),
                                      "expires_in": 7200} if known else
                                {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
        if url.path != "/cgi-bin/token":
            return self._answer(404, {"errcode": 404, "errmsg": "not found"})
        known = {store.appid: store.secret, **store.users.apps}
        if query.get("appid") == store.tuike.appid and query.get("secret") != store.tuike.secret:
            # WeChat's answer to a wrong AppSecret at /cgi-bin/token (40013: an unknown appid).
            return self._answer(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
        known[store.tuike.appid] = store.tuike.secret
        if not query.get("appid") or known.get(query.get("appid")) != query.get("secret"):
            return self._answer(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
        token = "emu-" + secrets.token_hex(12)
        with store.lock:
            store.tokens.add(token)
        self._answer(200, {"access_token": token, "expires_in": 7200})

    def _png(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _browser_user(self) -> tuple[str, bool]:
        """The WeChat user this browser is (its cookie on the emulator's host), or a new one."""
        from http.cookies import SimpleCookie
        cookie = SimpleCookie(self.headers.get("Cookie") or "")
        held = cookie.get(emulator_login.USER_COOKIE)
        if held and held.value:
            return held.value, False
        return "user-" + secrets.token_hex(6), True

    def _redirect(self, location: str, user: str | None = None) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        if user:
            self.send_header("Set-Cookie", f"{emulator_login.USER_COOKIE}={user}; Path=/; SameSite=Lax")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _login_get(self, path: str, query: dict) -> None:
        users = self.server.store.users
        if path == "/connect/oauth2/authorize":
            user, new = self._browser_user()
            with self.server.store.lock:
                status, answer = emulator_login.authorize(users, query, user)
            if status == 302:
                return self._redirect(answer, user if new else None)
            return self._answer(status, answer)
        if path == "/emulator/become":
            user = query.get("user") or "user-" + secrets.token_hex(6)
            with self.server.store.lock:
                users.ensure(user)
            return self._redirect(query.get("next") or "/emulator/whoami", user)
        if path == "/emulator/whoami":
            return self._answer(200, {"user": self._browser_user()[0]})
        if path.startswith("/emulator/urllink/"):
            with self.server.store.lock:
                link = users.url_links.get(path.rsplit("/", 1)[1])
            return self._answer(200 if link else 404, link or {"errcode": 404, "errmsg": "no such link"})
        with self.server.store.lock:
            payload = self.LOGIN_ROUTES[path](users, query) if path in self.LOGIN_ROUTES else None
        if payload is None:
            return self._answer(404, {"errcode": 404, "errmsg": "not found"})
        self._answer(200, payload)

    def do_POST(self):
        store = self.server.store
        if self.path.startswith("/v3/"):
            return self._pay("POST")
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        body = self._body()
        if url.path.startswith("/emulator/tuike/"):
            with store.lock:
                try:
                    status, answer, callback = tuike.control(store.tuike, store, url.path, body)
                except (KeyError, TypeError, ValueError) as error:
                    status, answer, callback = 400, {"error": f"bad request: {error}"}, None
            if callback is not None:  # outside the lock: Liveloop may call back meanwhile
                pushed, said = self._push_tuike(callback)
                answer = {"push_status": pushed, "push_answer": said}
            return self._answer(status, answer)
        if url.path.startswith("/emulator/pay/"):
            answer = pay_emulator.control(store.pay, url.path, body)
            return self._answer(*(answer or (404, {"error": "unknown control endpoint"})))
        if url.path.startswith("/emulator/"):
            return self._control(url.path, body)
        stall = store.tuike.take_stall()
        if stall:
            time.sleep(stall)  # a timeout on demand: the client gives up first
        with store.lock:
            store.calls.append(url.path)
            if store.scripted:
                return self._answer(*store.scripted.pop(0))
            if query.get("access_token") not in store.tokens:
                return self._answer(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
        route = self.ROUTES.get(url.path)
        if url.path in tuike.ROUTES:
            with store.lock:
                return self._answer(200, tuike.ROUTES[url.path](store.tuike, body))
        if url.path == "/wxa/generate_urllink":
            with store.lock:
                return self._answer(200, emulator_login.generate_urllink(store.users, body, self.server.base_url))
        if route is None:
            return self._answer(200, {"errcode": 404, "errmsg": "unknown api"})
        with store.lock:
            payload = route(store, body)
        self._answer(200, payload)

    def _push_tuike(self, message: dict) -> tuple[int, str]:
        world = self.server.store.tuike
        query, body = signed_push(world.token, world.aes_key, world.appid, message)
        return _post(world.callback_url, query, body)

    def _control(self, path: str, body: dict) -> None:
        store = self.server.store
        try:
            if path == "/emulator/pay":
                detail = order(str(body["order_id"]), body["openid"], int(body["amount"]),
                               body["live_id"], int(body.get("pay_time") or time.time()),
                               body.get("sharer_openid"), unionid=body.get("unionid") or "")
                with store.lock:
                    store.orders[detail["order_id"]] = detail
                status, answer = push(store, pay_push("gh_emulator", detail))
            elif path == "/emulator/refund":
                with store.lock:
                    paid = store.orders[str(body["order_id"])]
                detail = aftersale(str(body["after_sale_order_id"]), paid["order_id"], paid["openid"],
                                   int(body["amount"]), int(body.get("at") or time.time()))
                with store.lock:
                    store.aftersales[detail["after_sale_order_id"]] = detail
                status, answer = push(store, aftersale_push("gh_emulator", detail))
            elif path == "/emulator/wx-user":
                with store.lock:
                    store.users.ensure(str(body["user"]), body.get("nickname", ""), body.get("headimgurl", ""))
                return self._answer(200, {"ok": True})
            elif path == "/emulator/wx-login":
                # What wx.login gives the mini-program: a code for code2Session.
                with store.lock:
                    store.users.ensure(str(body["user"]))
                    code = store.users.issue_code(str(body["appid"]), str(body["user"]), "mini_program")
                return self._answer(200, {"code": code})
            elif path == "/emulator/sharer":
                with store.lock:
                    store.sharers.append({"openid": body["openid"], "nickname": body.get("nickname", ""),
                                          "bind_time": int(time.time()), "sharer_type": 0, "unionid": ""})
                return self._answer(200, {"ok": True})
            else:
                return self._answer(404, {"error": "unknown control endpoint"})
        except (KeyError, TypeError, ValueError) as error:
            return self._answer(400, {"error": f"bad request: {error}"})
        self._answer(200, {"push_status": status, "push_answer": answer})


def _ok(**fields) -> dict:
    return {"errcode": 0, "errmsg": "ok", **fields}


def _order_get(store: Store, body: dict) -> dict:
    found = store.orders.get(str(body.get("order_id")))
    return _ok(order=found) if found else {"errcode": ORDER_NOT_FOUND, "errmsg": "order not exist"}


def _aftersale_get(store: Store, body: dict) -> dict:
    found = store.aftersales.get(str(body.get("after_sale_order_id")))
    return _ok(after_sale_order=found) if found else {"errcode": ORDER_NOT_FOUND, "errmsg": "aftersale not exist"}


def _page(items: list, body: dict) -> list:
    page, size = int(body.get("page", 1)), min(int(body.get("page_size", 100)), 100)
    return items[(page - 1) * size:page * size]


def _sharer_bind(store: Store, body: dict) -> dict:
    # Not a real image: the shape is what matters (a base64 string), valid 15 days.
    return _ok(qrcode_img="iVBORw0KGgo=", qrcode_img_url="", username=body.get("username", ""),
               expire_time=int(time.time()) + 15 * 86400)


def _sharer_list(store: Store, body: dict) -> dict:
    return _ok(sharer_info_list=_page(store.sharers, body))


def _sharer_orders(store: Store, body: dict) -> dict:
    rows = [r for r in store.sharer_orders if not body.get("openid") or r["sharer_openid"] == body["openid"]]
    return _ok(order_list=_page(rows, body))


Handler.LOGIN_ROUTES = {
    "/sns/oauth2/access_token": emulator_login.oauth_access_token,
    "/sns/userinfo": emulator_login.userinfo,
    "/sns/jscode2session": emulator_login.jscode2session,
}

Handler.ROUTES = {
    "/channels/ec/order/get": _order_get,
    "/channels/ec/aftersale/getaftersaleorder": _aftersale_get,
    "/channels/ec/sharer/bind": _sharer_bind,
    "/channels/ec/sharer/get_sharer_list": _sharer_list,
    "/channels/ec/sharer/get_sharer_order_list": _sharer_orders,
}


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: Store, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), Handler)
        self.store = store
        store.tuike.base_url = self.base_url

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request, client_address):
        # A client that gave up (a timeout on demand) is expected; anything else is reported.
        import sys
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def start(self) -> "EmulatorServer":
        # A short poll so that stop() returns at once (tests start one per test).
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         name="wechat-emulator", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
