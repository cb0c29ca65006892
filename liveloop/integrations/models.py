"""Connected platforms. A WeChat shop (微信小店) pushes ids to its own endpoint; the worker
fetches details from the shop API and ingests events."""
import secrets

from django.conf import settings
from django.db import models

from liveloop.at_rest import EncryptedTextField
from liveloop.orgs.models import TenantModel

OFFICIAL_API_BASE = "https://api.weixin.qq.com"


def new_push_key() -> str:
    return secrets.token_urlsafe(24)


class Shop(TenantModel):
    """One connected shop. token, encoding_aes_key and app_secret are encrypted at rest
    (liveloop/at_rest.py) and must never be logged or shown in full."""
    name = models.CharField(max_length=80)
    appid = models.CharField(max_length=64)
    token = EncryptedTextField(max_length=64)
    encoding_aes_key = EncryptedTextField(max_length=43)
    app_secret = EncryptedTextField(max_length=128)
    # Globally unique: the push URL carries only this key, so it alone names shop and org.
    push_key = models.CharField(max_length=64, unique=True, default=new_push_key)
    api_base_url = models.URLField(max_length=200, default=OFFICIAL_API_BASE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "appid"], name="shop_org_appid")]

    def __str__(self):
        return self.name

    @property
    def push_path(self) -> str:
        return f"/wechat/push/{self.push_key}/"

    @property
    def api_base(self) -> str:
        # One setting points every shop at the local emulator (demo, tests).
        return (getattr(settings, "LIVELOOP_WECHAT_API_BASE", "") or self.api_base_url).rstrip("/")


class ShopLive(TenantModel):
    """Which Liveloop live a shop order's `ext_info.live_id` (the Channels live export id)
    belongs to. A table rather than a column on Live: one Liveloop live may be sold through
    several shops, and the lives app stays free of WeChat."""
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="lives")
    channels_live_id = models.CharField(max_length=200)
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "shop", "channels_live_id"],
                                               name="shoplive_org_shop_live")]


class PushMessage(TenantModel):
    """A decrypted push as received. msg_key makes WeChat's retries no-ops; the worker moves
    state queued → processing → done | skipped | failed."""
    QUEUED, PROCESSING, DONE, SKIPPED, FAILED = "queued", "processing", "done", "skipped", "failed"
    STATES = [(s, s) for s in (QUEUED, PROCESSING, DONE, SKIPPED, FAILED)]

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="messages")
    msg_key = models.CharField(max_length=200)
    event = models.CharField(max_length=64)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=STATES, default=QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "shop", "msg_key"],
                                               name="pushmessage_org_shop_key")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="pushmessage_due")]


# --- WeCom (企业微信): customer captures and routing viewers to a contact code -----------------


def new_callback_key() -> str:
    return secrets.token_urlsafe(24)


class WecomApp(TenantModel):
    """A WeCom corp's customer-contact callback (客户联系回调). token and encoding_aes_key are
    encrypted at rest (like Shop's) and must never be logged or shown in full."""
    corp_id = models.CharField(max_length=64)
    token = EncryptedTextField(max_length=64)
    encoding_aes_key = EncryptedTextField(max_length=43)
    # Globally unique: the callback URL carries only this key, so it alone names app and org.
    callback_key = models.CharField(max_length=64, unique=True, default=new_callback_key)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "corp_id"], name="wecomapp_org_corp")]

    def __str__(self):
        return self.corp_id

    @property
    def callback_path(self) -> str:
        return f"/wecom/callback/{self.callback_key}/"


class ContactWay(TenantModel):
    """A 「联系我」 contact code a viewer is sent to: a promoter's (guide's), a team's (store's) or
    the brand's. qr_url is where the viewer is redirected; config_id is WeCom's id of the code
    (add_contact_way), kept so it can be managed later."""
    PROMOTER, TEAM, BRAND = "promoter", "team", "brand"
    KINDS = [(PROMOTER, "promoter"), (TEAM, "team"), (BRAND, "brand")]

    kind = models.CharField(max_length=10, choices=KINDS)
    promoter = models.ForeignKey("promoters.Promoter", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    team = models.ForeignKey("promoters.Team", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    qr_url = models.URLField(max_length=500)
    config_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="promoter", promoter__isnull=False, team__isnull=True)
                           | models.Q(kind="team", promoter__isnull=True, team__isnull=False)
                           | models.Q(kind="brand", promoter__isnull=True, team__isnull=True)),
                name="contactway_owner_matches_kind"),
            models.UniqueConstraint(fields=["org", "promoter"], condition=models.Q(kind="promoter"),
                                    name="contactway_org_promoter"),
            models.UniqueConstraint(fields=["org", "team"], condition=models.Q(kind="team"),
                                    name="contactway_org_team"),
            models.UniqueConstraint(fields=["org"], condition=models.Q(kind="brand"),
                                    name="contactway_org_brand"),
        ]


# --- WeChat login (official account web authorization) and the mini-program -------------------


class WechatApps(TenantModel):
    """The brand's official account (公众号: web login on its pages inside WeChat) and mini-program
    (小程序: the reservation on Channels), one row per organisation. The secrets are encrypted at
    rest like the shop's and never shown back in full."""
    oa_appid = models.CharField(max_length=64, blank=True, default="")
    oa_secret = EncryptedTextField(max_length=128, blank=True, default="")
    mp_appid = models.CharField(max_length=64, blank=True, default="")
    mp_secret = EncryptedTextField(max_length=128, blank=True, default="")
    # The Channels account (视频号 id, "sph…") whose live notices the mini-program reserves.
    finder_username = models.CharField(max_length=64, blank=True, default="")
    api_base_url = models.URLField(max_length=200, default=OFFICIAL_API_BASE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="wechatapps_org")]

    @property
    def login_ready(self) -> bool:
        return bool(self.oa_appid and self.oa_secret)

    @property
    def mini_program_ready(self) -> bool:
        return bool(self.mp_appid and self.mp_secret and self.finder_username)

    @property
    def api_base(self) -> str:
        return (getattr(settings, "LIVELOOP_WECHAT_API_BASE", "") or self.api_base_url).rstrip("/")


class WechatIdentity(TenantModel):
    """A person as one of the brand's WeChat apps knows them: the official account's openid (web
    login) or the mini-program's (code2Session), the unionid when the app is bound to an open
    platform, and what snsapi_userinfo gave (nickname, avatar). `promoter` when this WeChat user
    is that promoter: logging in again opens their page on any phone."""
    OA, MP = "oa", "mp"
    KINDS = [(OA, "official account"), (MP, "mini-program")]

    kind = models.CharField(max_length=2, choices=KINDS)
    appid = models.CharField(max_length=64)
    openid = models.CharField(max_length=128)
    unionid = models.CharField(max_length=128, blank=True, default="")
    nickname = models.CharField(max_length=100, blank=True, default="")
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    promoter = models.ForeignKey("promoters.Promoter", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="wechat_identities")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "appid", "openid"], name="wechatidentity_org_app_openid")]
        indexes = [models.Index(fields=["org", "unionid"], name="wechatidentity_unionid")]


class WechatLoginState(TenantModel):
    """One web-authorization attempt: the `state` sent to WeChat names this row (signed), which
    is spent once, expires, and must come back to the browser that started it (its cookie)."""
    nonce = models.CharField(max_length=32)
    scope = models.CharField(max_length=20)
    next_path = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "nonce"], name="wechatloginstate_org_nonce")]


# --- 推客 (WeChat's promoter programme, 推客带货) ---------------------------------------------
# The brand's 「联盟带货机构」 (head supplier) account: WeChat counts each bound 推客 (sharer)'s
# reservations and promotion figures per live notice; Liveloop knows who they are and who came.
# liveloop/integrations/tuike/ calls the API; docs/wechat.md "推客" lists each endpoint.


class TuikeAccount(TenantModel):
    """The organisation's 联盟带货机构 account, one per organisation. app_secret and the bind
    callback's token and encoding_aes_key are sealed at rest like the shop's and never shown back
    in full. `kind` picks the endpoints: a talent's own lives (带货者: talent_appid, and the
    mini-program the share link mounts, mini_program_appid) or a shop-linked account's
    (小店关联账号: shop_appid, promoter_id, promoter_type)."""
    TALENT, SHOP = "talent", "shop"
    KINDS = [(TALENT, "talent"), (SHOP, "shop-linked account")]

    appid = models.CharField(max_length=64)
    app_secret = EncryptedTextField(max_length=128)
    kind = models.CharField(max_length=8, choices=KINDS, default=TALENT)
    talent_appid = models.CharField(max_length=64, blank=True, default="")
    mini_program_appid = models.CharField(max_length=64, blank=True, default="")
    shop_appid = models.CharField(max_length=64, blank=True, default="")
    promoter_id = models.CharField(max_length=128, blank=True, default="")
    promoter_type = models.PositiveSmallIntegerField(default=1)  # 1: a Channels account (视频号)
    # The promoter-bind callback (推客绑定机构的回调): signed and encrypted like the shop's push.
    token = EncryptedTextField(max_length=64, blank=True, default="")
    encoding_aes_key = EncryptedTextField(max_length=43, blank=True, default="")
    # Globally unique: the callback URL carries only this key, so it alone names account and org.
    callback_key = models.CharField(max_length=64, unique=True, default=new_push_key)
    api_base_url = models.URLField(max_length=200, default=OFFICIAL_API_BASE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="tuikeaccount_org")]

    def __str__(self):
        return self.appid

    @property
    def callback_path(self) -> str:
        return f"/wechat/tuike/{self.callback_key}/"

    @property
    def api_base(self) -> str:
        return (getattr(settings, "LIVELOOP_WECHAT_API_BASE", "") or self.api_base_url).rstrip("/")

    @property
    def callback_ready(self) -> bool:
        return bool(self.token and self.encoding_aes_key)


class TuikeSharer(TenantModel):
    """A 推客 (sharer) WeChat told us about — from the bind callback or the bound-sharer list —
    and the promoter an operator linked it to. WeChat's nickname is chosen by the sharer, so a
    promoter of the same name is only ever a suggestion: `promoter` is set by an operator, or by
    a bind callback whose unionid is a promoter's own WeChat login (WechatIdentity). One sharer
    ↔ one promoter per organisation (two constraints)."""
    CALLBACK, LIST = "callback", "list"
    SOURCES = [(CALLBACK, "bind callback"), (LIST, "bound-sharer list")]

    sharer_appid = models.CharField(max_length=64)
    nickname = models.CharField(max_length=100, blank=True, default="")
    head_img_url = models.URLField(max_length=500, blank=True, default="")
    # From the bind callback: the sharer's ids under the 机构 (not the mini-program's openid).
    sharer_openid = models.CharField(max_length=128, blank=True, default="")
    sharer_unionid = models.CharField(max_length=128, blank=True, default="")
    bound = models.BooleanField(default=True)
    bind_time = models.DateTimeField(null=True, blank=True)
    # The CreateTime of the last bind callback applied: an older one (replayed, late) is ignored.
    bind_event_at = models.DateTimeField(null=True, blank=True)
    commission_ratio = models.IntegerField(null=True, blank=True)
    commission_type = models.SmallIntegerField(null=True, blank=True)  # 0 platform, 1 机构
    source = models.CharField(max_length=8, choices=SOURCES)
    promoter = models.ForeignKey("promoters.Promoter", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="tuike_sharers")
    linked_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "sharer_appid"], name="tuikesharer_org_appid"),
            models.UniqueConstraint(fields=["org", "promoter"], condition=models.Q(promoter__isnull=False),
                                    name="tuikesharer_org_promoter"),
        ]


class TuikeNotice(TenantModel):
    """A Liveloop live ↔ its WeChat live notice (直播预约 notice_id): one notice per live and one
    live per notice in an organisation. live_export_id is the live's own id once on air (直播
    id, for the promotion statistics). It also carries the live's sync state: the last success,
    the last attempt, the reason of a failure in words and when the next try is due."""
    OK, RETRYING, STOPPED = "ok", "retrying", "stopped"
    STATES = [(OK, "ok"), (RETRYING, "retrying"), (STOPPED, "stopped")]

    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    notice_id = models.CharField(max_length=200)
    description = models.CharField(max_length=200, blank=True, default="")
    start_time = models.DateTimeField(null=True, blank=True)
    live_export_id = models.CharField(max_length=200, blank=True, default="")
    linked_at = models.DateTimeField(auto_now_add=True)
    sync_state = models.CharField(max_length=8, choices=STATES, default=OK)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")  # in words, for the page
    last_errcode = models.IntegerField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # in a row; 0 after a success
    next_sync_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # a worker is syncing it since

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "live"], name="tuikenotice_org_live"),
            models.UniqueConstraint(fields=["org", "notice_id"], name="tuikenotice_org_notice"),
        ]
        indexes = [models.Index(fields=["sync_state", "next_sync_at"], name="tuikenotice_due")]


class TuikeLiveSharer(TenantModel):
    """What WeChat says about one sharer on one live, latest value only: the official
    reservation QR code (re-encoded image, stored like brand images) and share link for
    `notice_id`, the reservations it brought (get_live_notice_reservation_info) and the live
    promotion statistics (shares, viewers; valid from 2025-10-25). A sync rewrites the figures
    and *_synced_at; `promoter` is the sharer's promoter at that sync."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    sharer = models.ForeignKey(TuikeSharer, on_delete=models.CASCADE, related_name="lives")
    promoter = models.ForeignKey("promoters.Promoter", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    notice_id = models.CharField(max_length=200)  # what the QR, link and count are for
    qrcode_url = models.URLField(max_length=1000, blank=True, default="")
    qr_image = models.CharField(max_length=200, blank=True, default="")  # file under MEDIA_ROOT
    share_link = models.CharField(max_length=2000, blank=True, default="")
    material_at = models.DateTimeField(null=True, blank=True)
    reservation_count = models.PositiveIntegerField(null=True, blank=True)
    share_count = models.PositiveIntegerField(null=True, blank=True)
    share_user_count = models.PositiveIntegerField(null=True, blank=True)
    join_count = models.PositiveIntegerField(null=True, blank=True)
    join_user_count = models.PositiveIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    stats_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live", "sharer"], name="tuikelivesharer_org_live_sharer")]


class TuikeNoticeHistory(TenantModel):
    """A live notice a live was linked to before (cancelled on WeChat and replaced by a new one):
    WeChat starts the new notice's counts from 0, so what its sharers had brought under the old
    one is kept here, per sharer, as it stood when the live was relinked. Reconciliation adds it
    to the new notice's counts (integrations.tuike.reconcile)."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    notice_id = models.CharField(max_length=200)
    replaced_by = models.CharField(max_length=200)
    replaced_at = models.DateTimeField()
    # {sharer appid: {"promoter": id or null, "reservations": n or null, "viewers": n or null,
    #  "shares": n or null}}
    counts = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live", "notice_id"],
                                               name="tuikenoticehistory_org_live_notice")]


class TuikeCommissionUpdate(TenantModel):
    """A commission-order callback (机构佣金单变更回调) waiting to become an event: the callback
    only names the commission order (order, SKU, version); the worker fetches it from WeChat
    (order/get) and writes its state as a `commission_order` event (integrations.tuike.
    commissions). One row per (order, SKU, version): WeChat sending the same version again adds
    nothing. Retried with backoff while the order is not yet in Liveloop or WeChat is busy."""
    order_id = models.CharField(max_length=64)
    sku_id = models.CharField(max_length=64)
    version = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    due_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    given_up = models.BooleanField(default=False)
    last_error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "order_id", "sku_id", "version"],
                                               name="tuikecommission_org_order_sku_version")]
        indexes = [models.Index(fields=["done_at", "due_at"], name="tuikecommission_due")]


# --- WeChat Pay: the merchant that pays promoters (商家转账) ----------------------------------

WECHATPAY_API_BASE = "https://api.mch.weixin.qq.com"
# WeChat Pay's published defaults for merchant transfers (docs/wechat.md "Limits"): a merchant
# transfers at most 100,000 yuan a day unless it asks for more, and at most 20,000 yuan a day
# to one user.
MERCHANT_DAILY_FEN = 100_000 * 100
RECEIVER_DAILY_FEN = 20_000 * 100


def default_report_infos() -> list:
    # Scene 1005 (佣金报酬) asks for these two report fields.
    return [{"info_type": "岗位类型", "info_content": "直播推广员"},
            {"info_type": "报酬说明", "info_content": "直播推广佣金"}]


class WechatPayMerchant(TenantModel):
    """The organisation's WeChat Pay merchant (商户号), one per organisation. The merchant's API
    private key and API v3 key are sealed at rest (liveloop/at_rest.py) and never shown back;
    the WeChat Pay public key is public. The callback URL carries only `notify_key`."""
    mchid = models.CharField(max_length=32)
    appid = models.CharField(max_length=32)  # the OA or mini-program whose openids receive
    cert_serial = models.CharField(max_length=64)  # the merchant API certificate's serial number
    private_key = EncryptedTextField(max_length=8000)
    api_v3_key = EncryptedTextField(max_length=32)
    public_key = models.TextField()  # WeChat Pay public key (PEM), or its platform certificate
    public_key_id = models.CharField(max_length=64)  # PUB_KEY_ID_…, or the certificate's serial
    scene_id = models.CharField(max_length=16, default="1005")
    report_infos = models.JSONField(default=default_report_infos)
    remark = models.CharField(max_length=32, default="佣金报酬")
    receiver_daily_fen = models.BigIntegerField(default=RECEIVER_DAILY_FEN)
    merchant_daily_fen = models.BigIntegerField(default=MERCHANT_DAILY_FEN)
    api_base_url = models.URLField(max_length=200, default=WECHATPAY_API_BASE)
    notify_key = models.CharField(max_length=64, unique=True, default=new_push_key)
    # Liveloop's own address as WeChat Pay reaches it (the settings page's, when saved): the
    # notify_url of a transfer the worker sends.
    site_url = models.URLField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org"], name="wechatpaymerchant_one_per_org"),
            models.CheckConstraint(condition=models.Q(receiver_daily_fen__gt=0, merchant_daily_fen__gt=0),
                                   name="wechatpaymerchant_limits_positive"),
        ]

    def __str__(self):
        return self.mchid

    @property
    def notify_path(self) -> str:
        return f"/wechatpay/notify/{self.notify_key}/"

    def notify_url(self, base: str = "") -> str:
        return (base or self.site_url or "http://127.0.0.1:8000").rstrip("/") + self.notify_path

    @property
    def api_base(self) -> str:
        # One setting points every merchant at the local emulator (demo, tests), like shops.
        return (getattr(settings, "LIVELOOP_WECHATPAY_API_BASE", "") or self.api_base_url).rstrip("/")
