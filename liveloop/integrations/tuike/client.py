"""The 推客 endpoints of a 联盟带货机构 account (docs/wechat.md "推客"), on the shop client's
transport (token cache, refresh on a refused token, backoff on busy answers and timeouts).

Which endpoints depend on the account's kind: a talent's own lives (带货者, talent_appid) or a
shop-linked account's (小店关联账号, shop_appid + promoter_id + promoter_type). Field names are
WeChat's.
"""
from __future__ import annotations

from liveloop.integrations.wechat.client import ShopApiError, ShopClient, ShopUnavailable

__all__ = ["BadCredentials", "ShopApiError", "ShopUnavailable", "TuikeClient",
           "CREDENTIAL_ERRORS", "STOP_ERRORS", "BUSY_ERRORS", "SHARER_PAGE_SIZE"]

# Answers of /cgi-bin/token (or of an endpoint) that no retry will change: the appid or secret
# is wrong, the server's IP is not on the account's allow-list, or the API is not granted.
CREDENTIAL_ERRORS = frozenset({40001, 40013, 40125, 40164, 41002, 41004, 48001, 50001, 50002, 61024})
# 推客 answers that stop a sync until an operator acts: programme closed, no cooperation.
STOP_ERRORS = frozenset({10071049, 10071047, 10071055})
# Rate limit and busy: the client already backs off within a call; the sync retries later too.
BUSY_ERRORS = frozenset({-1, 45009, 45011})
SHARER_PAGE_SIZE = 20  # get_bind_sharer_list: "最大 20"
MAX_SHARER_PAGES = 500


class BadCredentials(ShopApiError):
    """The account's appid/secret were refused when asking for a token."""


class TuikeClient(ShopClient):
    def __init__(self, account, **options):
        super().__init__(account.api_base, account.appid, account.app_secret, **options)
        self.account = account

    def __repr__(self):  # never show the secret
        return f"TuikeClient({self.base_url!r}, {self.appid!r})"

    def access_token(self, refresh: bool = False) -> str:
        try:
            return super().access_token(refresh=refresh)
        except ShopApiError as error:
            raise BadCredentials(error.errcode, error.errmsg) from None

    # -- which endpoint for the account's kind ------------------------------------------------

    @property
    def _shop(self) -> bool:
        return self.account.kind == "shop"

    def _owner(self) -> dict:
        if self._shop:
            return {"shop_appid": self.account.shop_appid, "promoter_id": self.account.promoter_id,
                    "promoter_type": int(self.account.promoter_type)}
        return {"talent_appid": self.account.talent_appid}

    # -- endpoints ----------------------------------------------------------------------------

    def notices(self) -> list[dict]:
        """The account's live notices: [{notice_id, description, start_time}]."""
        path = ("/channels/ec/promoter/get_shop_live_notice_record_list" if self._shop
                else "/channels/ec/promoter/get_live_notice_record_list")
        body = self._owner()
        if not self._shop and self.account.mini_program_appid:
            body["mini_program_appid"] = self.account.mini_program_appid
        rows = self.call(path, body).get("live_notice_record_list") or []
        return [row for row in rows if isinstance(row, dict)]

    def lives(self, sharer_appid: str = "") -> list[dict]:
        """The account's current lives: [{export_id, description, promoter_share_link}]."""
        path = ("/channels/ec/promoter/get_shop_live_record_list" if self._shop
                else "/channels/ec/promoter/get_live_record_list")
        body = {**self._owner(), "mini_program_appid": self.account.mini_program_appid}
        if sharer_appid:
            body["sharer_appid"] = sharer_appid
        rows = self.call(path, body).get("live_record_list") or []
        return [row for row in rows if isinstance(row, dict)]

    def notice_qr_code(self, notice_id: str, sharer_appid: str) -> str:
        """The sharer's reservation QR code for the notice: qrcode_url."""
        path = ("/channels/ec/promoter/get_shop_live_notice_record_qr_code" if self._shop
                else "/channels/ec/promoter/get_live_notice_record_qr_code")
        payload = self.call(path, {**self._owner(), "notice_id": notice_id, "sharer_appid": sharer_appid})
        return str(payload.get("qrcode_url") or "")

    def notice_share_link(self, notice_id: str, sharer_appid: str) -> str:
        """The sharer's promoterShareLink for wx.reserveChannelsLive on the notice."""
        if self._shop:
            path, body = "/channels/ec/promoter/get_shop_live_notice_promoter_share_link", self._owner()
        else:
            path = "/channels/ec/promoter/get_live_notice_promoter_share_link"
            body = {**self._owner(), "mini_program_appid": self.account.mini_program_appid}
        payload = self.call(path, {**body, "notice_id": notice_id, "sharer_appid": sharer_appid})
        return str(payload.get("promoter_share_link") or "")

    def reservation_count(self, notice_id: str, sharer_appid: str) -> int:
        """Reservations the sharer brought to the notice (both kinds: one endpoint)."""
        payload = self.call("/channels/ec/promoter/get_live_notice_reservation_info",
                            {"live_notice_id": notice_id, "sharer_appid": sharer_appid})
        return _count(payload, "count")

    def live_stats(self, live_id: str, sharer_appid: str, start_time: int, end_time: int) -> dict:
        """The sharer's promotion of one live: share_count, share_user_count, join_count,
        join_user_count (WeChat: valid from 2025-10-25)."""
        payload = self.call("/channels/ec/league/headsupplier/promoteraction/getlivestats",
                            {"sharer_appid": sharer_appid, "live_id": live_id,
                             "start_time": int(start_time), "end_time": int(end_time)})
        return {name: _count(payload, name)
                for name in ("share_count", "share_user_count", "join_count", "join_user_count")}

    def bound_sharers(self, sharer_appid: str = "") -> list[dict]:
        """Every sharer bound to the account, following next_key (page size at most 20)."""
        rows: list[dict] = []
        next_key = ""
        for _ in range(MAX_SHARER_PAGES):
            body = {"next_key": next_key, "page_size": SHARER_PAGE_SIZE}
            if sharer_appid:
                body["sharer_appid"] = sharer_appid
            payload = self.call("/channels/ec/promoter/get_bind_sharer_list", body)
            batch = [row for row in payload.get("sharer_info_list") or [] if isinstance(row, dict)]
            rows.extend(batch)
            following = str(payload.get("next_key") or "")
            if not batch or not following or following == next_key:
                break
            next_key = following
        return rows


def _count(payload: dict, name: str) -> int:
    value = payload.get(name, 0)
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        raise ShopApiError(-2, f"{name} is not a number") from None
    if number < 0:
        raise ShopApiError(-2, f"{name} is negative")
    return number
