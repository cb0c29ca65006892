"""The demo's agency: a live-commerce agency (服务商) running the lives of two client brands, so
its monthly scorecards (agency/scorecards/) have real figures to compare.

Each client brand is made as the demo brand is — organisation, accounts, stores, promoters, lives
through the operator's services — and its lives are simulated by the same `_Simulation.aired` and
fed through ingest with their start and end at their moments (seed._feed). They are smaller than
山茶集's (hundreds of reservations a live, not tens of thousands), which keeps `make demo` quick,
and fall in the **last full month** in Shanghai, the month the scorecards page opens on.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from liveloop.demo.cast import Cast, zipf_pull
from liveloop.demo.simulator import CHINA, LivePlan, Plan, _Simulation
from liveloop.lives.models import Account, Live
from liveloop.actions.lives import create_live
from liveloop.orgs.models import Member, Organisation
from liveloop.orgs.services import add_member, create_org
from liveloop.promoters.models import Programme, Team
from liveloop.actions.promoters import NewPromoter, enrol

AGENCY_NAME = "星河直播服务商"
AGENCY_SLUG = "demo-agency"
AGENCY_USER = "agency"


@dataclass(frozen=True)
class Client:
    name: str
    slug: str
    accounts: tuple[str, ...]
    promoters: int
    # (day of the month, Shanghai hour, account index, reservations at scale 1, title)
    lives: tuple[tuple[int, int, int, int, str], ...]


CLIENTS = (
    Client("云雾茶舍", "demo-tea", ("云雾茶舍官方号", "云雾茶舍茶课堂"), 30, (
        (6, 20, 0, 600, "春茶品鉴会 · 明前龙井"),
        (13, 20, 1, 400, "茶课堂 · 冷泡茶的三种做法"),
        (20, 20, 0, 800, "会员日 · 白茶老友价"),
    )),
    Client("小鹿童装", "demo-kids", ("小鹿童装旗舰店", "小鹿童装妈妈团"), 24, (
        (9, 19, 0, 500, "换季上新 · 童装羽绒服"),
        (16, 19, 1, 300, "妈妈团 · 开学穿搭"),
        (23, 19, 0, 600, "周年庆 · 全场两件八折"),
    )),
)


@dataclass
class Agency:
    org: Organisation
    clients: list[Organisation]
    lives: list[Live]
    events: int


def last_full_month(now: datetime) -> date:
    """The first day of the month before `now`'s, in Shanghai: the scorecards' default month."""
    first = now.astimezone(CHINA).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def seed_agency(seed: int, scale: float, now: datetime, password: str, feed) -> Agency:
    """The agency, its owner (`agency` / `password`) and its two client brands with their lives.
    `feed(org, events, aired)` ingests one brand's events (seed._feed)."""
    agency, _ = create_org(AGENCY_NAME, slug=AGENCY_SLUG, kind=Organisation.AGENCY)
    add_member(agency, AGENCY_USER, Member.OWNER, password=password)
    month = last_full_month(now)
    clients, lives, events = [], [], 0
    for number, client in enumerate(CLIENTS):
        rng = random.Random(f"liveloop-demo:{seed}:agency{number}")
        org, _ = create_org(client.name, slug=client.slug, agency=agency)
        accounts = [(name, "sph" + "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=8)))
                    for name in client.accounts]
        account_rows = [Account.objects.create(org=org, name=name, channels_id=channels_id)
                        for name, channels_id in accounts]
        people = Cast(rng).people(client.promoters)
        Team.objects.bulk_create([Team(org=org, name=store, region=region)
                                  for store, region in sorted({(p.store, p.region) for p in people})])
        pull = zipf_pull([rng.random() for _ in people], silent=0.1)
        plan = Plan(seed, now, accounts, people, pull, [], [], None, None)
        simulation = _Simulation(plan, scale, f"agency{number}")
        aired = []
        for day, hour, account, reservations, title in client.lives:
            announced = datetime.combine(month.replace(day=day), time(hour), CHINA)
            started = announced + timedelta(minutes=rng.randint(0, 5), seconds=rng.randrange(60))
            spec = LivePlan(f"{client.name} {title}", account, announced, started,
                            started + timedelta(minutes=rng.randint(60, 100), seconds=rng.randrange(60)))
            live = create_live(org, account=account_rows[account], title=spec.title, announced_at=announced)
            enrol(live.programme, [NewPromoter(name=p.name, phone=p.phone, team=p.store, code=p.code)
                                   for p in people])
            simulation.aired(live.public_id, spec, people, pull, max(20, round(reservations * scale)))
            aired.append((live, spec))
        Programme.objects.for_org(org).update(is_open=False)  # recruiting closed as each went on air
        brand_events = simulation.log.events()
        feed(org, brand_events, aired)
        events += len(brand_events)
        clients.append(org)
        lives += [live for live, _ in aired]
    for live in lives:
        live.refresh_from_db()
    return Agency(agency, clients, lives, events)
