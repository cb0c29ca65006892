"""How long settling a live takes, and how much memory: a live with 1,000 promoters in 20
stores (leaders earn a 1% override) and N orders, on a fresh database per engine.

    .venv/bin/python bench/settle.py                                  # 1,000,000 orders, both engines
    .venv/bin/python bench/settle.py --orders 20000 --engines sqlite  # smoke run

Settlement reads only the derived tables (orders, per-promoter figures), so the bench writes
those directly — as ingest would have left them — rather than ingesting the log first: what is
timed is `settle_live` alone (figures, the plan, the ledger's true-up entries, one statement per
promoter with tax). Its baseline in the same run is the engine reading the same orders
(`SELECT viewer, promoter, paid, refunded`) with nothing done to them.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import machine, run_each, run_engine, write_report  # noqa: E402

PROMOTERS, STORES = 1_000, 20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--engine-run", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine_run:
        return engine_run(args)
    report = {"started": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "orders": args.orders,
              "machine": machine(), "engines": {}}
    failed = run_each(args.engines.split(","), report, f"settling a live of {args.orders:,} orders",
                      lambda engine: run_engine(engine, Path(__file__).resolve(),
                                                ["--orders", str(args.orders)], keep=args.keep,
                                                prefix="liveloop-settle-bench"))
    print(f"\n{'engine':<11} {'orders':>10} {'settle s':>9} {'read s':>7} {'ratio':>6} "
          f"{'statements':>10} {'peak RSS MB':>12} {'before':>7}")
    for engine, f in report["engines"].items():
        if "error" not in f:
            print(f"{engine:<11} {f['orders']:>10,} {f['settle_seconds']:>9} {f['read_seconds']:>7} "
                  f"{f['ratio']:>6} {f['statements']:>10,} {f['peak_rss_mb']:>12} {f['rss_before_mb']:>7}")
    write_report("settle", report)
    return 1 if failed else 0


def engine_run(args) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from liveloop.analytics.models import PromoterStats
    from liveloop.demo.money import DEMO_RULES
    from liveloop.lib.bulk import insert_rows
    from liveloop.events.models import Order
    from liveloop.lives.models import Account
    from liveloop.actions.lives import create_live, end_live, start_live
    from liveloop.money.models import Statement
    from liveloop.money.plans import save_plan
    from liveloop.money.settlement import settle_live
    from liveloop.orgs.services import create_org
    from liveloop.promoters.models import Promoter, Team
    from liveloop.actions.promoters import NewPromoter, enrol

    call_command("migrate", interactive=False, verbosity=0)
    rng = random.Random(7)
    org, _ = create_org("结算基准品牌")
    org.withhold_tax = True
    org.save()
    account = Account.objects.create(org=org, name="基准官方号")
    announced = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=10)
    live = create_live(org, account=account, title="结算基准", announced_at=announced)
    stores = Team.objects.bulk_create([Team(org=org, name=f"门店{n:02d}") for n in range(STORES)])
    enrol(live.programme, [NewPromoter(name=f"推广员{n}", code=f"PS{n:04d}") for n in range(PROMOTERS)])
    promoters = list(Promoter.objects.for_org(org).order_by("pk").values_list("pk", flat=True))
    for index, pk in enumerate(promoters):
        Promoter.objects.filter(pk=pk).update(team=stores[index % STORES])
    for index, store in enumerate(stores):
        Team.objects.filter(pk=store.pk).update(leader_id=promoters[index])
    save_plan(org, None, name="基准方案", fields=dict(DEMO_RULES), make_default=True, override_levels=1)
    start_live(live, at=announced)
    end_live(live, at=announced + timedelta(hours=3))
    live.refresh_from_db()

    # The derived tables as ingest would leave them: Zipf-ish promoters, buyers who come back.
    weights = [1 / (rank + 1) ** 0.9 for rank in range(PROMOTERS)]
    credited = rng.choices(promoters, weights=weights, k=args.orders)
    buyers = max(1, args.orders * 3 // 10)
    totals: dict[int, list[int]] = {pk: [0, 0, 0] for pk in promoters}
    # Every NOT NULL column of the order table (no WeChat 推客 commission on these orders).
    columns = ("org_id", "order", "live_id", "viewer", "promoter_id", "paid", "refunded", "wechat", "wechat_paid")
    with transaction.atomic():
        rows = []
        for n, promoter in enumerate(credited):
            paid = rng.randrange(3_900, 129_900)
            refunded = paid if rng.random() < 0.04 else 0
            rows.append((org.pk, f"B{n:09d}", live.pk, f"o-buyer-{rng.randrange(buyers):07d}", promoter,
                         paid, refunded, "", 0))
            t = totals[promoter]
            t[0] += 1
            t[1] += paid
            t[2] += refunded
            if len(rows) == 50_000:
                insert_rows(Order, columns, rows)
                rows = []
        insert_rows(Order, columns, rows)
        for pk, (orders, gmv, refunded) in totals.items():
            PromoterStats.objects.filter(org=org, live=live, promoter_id=pk).update(
                orders=orders, buyers=orders, gmv=gmv, refunded=refunded, reservations=orders * 3)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # autovacuum is off on these machines (docs/performance.md)

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT viewer, promoter_id, paid, refunded FROM events_order WHERE org_id = %s "
                       "AND live_id = %s", [org.pk, live.pk])
        while cursor.fetchmany(5000):
            pass
    read = time.perf_counter() - started

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    run = settle_live(org, live, now=live.ended_at + timedelta(days=8))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {"orders": args.orders, "settle_seconds": round(seconds, 2), "read_seconds": round(read, 2),
               "ratio": round(seconds / read, 1) if read else None,
               "statements": Statement.objects.filter(run=run).count(),
               "peak_rss_mb": round(peak / 1024, 1), "rss_before_mb": round(before / 1024, 1)}
    print(json.dumps(figures), flush=True)
    Path(args.out).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
