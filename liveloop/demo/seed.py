"""`liveloop demo`: a brand with past lives, last night's and an upcoming one, seeded through ingest.

The organisation, accounts, stores, lives and programmes are created with the same services
an operator's actions use; every fact (reservations, entries, orders…) goes through
`liveloop.events.ingest.ingest` in time order, exactly like a producer's batches, and the
lives go on and off air with `start_live`/`end_live` at their moment in that stream. The weekly
lives before last night's are settled as finance would have done it, but the newest, whose
refund window has passed, is left for the newcomer to settle (liveloop/demo/money.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from django.db import transaction

from liveloop.analytics.queries import live_summary
from liveloop.demo.agency import AGENCY_USER, Agency, seed_agency
from liveloop.demo.cast import BRAND
from liveloop.demo.money import settle_past, setup_money
from liveloop.demo.shop import ensure_shop
from liveloop.demo.simulator import LivePlan, Plan, make_plan, simulate
from liveloop.events.ingest import IngestResult, ingest
from liveloop.lib.numbers import yuan
from liveloop.lives.models import Account, Live
from liveloop.actions.lives import create_live, end_live, start_live
from liveloop.money.models import SettlementRun
from liveloop.orgs.models import Member, Organisation
from liveloop.orgs.services import add_member, create_org
from liveloop.promoters.models import Programme, Team
from liveloop.actions.promoters import NewPromoter, enrol

DEMO_SLUG = "demo"
DEMO_USER = "demo"
DEMO_PASSWORD = "liveloop-demo"
BATCH = 5000


class DemoError(RuntimeError):
    """The demo's own events were not all accepted: a bug in the simulator or in ingest."""


@dataclass
class Demo:
    org: Organisation
    ended: Live
    upcoming: Live
    past: list[Live]
    events: int
    seconds: float
    agency: Agency | None = None


def seed_demo(seed: int = 1, scale: float = 1.0, echo: Callable[[str], None] = print,
              now: datetime | None = None) -> Demo:
    """Create the demo organisation; same seed, same figures (times follow today's date)."""
    clock = time.monotonic()
    plan = make_plan(seed, now or datetime.now(timezone.utc))
    # All or nothing: a failed seeding leaves no half demo behind for `liveloop demo` to keep.
    with transaction.atomic():
        org, ended, upcoming, past = _create(plan)
        ensure_shop(org, upcoming)  # the connected shop `liveloop demo-shop` sells through
        events = simulate(plan, scale, ended.public_id, upcoming.public_id, [p.public_id for p in past])
        _feed(org, events, [(live, spec) for live, (spec, _, _) in zip(past, plan.past)]
              + [(ended, plan.ended)])
        settle_past(org, past)
        agency = seed_agency(seed, scale, plan.now, DEMO_PASSWORD, _feed)
    for live in (ended, upcoming, *past):
        live.refresh_from_db()
    demo = Demo(org, ended, upcoming, past, len(events) + agency.events, time.monotonic() - clock, agency)
    _summary(demo, plan, echo)
    return demo


def _create(plan: Plan) -> tuple[Organisation, Live, Live, list[Live]]:
    org, _ = create_org(BRAND, slug=DEMO_SLUG)
    add_member(org, DEMO_USER, Member.OWNER, password=DEMO_PASSWORD)
    accounts = [Account.objects.create(org=org, name=name, channels_id=channels_id)
                for name, channels_id in plan.accounts]
    Team.objects.bulk_create([Team(org=org, name=name, region=region) for name, region in plan.stores])
    lives = []
    programmes = [(spec, plan.people[:promoters]) for spec, _, promoters in plan.past]
    programmes += [(plan.ended, plan.people), (plan.upcoming, plan.upcoming_people)]
    for spec, people in programmes:
        live = create_live(org, account=accounts[spec.account], title=spec.title,
                           announced_at=spec.announced_at)
        # enrol finds returning promoters by their code and phone, as it would for a real signup.
        enrol(live.programme, [NewPromoter(name=p.name, phone=p.phone, team=p.store, code=p.code)
                               for p in people])
        lives.append(live)
    setup_money(org)
    # The ended lives stopped recruiting when they went on air.
    Programme.objects.for_org(org).filter(live__in=lives[:-1]).update(is_open=False)
    return org, lives[-2], lives[-1], lives[:-2]


def _feed(org: Organisation, events: list[dict], aired: list[tuple[Live, LivePlan]]) -> None:
    from tqdm import tqdm

    transitions = sorted([(spec.started_at, start_live, live) for live, spec in aired]
                         + [(spec.ended_at, end_live, live) for live, spec in aired],
                         key=lambda item: item[0])
    total = IngestResult()
    batch: list[dict] = []
    offset = 0

    def flush():
        nonlocal offset
        if batch:
            total.add(ingest(org, batch, source="demo"), offset)
            offset += len(batch)
            bar.update(len(batch))
            batch.clear()

    with tqdm(total=len(events), unit="ev", desc="demo", disable=None) as bar:
        for event in events:
            at = datetime.fromisoformat(event["at"])
            while transitions and at >= transitions[0][0]:
                flush()
                moment, change, live = transitions.pop(0)
                change(live, at=moment)
            batch.append(event)
            if len(batch) == BATCH:
                flush()
        flush()
    for moment, change, live in transitions:
        change(live, at=moment)
    if total.rejected or total.notes or total.duplicates or total.accepted != len(events):
        problems = [f"{r['id']}: {r['error']}" for r in total.rejected[:5]]
        problems += [f"{n['id']}: {n['note']}" for n in total.notes[:5]]
        raise DemoError(f"the demo's events were not all accepted cleanly (accepted {total.accepted} "
                        f"of {len(events)}, duplicates {total.duplicates}): " + "; ".join(problems))


def _summary(demo: Demo, plan: Plan, echo: Callable[[str], None]) -> None:
    ended = live_summary(demo.ended)
    upcoming = live_summary(demo.upcoming)
    rate = demo.events / demo.seconds if demo.seconds else 0
    echo(f"演示品牌「{demo.org.name}」({demo.org.slug})：{len(plan.accounts)} 个直播账号，"
         f"{len(plan.stores)} 家门店，{len(plan.people):,} 名推广员")
    for live in demo.past:
        figures = live_summary(live)
        settled = "已结算" if SettlementRun.objects.for_org(demo.org).filter(live=live).exists() \
            else "退款期已过，待结算（在 /money/ 点“结算”）"
        echo(f"  往期「{live.title}」 预约 {figures['reservations']:,} · 进房 {figures['entered']:,} · "
             f"成交 {yuan(figures['gmv'])} · {settled}")
    echo(f"  已结束「{demo.ended.title}」 预约 {ended['reservations']:,} · 进房 {ended['entered']:,} · "
         f"订单 {ended['orders']:,} · 成交 {yuan(ended['gmv'])} · 退款 {yuan(ended['refunded'])} · "
         f"最高在线 {ended['peak_online']:,}")
    echo(f"  待开播「{demo.upcoming.title}」 {len(plan.upcoming_people):,} 名推广员 · "
         f"预约 {upcoming['reservations']:,}")
    if demo.agency is not None:
        clients = "、".join(f"「{client.name}」{sum(live.org_id == client.pk for live in demo.agency.lives)} 场"
                           for client in demo.agency.clients)
        echo(f"  服务商「{demo.agency.org.name}」({demo.agency.org.slug}，登录 {AGENCY_USER}) 的客户品牌："
             f"{clients}（都在上个月，成绩单默认显示的月份）")
    echo(f"已导入 {demo.events:,} 条事件，用时 {demo.seconds:.1f} 秒（{rate:,.0f} 条/秒）")
