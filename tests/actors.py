"""The suite's shared actors and small factories: what more than one test module needs and is not
a fixture, so a permission test stays one line. Test modules import from here, never from one
another (tests/test_tree.py); fixtures live in the conftest.py above their users
(tests/conftest.py for those several folders share) and build on these."""
import json
import re
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

from django.conf import settings
from django.db.models import Sum
from django.test import Client

from liveloop.events.ingest import ingest
from liveloop.integrations.wechat import worker
from liveloop.integrations.wechat.emulator import signed_push
from liveloop.lives.models import Account
from liveloop.actions.lives import create_live, end_live, start_live
from liveloop.money.models import Entry
from liveloop.money.payouts import batchable
from liveloop.orgs.models import Member
from liveloop.orgs.services import add_member, create_org
from liveloop.promoters.models import JoinCode
from liveloop.actions.promoters import NewPromoter, enrol

EVENING = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)  # 20:00 in Shanghai


class Tenant:
    """An organisation with an API key, an account and an API client carrying the key."""

    def __init__(self, name: str):
        self.org, self.key = create_org(name)
        self.account = Account.objects.create(org=self.org, name=f"{name} 官方号")
        self.api = Client(HTTP_AUTHORIZATION=f"Bearer {self.key}")

    def live(self, title="双十二预热直播", announced_at=EVENING, promoters=(), **programme):
        live = create_live(self.org, account=self.account, title=title, announced_at=announced_at,
                           **programme)
        if promoters:
            enrol(live.programme, [NewPromoter(name=f"推广员{code}", code=code) for code in promoters])
        return live

    def send(self, events, **headers):
        return self.api.post("/api/v1/events", events, content_type="application/json", **headers)


def event(id, type, live, viewer, at=None, **fields):
    """One event in the contract's JSON shape; `at` defaults to the live's evening."""
    at = at or EVENING + timedelta(minutes=1)
    return {"id": id, "type": type, "live": live, "viewer": viewer, "at": at.isoformat(), **fields}


def png_bytes(colour, size=(64, 64), format="PNG", **save) -> bytes:
    """A one-colour image file, for upload tests."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=format, **save)
    return out.getvalue()


# Signed-in members and reading their pages.

def member(org, username, role):
    """A client signed in as a new member of `org` with `role`."""
    add_member(org, username, role, password="another-long-pass")
    client = Client()
    client.force_login(Member.objects.get(org=org, user__username=username).user)
    return client


def member_client(org, username, role):
    """A new member's client with English chosen, so assertions read the msgids."""
    client = member(org, username, role)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def html_of(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:300])
    return response.content.decode()


def text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def rows_of(html, table_class):
    """Body rows of <table class="… table_class …"> as lists of cell texts."""
    table = re.search(rf'<table class="[^"]*\b{table_class}\b[^"]*">(.*?)</table>', html, re.S).group(1)
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[text(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


# An upcoming live, as the phone tests recruit for it.

def upcoming_live(brand, **fields):
    """A live two days ahead (the real clock), with `fields` set on it."""
    announced = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    live = brand.live(title="春日焕新 · 门店专场", announced_at=announced)
    for name, value in fields.items():
        setattr(live, name, value)
    live.save()
    return live


def recruit_token(live) -> str:
    return JoinCode.objects.for_org(live.org).get(programme__live=live, single_use=False).token


# A live that ended some days ago, ready to settle (the money pages use the real clock).

def ago(days: float) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=days)


def sale(id, live, viewer, amount, code, at):
    return event(f"paid-{id}", "order_paid", live.public_id, viewer, at=at, order=id, amount=amount, promoter=code)


def refund(id, live, viewer, amount, at):
    return event(f"refund-{id}", "order_refund", live.public_id, viewer, at=at, order=id, amount=amount)


def ended_live(tenant, title="上周专场", days=8, promoters=("PA", "PB"), sales=None):
    """A live that ended `days` ago; PA sold ¥100.00 (¥40.00 refunded), PB ¥33.33."""
    start = ago(days) - timedelta(hours=2)
    live = tenant.live(title=title, announced_at=start, promoters=promoters)
    start_live(live, start)
    sales = sales if sales is not None else [("o1", "v1", 10_000, "PA"), ("o2", "v2", 3_333, "PB")]
    answer = ingest(tenant.org, [sale(f"{live.public_id}-{o}", live, v, amount, code, start + timedelta(minutes=5 + i))
                                 for i, (o, v, amount, code) in enumerate(sales)])
    assert answer.accepted == len(sales), answer.rejected
    if sales and sales[0][3] == "PA":
        first = f"{live.public_id}-{sales[0][0]}"
        assert ingest(tenant.org, [refund(first, live, sales[0][1], 4_000, start + timedelta(minutes=30))]).accepted == 1
    end_live(live, start + timedelta(hours=2))
    live.refresh_from_db()
    return live


def estimates(org, live) -> dict:
    """{promoter id: what their estimate entries (accrual, reversal) for `live` add up to}, the
    promoters at 0 left out: the ledger's own record, summed here apart from the kept totals."""
    totals = {}
    for promoter, amount in (Entry.objects.for_org(org).filter(live=live, kind__in=Entry.ESTIMATES)
                             .values_list("promoter_id", "amount")):
        totals[promoter] = totals.get(promoter, 0) + amount
    return {p: v for p, v in totals.items() if v}


def run_confirm(run) -> dict:
    """The bulk approval's confirmation box as the run page shows it: count and sum (fen)."""
    frozen = run.statements.filter(state="frozen")
    return {"confirm": f"{frozen.count()}:{frozen.aggregate(t=Sum('payable'))['t'] or 0}"}


def batch_confirm(org) -> dict:
    """The payout batch's confirmation box as the batches page shows it."""
    waiting = batchable(org)
    return {"confirm": f"{waiting.count()}:{waiting.aggregate(t=Sum('payable'))['t'] or 0}"}


# The demo's clock, shared by the demo's tests and its settlement's: 00:30 in Shanghai, the
# hardest hour, when last night's live ended only about two hours ago.
DEMO_NOW = datetime(2026, 11, 26, 16, 30, tzinfo=timezone.utc)


# A WeChat shop: the sample payloads (tests/fixtures/wechat), the shop's keys, signed pushes and
# the worker that turns them into events.

WECHAT_SAMPLES = Path(__file__).resolve().parent / "fixtures" / "wechat"
APPID = "wx5f3a9c1d2e7b0a11"
SECRET = "shop-secret-for-tests"
TOKEN = "pushtoken123"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CHANNELS_LIVE = "export/UzFfAgtgekIEAQAAAAAAb4MLive"
SHARER = "oSharer_Lk3Jh7Gf1Ds5Aq9Wz"
BUYER = "oBuyer_7Hx2kQ9mZp1sT4vW8yN3cR6d"
WORKER_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
NO_SLEEP = {"sleep": lambda seconds: None}


# The brand's 推客 account (联盟带货机构): the emulator plays it with these ids.
TUIKE_APPID = "wxtuike0000000001"
TUIKE_SECRET = "tuike-secret"
TUIKE_TALENT = "wxtalent000000001"
TUIKE_TOKEN = "tuiketoken456"
TUIKE_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
TUIKE_NOTICE = "finder_notice_tk_20261210"


def official_material(live, promoter, share_link="psl-official", text="https://channels.weixin.qq.com/official"):
    """The promoter as a linked 推客 of the live's WeChat notice, with an official QR code (a real
    PNG, stored as the sync stores it) and share link; returns the TuikeLiveSharer row."""
    import io

    import segno

    from liveloop.integrations.models import TuikeLiveSharer, TuikeNotice, TuikeSharer
    from liveloop.integrations.tuike import qr

    notice = (TuikeNotice.objects.for_org(live.org).filter(live=live).first()
              or TuikeNotice.objects.create(org=live.org, live=live, notice_id=TUIKE_NOTICE))
    sharer = TuikeSharer.objects.create(org=live.org, sharer_appid=f"wxsharer{promoter.code}", source="list",
                                        nickname=promoter.name, promoter=promoter)
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=5, border=4)
    image = qr.save(live.org_id, live.public_id, sharer.sharer_appid, qr.clean(out.getvalue()))
    return TuikeLiveSharer.objects.create(org=live.org, live=live, sharer=sharer, promoter=promoter,
                                          notice_id=notice.notice_id, qr_image=image, share_link=share_link,
                                          reservation_count=0)


def sample(name: str) -> dict:
    return json.loads(sample_text(name))


def sample_text(name: str) -> str:
    return (WECHAT_SAMPLES / f"{name}.json").read_text(encoding="utf-8")


def post_push(client, shop, message, token=TOKEN, aes_key=AES_KEY, appid=APPID, **overrides):
    query, body = signed_push(token, aes_key, appid, message)
    query.update(overrides)
    return client.post(f"{shop.push_path}?{urllib.parse.urlencode(query)}",
                       body, content_type="application/json")


def post_tuike_bind(client, account, message, token=TUIKE_TOKEN, aes_key=TUIKE_AES_KEY, appid=TUIKE_APPID):
    """The 推客 bind callback as WeChat signs it, posted to the account's callback URL."""
    query, body = signed_push(token, aes_key, appid, message)
    return client.post(f"{account.callback_path}?{urllib.parse.urlencode(query)}",
                       body, content_type="application/json")


def push(shop, message):
    assert post_push(Client(), shop, message).content == b"success"


def run(now=WORKER_NOW):
    """One pass of the shop worker, without waiting between retries."""
    return worker.process(now=now, client_options=NO_SLEEP)


def deliver_to(client):
    """The WeChat Pay emulator's callback sender, posting into the Django test client (the
    in-process emulator cannot reach a server that does not listen)."""
    def deliver(url, headers, body):
        path = urllib.parse.urlsplit(url).path
        return client.post(path, body, content_type="application/json", headers=headers).status_code
    return deliver
