"""The demo's facts: a brand's weekly lives, last night's big one and its next one, as the
platform would report them.

`make_plan` decides who and when (stores, promoters, accounts, the lives' times) and
`simulate` produces every event of every live in the event contract's JSON shape, sorted by
time. Both are pure Python over `random.Random` streams derived from the seed, so one seed
and one `now` always give the same list; `liveloop.demo.seed` feeds it to ingest.
"""
from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from itertools import accumulate

from liveloop.demo.cast import ACCOUNTS, BRAND, STORES, Cast, Person, zipf_pull

# Asia/Shanghai has kept +08:00 all year since 1991: a fixed offset is the same clock, and
# formatting 300,000 times with it is several times faster than with a ZoneInfo.
CHINA = timezone(timedelta(hours=8))

PROMOTERS = 1000
FULL_RESERVATIONS = 100_000  # through promoters, at scale 1.0
UNATTRIBUTED_SHARE = 0.12  # reservations from the account's own page, per promoter reservation
SECOND_RESERVATION_SHARE = 0.03  # reserve again through another promoter's link: counts once
CANCEL_SHARE = 0.015
RESERVATION_DAYS = 7
# During the live promoters share the room link; newcomers arrive through it.
LIVE_SHARE_ENTRIES = 0.08
PUBLIC_PER_RESERVER_ENTRY = 1.0  # public traffic about matches the reservers who show up
REENTRY_SHARE = 0.08
LEAVE_REPORTED = 0.92  # the platform loses some leaves (app killed, network gone)
FOLLOW_SHARE = 0.08
REPEAT_ORDER_SHARE = 0.12
REFUND_SHARE = 0.04
FULL_REFUND_SHARE = 0.7
CAPTURE_BUYER_SHARE = 0.3
CAPTURE_VIEWER_SHARE = 0.006
# Chance that an entered viewer pays, by how they came: people a promoter brought buy more.
BUY_RATE = {"promoter": 0.055, "reserved": 0.045, "shared": 0.04, "public": 0.025}

UPCOMING_RETURNING = 280
UPCOMING_NEW = 40
UPCOMING_SHARE = 0.15  # of the ended live's reservations, so far
UPCOMING_RESERVATION_DAYS = 2
RETURNING_VIEWER_SHARE = 0.3

# The brand's regular weekly lives before last night's festival special, oldest first: days
# before today, their size against the special's reservations, how many of the programme's
# promoters had joined by then. They give the planner a history to fit and back-test, and
# finance settled runs to look at.
PAST_LIVES = [
    (22, 0.20, 500, "周三护肤课堂 · 换季修护"),
    (15, 0.30, 650, "周三护肤课堂 · 山茶花精华油使用指南"),
    (8, 0.45, 800, "周三护肤课堂 · 双十二预热"),
]

PROMOTER_TOUCHPOINTS = ["community", "moments", "wecom", "article", "short_video", "personal"]
PROMOTER_TOUCHPOINT_WEIGHTS = [40, 22, 18, 6, 8, 6]
_TOUCHPOINT_CUM = list(accumulate(PROMOTER_TOUCHPOINT_WEIGHTS))
# A skincare line in fen: lip balm 39 元 … gift box 599 元.
PRICES = [3900, 5900, 6900, 8900, 12900, 19900, 25900, 39900, 59900]
PRICE_WEIGHTS = [18, 16, 10, 14, 14, 12, 8, 5, 3]
ITEMS = [1, 2, 3, 4]
ITEM_WEIGHTS = [72, 20, 6, 2]
# People reserve at lunch and in the evening, hardly at night (Shanghai hours 0–23).
HOUR_WEIGHTS = [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.2, 1.5, 1.6, 1.8,
                2.2, 2.0, 1.4, 1.3, 1.3, 1.5, 2.2, 2.8, 3.0, 2.8, 2.0, 1.0]
# The preview's first day, a lull, then a rise towards the live (oldest day first).
DAY_WEIGHTS = [3.0, 1.5, 1.0, 1.0, 1.5, 2.5, 4.0]

CHANNELS_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
ID_PREFIXES = {"reservation": "r", "reservation_cancel": "rc", "room_enter": "e", "room_leave": "l",
               "order_paid": "o", "order_refund": "rf", "follow": "f", "capture": "c",
               "online": "n"}


@dataclass(frozen=True)
class LivePlan:
    title: str
    account: int  # index into Plan.accounts
    announced_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass
class Plan:
    seed: int
    now: datetime
    accounts: list[tuple[str, str]]  # (name, channels id)
    people: list[Person]  # the ended live's programme
    pull: list[float]
    upcoming_people: list[Person]  # the next live's programme, mostly the same people
    upcoming_pull: list[float]
    # None for an agency's client brand (demo.agency), which has only its own aired lives.
    ended: LivePlan | None
    upcoming: LivePlan | None
    past: list[tuple[LivePlan, float, int]] = field(default_factory=list)  # (live, size, promoters)
    stores: list[tuple[str, str]] = field(default_factory=lambda: list(STORES))


def make_plan(seed: int, now: datetime) -> Plan:
    rng = random.Random(f"liveloop-demo:{seed}:plan")
    cast = Cast(rng)
    now = now.astimezone(CHINA).replace(microsecond=0)
    today = now.date()
    announced = datetime.combine(today - timedelta(days=1), time(20), CHINA)
    # On air a little late, as usual, but well inside the hour that would let reservations lapse.
    started = announced + timedelta(minutes=rng.randint(1, 9), seconds=rng.randrange(60))
    ended = started + timedelta(minutes=rng.randint(140, 170), seconds=rng.randrange(60))
    ended_live = LivePlan(f"{BRAND} 冬日焕颜节 · 门店会员专场", 0, announced, started, ended)
    upcoming_live = LivePlan(f"{BRAND} 新品首发 · 山茶花精华油 2.0", 1,
                             datetime.combine(today + timedelta(days=3), time(20), CHINA))

    accounts = [(name, "sph" + "".join(rng.choices(CHANNELS_ALPHABET, k=8)))
                for name in ACCOUNTS]
    people = cast.people(PROMOTERS)
    pull = zipf_pull([rng.random() for _ in people], silent=0.12)
    # Whoever brought many last time is likely to join again, and likely to bring many again.
    scores = [(p + 0.002) * rng.lognormvariate(0, 1) for p in pull]
    returning = sorted(range(PROMOTERS), key=lambda i: -scores[i])[:UPCOMING_RETURNING]
    upcoming_people = [people[i] for i in returning]
    upcoming_scores = [scores[i] for i in returning]
    median = sorted(upcoming_scores)[len(upcoming_scores) // 2]
    for _ in range(UPCOMING_NEW):
        upcoming_people.append(cast.person(rng.choice(STORES)))
        upcoming_scores.append(median * rng.lognormvariate(0, 1))
    upcoming_pull = zipf_pull(upcoming_scores, silent=0.08)
    return Plan(seed, now, accounts, people, pull, upcoming_people, upcoming_pull,
                ended_live, upcoming_live, _past_lives(seed, today))


def _past_lives(seed: int, today) -> list[tuple[LivePlan, float, int]]:
    # Their own stream: adding them left every draw of the lives above as it was.
    rng = random.Random(f"liveloop-demo:{seed}:past")
    past = []
    for number, (days, size, promoters, title) in enumerate(PAST_LIVES):
        announced = datetime.combine(today - timedelta(days=days), time(20), CHINA)
        started = announced + timedelta(minutes=rng.randint(0, 6), seconds=rng.randrange(60))
        ended = started + timedelta(minutes=rng.randint(90, 120), seconds=rng.randrange(60))
        past.append((LivePlan(f"{BRAND} {title}", number % len(ACCOUNTS), announced, started, ended),
                     size, promoters))
    return past


@dataclass(slots=True)
class Viewer:
    id: str
    attrs: dict
    kind: str  # promoter, reserved, shared or public: how they came (BUY_RATE)
    code: str | None = None
    touchpoint: str | None = None


class _Log:
    """Collects events with their times; `events()` sorts them and numbers the ids."""

    def __init__(self):
        self._items: list[tuple] = []

    def add(self, at: datetime, kind: str, live: str | None, viewer: str, **fields) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        self._items.append((at.replace(microsecond=0), len(self._items), kind, live, viewer, fields))

    def events(self) -> list[dict]:
        # Ties keep the order of generation, so an enter stays before an order in the same second.
        self._items.sort(key=lambda item: (item[0], item[1]))
        numbers = Counter()
        out = []
        for at, _, kind, live, viewer, fields in self._items:
            numbers[kind] += 1
            event = {"id": f"demo-{ID_PREFIXES[kind]}-{numbers[kind]:06d}", "type": kind}
            if live is not None:
                event["live"] = live
            event["viewer"] = viewer
            event.update(fields)
            event["at"] = at.isoformat()
            out.append(event)
        return out


def simulate(plan: Plan, scale: float, ended_live: str, upcoming_live: str,
             past_lives: list[str] = ()) -> list[dict]:
    """Every event of the demo, sorted by time; `*_live` are the lives' public ids, `past_lives`
    those of `plan.past` in its order."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    if len(past_lives) != len(plan.past):
        raise ValueError(f"the plan has {len(plan.past)} past lives, {len(past_lives)} ids were given")
    simulation = _Simulation(plan, scale)
    for number, ((spec, size, promoters), live) in enumerate(zip(plan.past, past_lives)):
        # Each past live draws from its own streams, into the same log.
        _Simulation(plan, scale, f"past{number}", simulation.log, simulation.order_ids).aired(
            live, spec, plan.people[:promoters], plan.pull[:promoters],
            max(1, round(FULL_RESERVATIONS * scale * size)))
    simulation.ended(ended_live)
    simulation.upcoming(upcoming_live)
    return simulation.log.events()


class _Simulation:
    def __init__(self, plan: Plan, scale: float, stream: str = "", log: _Log | None = None,
                 order_ids: set[str] | None = None):
        self.plan = plan
        self.scale = scale
        # Who does what comes from `rng`; when it happens on the calendar from `clock`. The
        # upcoming live's times follow the hour the demo is seeded at, and drawing them from
        # their own stream keeps every figure the same whatever that hour.
        self.rng = random.Random(f"liveloop-demo:{plan.seed}:events{stream}")
        self.clock = random.Random(f"liveloop-demo:{plan.seed}:clock{stream}")
        self.cast = Cast(self.rng)
        self.log = log if log is not None else _Log()
        self.order_ids: set[str] = order_ids if order_ids is not None else set()
        self.ended_viewers: list[Viewer] = []

    # ---- times ----

    def _when(self, start: datetime, end: datetime, day_weights: list[float] | None = None) -> datetime:
        """A time in [start, end) following the daily rhythm (and the days' weights if given)."""
        rng = self.clock
        span = (end - start).total_seconds()
        top_day = max(day_weights) if day_weights else 1.0
        top_hour = max(HOUR_WEIGHTS)
        while True:
            offset = rng.random() * span
            at = start + timedelta(seconds=offset)
            weight = HOUR_WEIGHTS[at.hour] / top_hour
            if day_weights:
                day = min(int(offset / span * len(day_weights)), len(day_weights) - 1)
                weight *= day_weights[day] / top_day
            if rng.random() < weight:
                return at

    def _posts(self, pull: list[float], start: datetime, end: datetime,
               day_weights: list[float] | None) -> list[list[datetime]]:
        """When each promoter shared the preview: busier promoters post more often."""
        top = max(pull)
        posts = []
        for weight in pull:
            count = 0 if weight == 0 else 1 + round(3 * math.sqrt(weight / top)) + self.rng.randrange(2)
            posts.append(sorted(self._when(start, end, day_weights) for _ in range(count)))
        return posts

    def _after_post(self, posts: list[datetime], deadline: datetime) -> datetime:
        """A reservation following one of the promoter's posts, within hours of it."""
        rng = self.clock
        for _ in range(8):
            post = rng.choice(posts)
            at = post + timedelta(seconds=rng.expovariate(1 / 10800))
            if at < deadline:
                return at
        post = min(posts)
        return post + (deadline - post) * rng.random()

    # ---- viewers ----

    def _touchpoints(self, count: int) -> list[str]:
        # Each promoter mostly works one channel (their community group, their moments…).
        return self.rng.choices(PROMOTER_TOUCHPOINTS, cum_weights=_TOUCHPOINT_CUM, k=count)

    def _touchpoint(self, favourite: str) -> str:
        if self.rng.random() < 0.75:
            return favourite
        return self.rng.choices(PROMOTER_TOUCHPOINTS, cum_weights=_TOUCHPOINT_CUM)[0]

    def _public_touchpoint(self) -> str:
        return "public" if self.rng.random() < 0.6 else "live"

    def _reserve(self, live: str, viewer: Viewer, at: datetime) -> None:
        self.log.add(at, "reservation", live, viewer.id, promoter=viewer.code,
                     touchpoint=viewer.touchpoint, attrs=viewer.attrs)

    def _reservations(self, live: str, people: list[Person], pull: list[float], count: int,
                      start: datetime, deadline: datetime, day_weights: list[float] | None,
                      returning: list[Viewer] | None = None) -> list[Viewer]:
        """`count` reservations through promoters plus the unattributed ones; the reservers
        still holding theirs at `deadline`."""
        rng = self.rng
        posts = self._posts(pull, start, deadline, day_weights)
        favourites = self._touchpoints(len(people))
        active = [i for i, weight in enumerate(pull) if weight > 0]
        weights = [pull[i] for i in active]
        chosen = rng.choices(active, weights=weights, k=count)
        used = set()
        holders = []
        unattributed = round(count * UNATTRIBUTED_SHARE)
        for n in range(count + unattributed):
            index = chosen[n] if n < count else None
            home = people[index].region if index is not None else None
            viewer = None
            if returning and rng.random() < RETURNING_VIEWER_SHARE:
                candidate = rng.choice(returning)
                if candidate.id not in used:
                    viewer = Viewer(candidate.id, candidate.attrs, "promoter")
            if viewer is None:
                viewer = Viewer(self.cast.openid(), self.cast.profile(home), "promoter")
            used.add(viewer.id)
            if index is not None:
                viewer.code = people[index].code
                viewer.touchpoint = self._touchpoint(favourites[index])
                at = self._after_post(posts[index], deadline)
            else:
                viewer.kind = "reserved"
                viewer.touchpoint = self._public_touchpoint()
                at = self._when(start, deadline, day_weights)
            self._reserve(live, viewer, at)
            if index is not None and rng.random() < SECOND_RESERVATION_SHARE:
                other = rng.choices(active, weights=weights)[0]
                again = at + (deadline - at) * self.clock.uniform(0.05, 0.95)
                self.log.add(again, "reservation", live, viewer.id, promoter=people[other].code,
                             touchpoint=self._touchpoint(favourites[other]), attrs=viewer.attrs)
            elif rng.random() < CANCEL_SHARE:
                cancel = at + (deadline - at) * self.clock.uniform(0.05, 0.95)
                self.log.add(cancel, "reservation_cancel", live, viewer.id,
                             touchpoint=viewer.touchpoint)
                continue
            holders.append(viewer)
        return holders

    # ---- the ended live ----

    def ended(self, live: str) -> None:
        plan = self.plan
        self.ended_viewers = self.aired(live, plan.ended, plan.people, plan.pull,
                                        max(1, round(FULL_RESERVATIONS * self.scale)))

    def aired(self, live: str, spec: LivePlan, people: list[Person], pull: list[float],
              count: int) -> list[Viewer]:
        """A live that went on air and ended: `count` reservations through `people`, the room,
        orders, refunds, captures. Returns its reservers and newcomers."""
        rng = self.rng
        start, end = spec.started_at, spec.ended_at
        holders = self._reservations(
            live, people, pull, count, spec.announced_at - timedelta(days=RESERVATION_DAYS),
            start - timedelta(minutes=1), DAY_WEIGHTS)

        show_rate = {person.code: rng.uniform(0.3, 0.5) for person in people}
        duration = (end - start).total_seconds()
        stays: list[tuple[datetime, datetime]] = []
        arrivals = []
        for viewer in holders:
            if rng.random() < show_rate.get(viewer.code, 0.38):
                # The reminder brings most reservers in the first minutes.
                arrivals.append((viewer, self._arrival(duration, early=0.55, mean=600)))
        public = round(len(arrivals) * PUBLIC_PER_RESERVER_ENTRY * rng.uniform(0.92, 1.08))
        for _ in range(public):
            viewer = Viewer(self.cast.openid(), self.cast.profile(None), "public",
                            touchpoint=self._public_touchpoint())
            arrivals.append((viewer, self._arrival(duration, early=0.3, mean=1200)))
        active = [i for i, weight in enumerate(pull) if weight > 0]
        weights = [pull[i] for i in active]
        for index in rng.choices(active, weights=weights, k=round(count * LIVE_SHARE_ENTRIES)):
            person = people[index]
            viewer = Viewer(self.cast.openid(), self.cast.profile(person.region), "shared",
                            code=person.code, touchpoint=rng.choice(["community", "moments"]))
            arrivals.append((viewer, self._arrival(duration, early=0.0, mean=1)))

        for viewer, offset in arrivals:
            self._watch(live, viewer, start + timedelta(seconds=offset), end, stays)
        self._online(live, spec, stays)
        newcomers = [viewer for viewer, _ in arrivals if viewer.kind in ("public", "shared")]
        return holders + newcomers

    def _arrival(self, duration: float, early: float, mean: float) -> float:
        rng = self.rng
        latest = duration - 180
        while True:
            offset = rng.expovariate(1 / mean) if rng.random() < early else rng.random() * duration
            if offset < latest:
                return offset

    def _stay(self) -> float:
        # Minutes to an hour: median 14 minutes, a long tail of people who stay for the show.
        return max(60.0, self.rng.lognormvariate(math.log(840), 0.9))

    def _watch(self, live: str, viewer: Viewer, enter: datetime, end: datetime,
               stays: list[tuple[datetime, datetime]]) -> None:
        rng, log = self.rng, self.log
        leave = min(enter + timedelta(seconds=self._stay()), end)
        log.add(enter, "room_enter", live, viewer.id, promoter=viewer.code,
                touchpoint=viewer.touchpoint, attrs=viewer.attrs)
        if rng.random() < LEAVE_REPORTED:
            log.add(leave, "room_leave", live, viewer.id)
        stays.append((enter, leave))
        stay = (leave - enter).total_seconds()
        if rng.random() < FOLLOW_SHARE:
            log.add(enter + timedelta(seconds=stay * rng.uniform(0.1, 1.0)), "follow", live,
                    viewer.id, touchpoint=viewer.touchpoint, attrs=viewer.attrs)
        bought = False
        if stay >= 60 and rng.random() < BUY_RATE[viewer.kind]:
            bought = True
            self._order(live, viewer, enter + timedelta(seconds=stay * rng.uniform(0.15, 0.6)))
            if rng.random() < REPEAT_ORDER_SHARE:
                self._order(live, viewer, enter + timedelta(seconds=stay * rng.uniform(0.65, 0.99)))
        if rng.random() < (CAPTURE_BUYER_SHARE if bought else CAPTURE_VIEWER_SHARE):
            self.log.add(self._soon_after(end, 5, 110), "capture", live, viewer.id,
                         attrs={**viewer.attrs, "channel": rng.choice(["wecom", "group"])})
        if rng.random() < REENTRY_SHARE:
            back = leave + timedelta(minutes=rng.uniform(2, 20))
            if back < end - timedelta(minutes=3):
                again = min(back + timedelta(seconds=self._stay()), end)
                log.add(back, "room_enter", live, viewer.id, promoter=viewer.code,
                        touchpoint=viewer.touchpoint, attrs=viewer.attrs)
                log.add(again, "room_leave", live, viewer.id)
                stays.append((back, again))

    def _soon_after(self, at: datetime, low: float, high: float) -> datetime:
        """`low`–`high` minutes after `at`, squeezed so as not to pass the plan's now (a demo
        seeded just after midnight has had little time since last night's live)."""
        room = (self.plan.now - at).total_seconds()
        high = min(high * 60, room)
        return at + timedelta(seconds=self.clock.uniform(min(low * 60, high / 2), high))

    def _order(self, live: str, viewer: Viewer, at: datetime) -> None:
        rng = self.rng
        items = rng.choices(PRICES, weights=PRICE_WEIGHTS, k=rng.choices(ITEMS, weights=ITEM_WEIGHTS)[0])
        total = sum(items)
        # Bundles get the room's 10% off.
        paid = total if len(items) == 1 else total - total // 10
        while True:
            order = str(rng.randrange(3_700_000_000_000_000_000, 3_800_000_000_000_000_000))
            if order not in self.order_ids:
                self.order_ids.add(order)
                break
        # The platform's sharer record names the promoter for most orders they brought.
        code = viewer.code if viewer.code and rng.random() < 0.8 else None
        self.log.add(at, "order_paid", live, viewer.id, promoter=code, order=order, amount=paid,
                     touchpoint=viewer.touchpoint, attrs=viewer.attrs)
        if rng.random() < REFUND_SHARE:
            if rng.random() < FULL_REFUND_SHARE:
                refund = paid
            elif len(items) > 1:
                refund = min(items)  # one item sent back
            else:
                refund = paid // 5 // 100 * 100  # a price-protection refund in whole yuan
            self.log.add(self._soon_after(at, 10, 240), "order_refund", live,
                         viewer.id, order=order, amount=refund)

    def _online(self, live: str, spec: LivePlan, stays: list[tuple[datetime, datetime]]) -> None:
        """The platform's concurrent-viewer count, sampled every minute on air."""
        start, end = spec.started_at, spec.ended_at
        enters = sorted(s for s, _ in stays)
        leaves = sorted(e for _, e in stays)
        account = self.plan.accounts[spec.account][1]
        minutes = int((end - start).total_seconds() // 60)
        for minute in range(1, minutes + 1):
            at = start + timedelta(minutes=minute)
            if at >= end:
                break
            inside = bisect.bisect_right(enters, at) - bisect.bisect_right(leaves, at)
            count = max(0, round(inside * self.rng.uniform(0.98, 1.02)))
            self.log.add(at, "online", live, account, count=count)

    # ---- the upcoming live ----

    def upcoming(self, live: str) -> None:
        plan = self.plan
        count = max(1, round(FULL_RESERVATIONS * self.scale * UPCOMING_SHARE))
        start = plan.now - timedelta(days=UPCOMING_RESERVATION_DAYS)
        self._reservations(live, plan.upcoming_people, plan.upcoming_pull, count, start, plan.now,
                           None, returning=self.ended_viewers)
