"""The demo's WeChat shop: a connected shop for the demo brand, and `liveloop demo-shop`, which
sells through it while an operator watches the live room page.

The seed connects a shop (random Token, EncodingAESKey and AppSecret, as an operator would
paste them), maps a Channels live id to the upcoming live, and gives that live's promoters
sharer openids. The driver then plays WeChat: it runs the shop API emulator, and at a steady
pace puts a paid order (now and then a refund) into it and pushes the signed, encrypted
message to Liveloop's push URL over HTTP, exactly as WeChat would; after each push it runs the
push worker, which fetches the order from the emulator and ingests it. So the path an order
takes in the demo is the production one: push endpoint → stored message → worker → shop API →
ingest → figures.
"""
from __future__ import annotations

import base64
import random
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from liveloop.integrations.models import Shop, ShopLive
from liveloop.integrations.wechat import emulator
from liveloop.integrations.wechat.emulator import EmulatorServer, Store
from liveloop.lib.numbers import yuan
from liveloop.lives.models import Live
from liveloop.promoters.models import Enrolment, Promoter

DEMO_APPID = "wx1d2e3f4a5b6c7d8e"
DEMO_SHOP_NAME = "山茶集官方小店"
EMULATOR_PORT = 8765  # `liveloop wechat-emulator`'s default: the demo shop's API base points here
SHARER_PREFIX = "oDemoSharer_"
# A skincare line in fen, as the simulated lives sell it.
PRICES = [3900, 5900, 6900, 8900, 12900, 19900, 25900, 39900, 59900]
PRICE_WEIGHTS = [18, 16, 10, 14, 14, 12, 8, 5, 3]
SHARED_SHARE = 0.6  # orders placed through a sharer's (promoter's) link
RESERVER_SHARE = 0.5  # of the others, buyers who reserved (credited by their binding)
REFUND_SHARE = 0.08  # of the pushes after the first few, a refund of an earlier order


def channels_live_id(live: Live) -> str:
    return f"export/demo-{live.public_id}"


def ensure_shop(org, live: Live) -> Shop:
    """The demo shop, its mapping to `live`, and sharer openids for the live's promoters; a
    second call changes nothing (the demo may be older than its shop)."""
    shop = Shop.objects.for_org(org).filter(appid=DEMO_APPID).first()
    if shop is None:
        shop = Shop.objects.create(
            org=org, name=DEMO_SHOP_NAME, appid=DEMO_APPID, token=secrets.token_hex(16),
            # 43 characters of base64 that decode to 32 bytes, like the shop's own generator's.
            encoding_aes_key=base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),
            app_secret=secrets.token_hex(16), api_base_url=f"http://127.0.0.1:{EMULATOR_PORT}")
    ShopLive.objects.get_or_create(org=org, shop=shop, channels_live_id=channels_live_id(live),
                                   defaults={"live": live})
    promoters = Promoter.objects.for_org(org).filter(
        openid="", pk__in=Enrolment.objects.for_org(org).filter(programme__live=live, active=True)
        .values("promoter"))
    for promoter in promoters:
        Promoter.objects.filter(pk=promoter.pk).update(openid=f"{SHARER_PREFIX}{promoter.code}")
    return shop


@dataclass
class Sale:
    kind: str  # "pay" or "refund"
    order_id: str
    amount: int
    sharer: str | None
    status: int  # Liveloop's HTTP answer to the push
    answer: str


@dataclass
class Driver:
    """Makes orders in the emulator's store and pushes them to `push_url`."""
    shop: Shop
    live: Live
    store: Store
    push_url: str
    rng: random.Random = field(default_factory=random.Random)
    sharers: list[str] = field(default_factory=list)
    reservers: list[str] = field(default_factory=list)
    paid: list[tuple[str, int]] = field(default_factory=list)
    sequence: int = 0

    @classmethod
    def for_shop(cls, shop: Shop, live: Live, store: Store, push_url: str, seed: int | None = None) -> "Driver":
        from liveloop.events.models import LiveViewer

        sharers = sorted(Promoter.objects.for_org(shop.org).filter(
            openid__startswith=SHARER_PREFIX,
            pk__in=Enrolment.objects.for_org(shop.org).filter(programme__live=live).values("promoter"))
            .values_list("openid", flat=True))
        reservers = list(LiveViewer.objects.for_org(shop.org).filter(live=live, reserved=True)
                         .order_by("pk").values_list("viewer", flat=True)[:5000])
        return cls(shop, live, store, push_url, random.Random(seed), sharers, reservers)

    def _order_id(self) -> str:
        # 19 digits like the shop's: the time in ms and this run's sequence, so never repeated.
        self.sequence += 1
        return f"37{int(time.time() * 1000) % 10**13:013d}{self.sequence:04d}"

    def _buyer(self) -> str:
        if self.reservers and self.rng.random() < RESERVER_SHARE:
            return self.rng.choice(self.reservers)
        return "oDemoBuyer_" + "".join(self.rng.choices("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789",
                                                        k=17))

    def step(self, now: int | None = None) -> Sale:
        """One push: a refund of an earlier order now and then, else a new paid order."""
        now = now or int(time.time())
        if len(self.paid) > 3 and self.rng.random() < REFUND_SHARE:
            order_id, price = self.paid.pop(self.rng.randrange(len(self.paid)))
            return self.refund(order_id, price if self.rng.random() < 0.7 else price // 2, now)
        price = self.rng.choices(PRICES, PRICE_WEIGHTS)[0] * self.rng.choice([1, 1, 1, 2])
        sharer = self.rng.choice(self.sharers) if self.sharers and self.rng.random() < SHARED_SHARE else None
        return self.sell(self._buyer(), price, sharer, now)

    def sell(self, buyer: str, price: int, sharer: str | None, now: int) -> Sale:
        """`buyer` pays `price` fen at `now` (Unix seconds), through `sharer`'s link if given:
        the order goes into the emulator's store and its pay push to Liveloop."""
        detail = emulator.order(self._order_id(), buyer, price, channels_live_id(self.live), now,
                                sharer_openid=sharer)
        with self.store.lock:
            self.store.orders[detail["order_id"]] = detail
        status, answer = emulator.push(self.store, emulator.pay_push("gh_demo", detail), self.push_url)
        if status == 200:
            self.paid.append((detail["order_id"], price))
        return Sale("pay", detail["order_id"], price, sharer, status, answer)

    def refund(self, order_id: str, amount: int, now: int) -> Sale:
        """`amount` fen of an earlier order goes back at `now`: an after-sale and its push."""
        detail = emulator.aftersale(f"19{order_id[-12:]}", order_id, self.store.orders[order_id]["openid"],
                                    amount, now)
        with self.store.lock:
            self.store.aftersales[detail["after_sale_order_id"]] = detail
        status, answer = emulator.push(self.store, emulator.aftersale_push("gh_demo", detail), self.push_url)
        return Sale("refund", order_id, amount, None, status, answer)


def on_air(org, live: Live | None = None, at: datetime | None = None) -> Live:
    """The live to sell in: the given one, else the demo's live on air, else its upcoming one,
    which goes on air `at` (now by default: the room page shows a live that is on air)."""
    from liveloop.actions.lives import start_live
    from liveloop.rules.attribution import LIVE, SCHEDULED

    if live is None:
        live = (Live.objects.for_org(org).filter(state=LIVE).order_by("-started_at").first()
                or Live.objects.for_org(org).filter(state=SCHEDULED).order_by("announced_at").first())
    if live is None:
        raise LookupError("the demo has no live on air or to come")
    if live.state == SCHEDULED:
        live = start_live(live, at=at or datetime.now(timezone.utc))
    elif live.state != LIVE:
        raise LookupError(f"the live {live.public_id} is {live.state}, not on air")
    return live


@contextmanager
def shop_open(org, live: Live, base_url: str, *, emulator_port: int = EMULATOR_PORT, seed: int | None = None,
              echo: Callable[[str], None] = print):
    """The demo shop selling in `live` (on air): the emulator runs in this process while the
    block runs, and this process's push worker asks it. Yields the Driver."""
    from django.test.utils import override_settings

    shop = ensure_shop(org, live)
    store = Store(appid=shop.appid, secret=shop.app_secret, token=shop.token, aes_key=shop.encoding_aes_key)
    server = EmulatorServer(store, port=emulator_port).start()
    push_url = f"{base_url.rstrip('/')}{shop.push_path}"
    echo(f"shop emulator on {server.base_url}; pushing to {push_url}")
    echo(f"watch the live room: {room_url(base_url, live)}")
    try:
        with override_settings(LIVELOOP_WECHAT_API_BASE=server.base_url):
            yield Driver.for_shop(shop, live, store, push_url, seed)
    finally:
        server.stop()


def room_url(base_url: str, live: Live) -> str:
    return f"{base_url.rstrip('/')}/lives/{live.public_id}/room/"


def drive(org, base_url: str, *, count: int = 0, interval: float = 2.0, emulator_port: int = EMULATOR_PORT,
          live: Live | None = None, seed: int | None = None, echo: Callable[[str], None] = print,
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Sell `count` times (0: until interrupted), one push every `interval` seconds, to the
    Liveloop at `base_url`; answers how many pushes Liveloop accepted."""
    from liveloop.integrations.wechat import worker

    live = on_air(org, live)
    accepted = done = 0
    with shop_open(org, live, base_url, emulator_port=emulator_port, seed=seed, echo=echo) as driver:
        try:
            while not count or done < count:
                sale = driver.step()
                done += 1
                accepted += sale.status == 200
                outcome = worker.process()
                who = f" via {sale.sharer}" if sale.sharer else ""
                echo(f"{sale.kind:6} {sale.order_id} {yuan(sale.amount)}{who} → "
                     f"{sale.status} {sale.answer[:40]}; ingested {outcome.done}, waiting {outcome.retrying}")
                if not count or done < count:
                    sleep(interval)
        except KeyboardInterrupt:
            pass
    return accepted
