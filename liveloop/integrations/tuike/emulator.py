"""The 推客 endpoints of a 联盟带货机构 account, played by `liveloop wechat-emulator`
(integrations/wechat/emulator.py serves them; this module holds the state and the answers).

Answers follow WeChat's documented shapes and sample payloads (tests/fixtures/wechat/tuike_*.json),
including the documented error codes: an unknown sharer 10071030, an unknown notice 10071048, the
programme closed 10071049. Control endpoints (POST /emulator/tuike/...) add notices, sharers,
counts and statistics, push a signed bind callback, and make failures on demand (a changed
secret, rate limits, a timeout).
"""
from __future__ import annotations

import io
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import segno

PARAM_ERROR, NO_COOPERATION, BAD_PARAM, CLOSED, BAD_SHARER = 10024000, 10071047, 10071048, 10071049, 10071030
NO_COMMISSION_ORDER = 10024006
QR_PATH = "/emulator/tuike/qr/"


@dataclass
class TuikeWorld:
    """One 联盟带货机构 account as WeChat holds it."""
    appid: str = "wxtuike0000000001"
    secret: str = "tuike-secret"
    talent_appid: str = "wxtalent000000001"
    mini_program_appid: str = ""
    shop_appid: str = "wxshop00000000001"
    promoter_id: str = "sphEmulator"
    token: str = ""          # the bind callback's Token and EncodingAESKey
    aes_key: str = ""
    callback_url: str = ""
    base_url: str = ""       # where the emulator serves (its QR code URLs point there)
    closed: bool = False     # 推客功能已关闭
    notices: list[dict] = field(default_factory=list)
    lives: list[dict] = field(default_factory=list)
    sharers: dict[str, dict] = field(default_factory=dict)
    reservations: dict[tuple[str, str], int] = field(default_factory=dict)
    stats: dict[tuple[str, str], dict] = field(default_factory=dict)
    # Commission orders (佣金单) by (order_id, sku_id), as order/get answers them.
    commission_orders: dict[tuple[str, str], dict] = field(default_factory=dict)
    # Answers held back for this many seconds (the client's timeout fires first).
    stalls: int = 0
    stall_seconds: float = 2.0
    stall_lock: threading.Lock = field(default_factory=threading.Lock)

    def take_stall(self) -> float:
        with self.stall_lock:
            if self.stalls > 0:
                self.stalls -= 1
                return self.stall_seconds
        return 0.0

    def add_sharer(self, sharer_appid: str, nickname: str = "", head_img_url: str = "",
                   bind_time: int | None = None) -> dict:
        row = {"sharer_appid": sharer_appid, "bind_time": bind_time or int(time.time()),
               "commission_ratio": 100000, "commission_type": 1, "nickname": nickname,
               "head_img_url": head_img_url}
        self.sharers[sharer_appid] = row
        return row


def _ok(**fields) -> dict:
    return {"errcode": 0, "errmsg": "ok", **fields}


def _owner_ok(world: TuikeWorld, body: dict) -> bool:
    if "shop_appid" in body:
        return body.get("shop_appid") == world.shop_appid and body.get("promoter_id") == world.promoter_id
    return body.get("talent_appid") == world.talent_appid


def _guard(world: TuikeWorld, body: dict, owner: bool = True) -> dict | None:
    if world.closed:
        return {"errcode": CLOSED, "errmsg": "推客功能已关闭"}
    if owner and not _owner_ok(world, body):
        return {"errcode": NO_COOPERATION, "errmsg": "没有相关的合作内容"}
    return None


def _notice_ok(world: TuikeWorld, body: dict, key: str = "notice_id") -> bool:
    return any(n["notice_id"] == body.get(key) for n in world.notices)


def notice_list(world: TuikeWorld, body: dict) -> dict:
    return _guard(world, body) or _ok(live_notice_record_list=list(world.notices))


def live_list(world: TuikeWorld, body: dict) -> dict:
    return _guard(world, body) or _ok(live_record_list=[
        {**live, "promoter_share_link": f"live-link:{live['export_id']}:{body.get('sharer_appid', '')}"}
        for live in world.lives])


def qr_code(world: TuikeWorld, body: dict) -> dict:
    refused = _guard(world, body)
    if refused:
        return refused
    sharer, notice = str(body.get("sharer_appid") or ""), str(body.get("notice_id") or "")
    if not _notice_ok(world, body):
        return {"errcode": BAD_PARAM, "errmsg": "参数异常,请检查入参"}
    if sharer not in world.sharers:
        return {"errcode": BAD_SHARER, "errmsg": "获取推客talentuin失败"}
    query = urllib.parse.urlencode({"notice": notice, "sharer": sharer})
    return _ok(qrcode_url=f"{world.base_url}{QR_PATH}code.png?{query}")


def share_link(world: TuikeWorld, body: dict) -> dict:
    refused = _guard(world, body)
    if refused:
        return refused
    if not _notice_ok(world, body):
        return {"errcode": BAD_PARAM, "errmsg": "参数异常,请检查入参"}
    if body.get("sharer_appid") not in world.sharers:
        return {"errcode": BAD_SHARER, "errmsg": "获取推客talentuin失败"}
    # Opaque to Liveloop; WeChat's own is a token too.
    return _ok(promoter_share_link=f"psl:{body['notice_id']}:{body['sharer_appid']}")


def reservation_info(world: TuikeWorld, body: dict) -> dict:
    refused = _guard(world, body, owner=False)
    if refused:
        return refused
    if not _notice_ok(world, body, "live_notice_id"):
        return {"errcode": PARAM_ERROR, "errmsg": "参数错误"}
    if body.get("sharer_appid") not in world.sharers:
        return {"errcode": BAD_SHARER, "errmsg": "获取推客talentuin失败"}
    return _ok(count=world.reservations.get((body["live_notice_id"], body["sharer_appid"]), 0))


def live_stats(world: TuikeWorld, body: dict) -> dict:
    refused = _guard(world, body, owner=False)
    if refused:
        return refused
    if not body.get("live_id") or not body.get("sharer_appid") or \
            not isinstance(body.get("start_time"), int) or not isinstance(body.get("end_time"), int):
        return {"errcode": PARAM_ERROR, "errmsg": "参数错误"}
    figures = world.stats.get((body["live_id"], body["sharer_appid"]), {})
    return {"errcode": 0, "errmsg": "", **{name: int(figures.get(name, 0)) for name in
                                         ("share_count", "share_user_count", "join_count", "join_user_count")}}


def bind_sharer_list(world: TuikeWorld, body: dict) -> dict:
    if world.closed:
        return {"errcode": CLOSED, "errmsg": "推客功能已关闭"}
    size = body.get("page_size")
    if not isinstance(size, int) or not 1 <= size <= 20:
        return {"errcode": PARAM_ERROR, "errmsg": "参数错误"}
    rows = sorted(world.sharers.values(), key=lambda r: r["sharer_appid"])
    if body.get("sharer_appid"):
        rows = [r for r in rows if r["sharer_appid"] == body["sharer_appid"]]
    start = int(body.get("next_key") or 0) if str(body.get("next_key") or "0").isdigit() else 0
    page = rows[start:start + size]
    following = str(start + size) if start + size < len(rows) else ""
    return _ok(sharer_info_list=page, next_key=following)


def commission_order(world: TuikeWorld, body: dict) -> dict:
    """/channels/ec/league/headsupplier/order/get: the commission order (WeChat spells the key
    `commssion_order`); 10024006 for one it does not have."""
    if world.closed:
        return {"errcode": CLOSED, "errmsg": "推客功能已关闭"}
    row = world.commission_orders.get((str(body.get("order_id")), str(body.get("sku_id"))))
    if row is None:
        return {"errcode": NO_COMMISSION_ORDER, "errmsg": "不存在该佣金单"}
    return _ok(commssion_order=row)


def commission_message(world: TuikeWorld, order_id: str, sku_id: str, status: int, version: str) -> dict:
    """The 机构佣金单变更回调 as WeChat sends it (decrypted)."""
    return {"ToUserName": "gh_tuike", "FromUserName": "OPENID", "CreateTime": int(time.time()),
            "MsgType": "event", "Event": "head_supplier_commission_order_update",
            "order_info": {"order_id": order_id, "sku_id": sku_id, "commission_order_status": status,
                           "order_status": 20, "version": version}}


ROUTES = {
    "/channels/ec/league/headsupplier/order/get": commission_order,
    "/channels/ec/promoter/get_live_notice_record_list": notice_list,
    "/channels/ec/promoter/get_shop_live_notice_record_list": notice_list,
    "/channels/ec/promoter/get_live_record_list": live_list,
    "/channels/ec/promoter/get_shop_live_record_list": live_list,
    "/channels/ec/promoter/get_live_notice_record_qr_code": qr_code,
    "/channels/ec/promoter/get_shop_live_notice_record_qr_code": qr_code,
    "/channels/ec/promoter/get_live_notice_promoter_share_link": share_link,
    "/channels/ec/promoter/get_shop_live_notice_promoter_share_link": share_link,
    "/channels/ec/promoter/get_live_notice_reservation_info": reservation_info,
    "/channels/ec/league/headsupplier/promoteraction/getlivestats": live_stats,
    "/channels/ec/promoter/get_bind_sharer_list": bind_sharer_list,
}


def qr_png(query: dict) -> bytes:
    """The QR image a qrcode_url serves: a real PNG (WeChat's encodes its own reservation link)."""
    out = io.BytesIO()
    text = f"https://channels.weixin.qq.com/emulator/notice?{urllib.parse.urlencode(sorted(query.items()))}"
    segno.make(text, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def bind_message(world: TuikeWorld, sharer_appid: str, bind_status: int, openid: str = "",
                 unionid: str = "", created: int | None = None) -> dict:
    """The decrypted bind callback (推客绑定机构的回调) for one sharer."""
    return {"ToUserName": "gh_tuike_emulator", "FromUserName": "o_wechat_team",
            "CreateTime": created or int(time.time()), "MsgType": "event", "Event": "promoter_bind_result",
            "bind_status": bind_status, "sharer_appid": sharer_appid,
            "sharer_openid": openid, "sharer_unionid": unionid}


def control(world: TuikeWorld, store, path: str, body: dict) -> tuple[int, dict, dict | None]:
    """POST /emulator/tuike/<what>: drive the account (store: the emulator's, for scripted
    answers). Returns the HTTP status, the answer and a bind callback to push, if any."""
    what = path.removeprefix("/emulator/tuike/")
    if what == "notice":
        row = {"notice_id": str(body["notice_id"]), "description": str(body.get("description", "")),
               "start_time": int(body.get("start_time") or time.time() + 86400)}
        world.notices = [n for n in world.notices if n["notice_id"] != row["notice_id"]] + [row]
    elif what == "live":
        world.lives.append({"export_id": str(body["export_id"]), "description": str(body.get("description", ""))})
    elif what == "sharer":
        world.add_sharer(str(body["sharer_appid"]), str(body.get("nickname", "")))
    elif what == "reservations":
        world.reservations[(str(body["notice_id"]), str(body["sharer_appid"]))] = int(body["count"])
    elif what == "stats":
        world.stats[(str(body["live_id"]), str(body["sharer_appid"]))] = {
            k: int(body.get(k, 0)) for k in ("share_count", "share_user_count", "join_count", "join_user_count")}
    elif what == "bind":
        status = int(body.get("bind_status", 1))
        appid = str(body["sharer_appid"])
        if status == 1:
            world.add_sharer(appid, str(body.get("nickname", "")))
        else:
            world.sharers.pop(appid, None)
        return 200, {}, bind_message(world, appid, status, str(body.get("openid", "")),
                                     str(body.get("unionid", "")))
    elif what == "fail":
        mode, times = str(body["mode"]), int(body.get("times", 1))
        if mode == "rate_limit":
            store.scripted.extend([(200, {"errcode": 45009, "errmsg": "reach max api daily quota limit"})] * times)
        elif mode == "busy":
            store.scripted.extend([(200, {"errcode": -1, "errmsg": "system error"})] * times)
        elif mode == "timeout":
            world.stalls += times
            world.stall_seconds = float(body.get("seconds", world.stall_seconds))
        elif mode == "bad_secret":
            world.secret = str(body.get("secret") or "rotated-" + str(time.time_ns()))
        elif mode == "closed":
            world.closed = bool(body.get("on", True))
        else:
            return 400, {"error": f"unknown mode {mode}"}, None
    else:
        return 404, {"error": "unknown control endpoint"}, None
    return 200, {"ok": True}, None


