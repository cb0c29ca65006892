"""Two organisations with one of everything, for the attack tests.

`theirs` (org B) is seeded with distinctive names and figures (MARKERS): a page or export that
shows any of them to a member or promoter of `mine` (org A) leaks. Each object a URL can name
has a factory (OBJECTS) so a sweep can fill path parameters with either organisation's object.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from liveloop.integrations.models import PushMessage, Shop, ShopLive, TuikeNotice, TuikeSharer, WecomApp
from liveloop.actions.lives import end_live, start_live
from liveloop.money import payouts
from liveloop.money.plans import save_plan
from liveloop.money.settlement import settle_live
from liveloop.notify.models import Notice
from liveloop.orgs.models import ApiKey, Member
from liveloop.orgs.services import add_member
from liveloop.promoters import images
from liveloop.promoters.models import BrandImage, Enrolment, Team
from liveloop.actions.promoters import NewPromoter, create_invite_codes, enrol, recruit_code
from liveloop.web.phone.views import OWN_COOKIE
from liveloop.promoters.links import sign_enrolment
from tests.actors import Tenant, event, png_bytes

# Strings only org B's data contains; 98765 fen is shown as 987.65 yuan.
MARKERS = ("别家机密直播", "别家推广员", "别家门店", "别家官方号", "bie_jia_", "别家小店", "987.65", "98765",
           "98,765")
ROLES = (Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER)


@dataclass
class Side:
    """One organisation's objects, by the name a path parameter maps to."""
    tenant: Tenant
    live: object
    enrolment: Enrolment
    objects: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)  # role → Client signed in

    @property
    def org(self):
        return self.tenant.org


def _seed(tenant: Tenant, prefix: str, secret: bool) -> Side:
    names = {"live": f"{prefix}机密直播" if secret else "自家直播", "promoter": f"{prefix}推广员",
             "team": f"{prefix}门店", "shop": f"{prefix}小店", "user": "bie_jia_" if secret else "zi_jia_"}
    tenant.account.name = f"{prefix}官方号"
    tenant.account.save()
    team = Team.objects.create(org=tenant.org, name=names["team"])
    live = tenant.live(title=names["live"])
    first, second = ("Q1", "Q2") if secret else ("P1", "P2")  # codes are per organisation: keep them apart
    promoter, = enrol(live.programme, [NewPromoter(name=names["promoter"], code=first, team=names["team"],
                                                   phone="13900001111")])
    enrol(live.programme, [NewPromoter(name=names["promoter"] + "乙", code=second)])
    answer = tenant.send([
        event(f"{prefix}1", "reservation", live.public_id, "VIEWER0001", promoter=first),
        event(f"{prefix}2", "room_enter", live.public_id, "VIEWER0001"),
        event(f"{prefix}3", "order_paid", live.public_id, "VIEWER0001", order="ORDER1",
              amount=98765 if secret else 1200),
    ]).json()
    assert answer["accepted"] == 3, answer
    enrolment = Enrolment.objects.get(programme=live.programme, promoter=promoter)
    code, = create_invite_codes(live.programme, 1)
    shop = Shop.objects.create(org=tenant.org, name=names["shop"], appid=f"wx{prefix.encode().hex()[:14]}",
                               token="Tok3n", encoding_aes_key="A" * 43, app_secret="s" * 20)
    shop_live = ShopLive.objects.create(org=tenant.org, shop=shop, channels_live_id=f"ch-{prefix}", live=live)
    push = PushMessage.objects.create(org=tenant.org, shop=shop, msg_key=f"{prefix}-push", event="x",
                                      payload={}, state=PushMessage.FAILED, attempts=8,
                                      last_error="unexpected detail: order detail without order_id or openid")
    notice = Notice.objects.create(org=tenant.org, kind=Notice.LIVE_CANCELLED, live=live,
                                   recipient="VIEWER0001", state=Notice.DEAD)
    wecom = WecomApp.objects.create(org=tenant.org, corp_id=f"ww{prefix.encode().hex()[:10]}", token="t",
                                    encoding_aes_key="B" * 43)
    # A 推客 WeChat told the brand about, linked to the promoter; no 推客 account (no API calls).
    TuikeNotice.objects.create(org=tenant.org, live=live, notice_id=f"notice-{prefix.encode().hex()[:12]}")
    tuike_sharer = TuikeSharer.objects.create(org=tenant.org, sharer_appid=f"wxs{prefix.encode().hex()[:12]}",
                                              nickname=f"{prefix}推客", source=TuikeSharer.LIST)
    money = _seed_money(tenant, prefix, first, 98765 if secret else 5000)
    _seed_images(tenant, live)
    side = Side(tenant=tenant, live=live, enrolment=enrolment)
    for role in ROLES:
        member = add_member(tenant.org, f"{names['user']}{role}", role)
        client = Client()
        client.force_login(member.user)
        side.members[role] = client
    extra = add_member(tenant.org, f"{names['user']}extra", Member.VIEWER)
    side.objects = {
        "live": live.public_id,
        "promoter_code": promoter.code,
        "invite_code": code.pk,
        "join_token": recruit_code(live.programme).token,
        "member": extra.pk,
        "api_key": ApiKey.objects.for_org(tenant.org).first().pk,
        "shop": shop.pk,
        "shop_live": shop_live.pk,
        "notice": notice.pk,
        "push": push.pk,
        "push_key": shop.push_key,
        "callback_key": wecom.callback_key,
        "team": team.name,
        "team_pk": team.pk,
        "tuike_sharer": tuike_sharer.pk,
        **money,
    }
    return side


def _seed_images(tenant: Tenant, live) -> None:
    """A logo, a default cover and the live's own cover (the pages that serve them)."""
    for kind, target in ((BrandImage.LOGO, None), (BrandImage.COVER, None), (BrandImage.COVER, live)):
        upload = SimpleUploadedFile("image.png", png_bytes((200, 40, 40), (64, 64)), content_type="image/png")
        images.save_image(tenant.org, kind, images.clean_upload(upload, kind), live=target)


def _seed_money(tenant: Tenant, prefix: str, code: str, amount: int) -> dict:
    """A live settled a month ago (the promoter's statement approved and in a payout batch) and
    the default plan: the objects the finance pages name."""
    start = datetime.now(timezone.utc) - timedelta(days=30)
    live = tenant.live(title=f"{prefix}结算直播", announced_at=start)
    enrol(live.programme, [NewPromoter(name="", code=code)])
    start_live(live, start)
    answer = tenant.send([event(f"{prefix}m1", "order_paid", live.public_id, "VIEWER0002", order="ORDERM",
                                amount=amount, promoter=code, at=start + timedelta(minutes=5))]).json()
    assert answer["accepted"] == 1, answer
    end_live(live, start + timedelta(hours=2))
    plan = save_plan(tenant.org, None, name=f"{prefix}方案", fields={"rate_bps": 1000}, make_default=True)
    run = settle_live(tenant.org, live)
    payouts.approve(tenant.org, None, run.statements.all())
    batch = payouts.create_batch(tenant.org, None)
    return {"plan": plan.pk, "run": run.pk, "statement": run.statements.get().number, "batch": batch.pk}


def promoter_client(side: Side) -> Client:
    """A phone that opened its own-page link: it carries the signed cookie, nothing else."""
    client = Client()
    client.cookies[OWN_COOKIE] = sign_enrolment(side.enrolment)
    return client


@pytest.fixture
def mine(brand, settings):
    # A page that calls the shop's API (sync, back-fill) must fail fast here, not reach WeChat.
    settings.LIVELOOP_WECHAT_API_BASE = "http://127.0.0.1:9"
    return _seed(brand, "自家", secret=False)


@pytest.fixture
def theirs(outsider):
    return _seed(outsider, "别家", secret=True)


def leaks(response) -> list[str]:
    """The markers of org B a response shows (decoded as text, whatever its type)."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", errors="ignore")
    return [marker for marker in MARKERS if marker in text]
