"""`liveloop demo-live`: the demo's upcoming live goes on air and is played as it would happen.

`plan_room` (pure, seeded) decides the whole live in advance: who enters when — reservers called
by the reminder in the first minutes, newcomers through the links promoters relay during the
live, public traffic the platform sends — how long each stays, who follows, who buys what, which
orders come back as refunds, who is captured into the private domain afterwards. Arrivals rise
to a peak in the first quarter and fall off, so the room fills, peaks and empties.

`play` releases that timeline tick by tick. Room entries, leaves, follows and captures go
through `ingest` as a producer's batch would, each tick ending with the platform's `online`
sample: the viewers in the room, entries minus leaves. Orders and refunds go through the demo
shop as `liveloop demo-shop` sells: the emulator's order, a signed and encrypted push to the
push URL of the running Liveloop, the push worker, ingest. So every figure on the room page
comes from the same paths a real live's events take, and `liveloop rebuild --check` agrees.
"""
from __future__ import annotations

import math
import random
import secrets
import time
from itertools import count
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from liveloop.demo.cast import Cast
from liveloop.demo.shop import EMULATOR_PORT, PRICE_WEIGHTS, PRICES, SHARER_PREFIX, on_air, shop_open
from liveloop.demo.simulator import CHINA
from liveloop.lives.models import Live

# Shares and rates of a brand's live (the seeded lives use the same orders of magnitude).
SHOW_RATE = 0.35  # reservers who come when reminded
PUBLIC_PER_SHOWN = 1.0  # public traffic about matches the reservers who show up
RELAYED_PER_RESERVER = 0.08  # newcomers through links promoters share during the live
MIN_PUBLIC = 20  # a live without reservations still gets the platform's traffic
FOLLOW_SHARE = 0.08
BUY_RATE = {"reserved": 0.05, "relayed": 0.06, "public": 0.025}
SHARER_CREDIT = 0.8  # orders of relayed viewers that carry the promoter as the shop's sharer
REPEAT_ORDER_SHARE = 0.12
REFUND_SHARE = 0.06
FULL_REFUND_SHARE = 0.7
CAPTURE_BUYER_SHARE = 0.3
CAPTURE_VIEWER_SHARE = 0.01
ROOM_KINDS = {"enter": "room_enter", "leave": "room_leave", "follow": "follow", "capture": "capture"}


@dataclass(frozen=True, order=True)
class Action:
    """One thing that happens `offset` seconds after the play starts."""
    offset: float
    seq: int  # planning order: ties keep an entry before that viewer's order
    kind: str  # enter, leave, follow, capture (ingested); pay, refund (through the shop)
    viewer: str = field(compare=False)
    code: str | None = field(default=None, compare=False)  # the promoter whose link it was
    touchpoint: str | None = field(default=None, compare=False)
    attrs: dict | None = field(default=None, compare=False)
    amount: int = field(default=0, compare=False)  # fen, for pay and refund
    order: int = field(default=-1, compare=False)  # pay: its number; refund: the pay's number


def plan_room(seed, reservers: list[str], promoters: list[tuple[str, float]], duration: float) -> list[Action]:
    """The live of `duration` seconds, as sorted Actions: same seed and inputs, same live.

    `reservers` are the viewer ids holding a reservation; `promoters` (code, weight) those whose
    links newcomers come through, busier ones (weight: the reservations they brought) more often.
    """
    rng = random.Random(f"liveloop-demo-live:{seed}")
    cast = Cast(rng)
    actions: list[Action] = []
    orders = 0

    def add(offset, kind, viewer, **fields):
        actions.append(Action(min(offset, duration), len(actions), kind, viewer, **fields))

    arrivals = []  # (offset, viewer, kind, code, touchpoint)
    for viewer in reservers:
        if rng.random() < SHOW_RATE:
            # The reminder brings most reservers in the first minutes; the rest drop in later.
            at = (rng.expovariate(1 / (0.05 * duration)) if rng.random() < 0.6
                  else rng.uniform(0, 0.9 * duration))
            arrivals.append((at, viewer, "reserved", None, None))
    # Newcomers rise to a peak a quarter (public) or a third (relays) into the live, then fall off.
    for _ in range(max(MIN_PUBLIC, round(len(arrivals) * PUBLIC_PER_SHOWN * rng.uniform(0.9, 1.1)))):
        arrivals.append((rng.triangular(0, duration, 0.25 * duration), cast.openid(), "public", None,
                         "public" if rng.random() < 0.6 else "live"))
    if promoters:
        codes, weights = zip(*promoters)
        for code in rng.choices(codes, weights=weights, k=round(len(reservers) * RELAYED_PER_RESERVER)):
            arrivals.append((rng.triangular(0, duration, 0.33 * duration), cast.openid(), "relayed", code,
                             rng.choice(["community", "moments"])))

    median_stay = max(60.0, 0.15 * duration)
    for at, viewer, kind, code, touchpoint in arrivals:
        at = min(at, 0.97 * duration)
        attrs = cast.profile(None)
        stay = max(30.0, rng.lognormvariate(math.log(median_stay), 0.8))
        leave = min(at + stay, duration)
        add(at, "enter", viewer, code=code, touchpoint=touchpoint, attrs=attrs)
        add(leave, "leave", viewer)
        if rng.random() < FOLLOW_SHARE:
            add(at + (leave - at) * rng.uniform(0.1, 0.9), "follow", viewer, touchpoint=touchpoint)
        bought = rng.random() < BUY_RATE[kind]
        if bought:
            for share in ((0.15, 0.6), (0.65, 0.99))[:1 + (rng.random() < REPEAT_ORDER_SHARE)]:
                paid_at = at + (leave - at) * rng.uniform(*share)
                price = rng.choices(PRICES, PRICE_WEIGHTS)[0] * rng.choice([1, 1, 1, 2])
                sharer = code if code and rng.random() < SHARER_CREDIT else None
                add(paid_at, "pay", viewer, code=sharer, amount=price, order=orders)
                if rng.random() < REFUND_SHARE:
                    amount = price if rng.random() < FULL_REFUND_SHARE else price // 2
                    refund_at = paid_at + rng.uniform(0.05, 0.3) * duration
                    if refund_at < duration:  # later ones arrive after the play, as they would
                        add(refund_at, "refund", viewer, amount=amount, order=orders)
                orders += 1
        if rng.random() < (CAPTURE_BUYER_SHARE if bought else CAPTURE_VIEWER_SHARE):
            add(leave + rng.uniform(20, 180), "capture", viewer,
                attrs={**attrs, "channel": rng.choice(["wecom", "group"])})
    actions.sort()
    return actions


@dataclass
class Played:
    live: Live
    ticks: int = 0
    events: int = 0  # ingested directly: entries, leaves, follows, captures, online samples
    entries: int = 0
    pushes: int = 0
    accepted: int = 0  # pushes Liveloop answered 200
    peak: int = 0
    interrupted: bool = False
    rejected: list = field(default_factory=list)


def play(org, base_url: str, *, minutes: float = 30, interval: float = 2.0, ticks: int = 0,
         seed=None, end: bool = False, live: Live | None = None, emulator_port: int = EMULATOR_PORT,
         echo: Callable[[str], None] = print, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> Played:
    """Put the demo's live on air and play `minutes` of it onto the Liveloop at `base_url`, a
    tick every `interval` seconds, until the time is up or Ctrl-C.

    `ticks` > 0 plays that many ticks without waiting, on a clock that starts `ticks × interval`
    seconds ago (so every event is in the past): a quick, repeatable run for tests. Whenever it
    stops, the viewers still in the room leave and a last sample says so; with `end` the live
    then ends (its report and the promoters' summaries follow), else it stays on air and another
    run goes on with new arrivals.
    """
    from liveloop.analytics.models import PromoterStats
    from liveloop.events.ingest import ingest
    from liveloop.events.models import LiveViewer
    from liveloop.integrations.wechat import worker
    from liveloop.actions.lives import end_live

    duration = minutes * 60
    seed = secrets.randbelow(2**31) if seed is None else seed  # without one, a new audience each run
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(seconds=ticks * interval) if ticks else now
    live = on_air(org, live, at=start)
    reservers = list(LiveViewer.objects.for_org(org).filter(live=live, reserved=True)
                     .order_by("pk").values_list("viewer", flat=True))
    promoters = [(code, reservations + 1) for code, reservations in PromoterStats.objects.for_org(org)
                 .filter(live=live, promoter__isnull=False).order_by("promoter__code")
                 .values_list("promoter__code", "reservations")]
    actions = plan_room(seed, reservers, promoters, duration)
    run = secrets.token_hex(4)  # event ids of this run: a second run adds, never collides
    played = Played(live)
    room: set[str] = set()
    orders: dict[int, str] = {}
    numbers = count()
    position = 0

    def event(kind: str, viewer: str, at: datetime, **fields) -> dict:
        fields = {k: v for k, v in fields.items() if v is not None}
        return {"id": f"demo-live-{live.public_id}-{run}-{next(numbers)}", "type": kind,
                "live": live.public_id, "viewer": viewer, **fields, "at": at.isoformat()}

    def apply(batch: list[dict]) -> None:
        if batch:
            result = ingest(org, batch, source="demo")
            played.events += result.accepted
            played.rejected += result.rejected

    def tick(elapsed: float) -> None:
        nonlocal position
        at = start + timedelta(seconds=elapsed)
        batch, sales = [], []
        while position < len(actions) and actions[position].offset <= elapsed:
            action = actions[position]
            position += 1
            moment = start + timedelta(seconds=action.offset)
            if action.kind in ("pay", "refund"):
                sales.append((action, moment))
                continue
            if action.kind == "enter":
                if action.viewer in room:
                    continue  # already in (a reserver who also came through a relay)
                room.add(action.viewer)
            elif action.kind == "leave":
                if action.viewer not in room:
                    continue
                room.discard(action.viewer)
            played.entries += action.kind == "enter"
            batch.append(event(ROOM_KINDS[action.kind], action.viewer, moment, promoter=action.code,
                               touchpoint=action.touchpoint, attrs=action.attrs))
        # The platform's concurrent count, the viewers in the room now: entries minus leaves.
        batch.append(event("online", live.account.channels_id or "account", at, count=len(room)))
        played.peak = max(played.peak, len(room))
        apply(batch)
        for action, moment in sales:
            sell(action, int(moment.timestamp()))
        if sales:
            worker.process()
        played.ticks += 1
        echo(f"{at.astimezone(CHINA):%H:%M:%S} 在线 {len(room):,} · 进房 {played.entries:,} · "
             f"小店推送 {played.accepted:,}/{played.pushes:,}")

    def sell(action: Action, moment: int) -> None:
        if action.kind == "pay":
            sharer = f"{SHARER_PREFIX}{action.code}" if action.code else None
            if sharer not in driver.sharers:
                sharer = None  # a promoter without a shop sharer id: the viewer's binding decides
            sale = driver.sell(action.viewer, action.amount, sharer, moment)
            if sale.status == 200:
                orders[action.order] = sale.order_id
        elif action.order in orders:
            sale = driver.refund(orders[action.order], action.amount, moment)
        else:
            return  # its order never got in
        played.pushes += 1
        played.accepted += sale.status == 200

    echo(f"「{live.title}」 on air · {len(reservers):,} reservers · playing {minutes:g} minutes")
    with shop_open(org, live, base_url, emulator_port=emulator_port, seed=seed, echo=echo) as driver:
        began = clock()
        elapsed = 0.0
        try:
            while True:
                elapsed = min(duration, (played.ticks + 1) * interval if ticks else clock() - began)
                tick(elapsed)
                if elapsed >= duration or (ticks and played.ticks >= ticks):
                    break
                if not ticks:
                    sleep(interval)
        except KeyboardInterrupt:
            played.interrupted = True
        finally:
            # Whoever is still in the room leaves as the play stops, and the last sample says so.
            at = start + timedelta(seconds=elapsed)
            apply([event("room_leave", viewer, at) for viewer in sorted(room)]
                  + [event("online", live.account.channels_id or "account", at, count=0)])
            room.clear()
    if end:
        live = end_live(live, at=start + timedelta(seconds=elapsed))
        played.live = live
    return played
