"""kill -9 in the middle of a settlement run leaves no trace of it, and settling again gives
the statements an uninterrupted run gives.

`settle_live` is one transaction. This test runs it as a real process against a file database
(SQLite; a fresh PostgreSQL database as well when LIVELOOP_DATABASE_URL names a server) on a live
with 400 promoters, teams with leaders (overrides), withheld tax and a clawback from an earlier
live waiting to be carried. Two organisations get the same data: the reference one is settled
without interruption; the other is killed with SIGKILL

- right after each write of the run (the run row with its true-up entries — none here, the
  estimates already equal the final amounts —, the statements, the carries, the statement lines,
  the audit entry): the process says on stdout that it has written and waits, so the kill lands
  inside the open transaction every time, whatever the machine's speed;
- then, unhooked, at points spread over the reference run's measured duration: these may land
  before, inside or after the commit, and every outcome is checked.

After each kill the run is either absent (no run, statement, line, settlement or carry entry,
audit entry; the clawback still waiting) or complete, and the money check (the one `liveloop
rebuild --check` runs) finds no difference. Settling again then succeeds and its statements,
lines and entries equal the reference's; `liveloop rebuild --check` is clean at the end.

This module is also the script the test runs in subprocesses (`python -m
tests.security.test_crash_settlement setup|settle|reports`), so the database is written and read
by the project's own code.
"""
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PROMOTERS = 400
TEAMS = 40
TARGET, REFERENCE = "crash-target", "crash-reference"
# What the run writes, in order: a kill lands right after each.
STAGES = ["entries", "statements", "carries", "lines", "audit"]
TIMED = (0.3, 0.7, 1.2)  # fractions of the reference run's duration


def _environment(tmp_path, url):
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LIVELOOP_")},
            "LIVELOOP_DATABASE_URL": url, "LIVELOOP_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "liveloop.settings", "PYTHONPATH": str(ROOT)}


def _script(env, *args) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.security.test_crash_settlement", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _settler(env, now, how) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-u", "-m", "tests.security.test_crash_settlement", "settle", TARGET,
                             now, how], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


class Reporter:
    """One process answering `_report` (below) per request, sparing a Django start per kill."""

    def __init__(self, env):
        self.process = subprocess.Popen([sys.executable, "-u", "-m", "tests.security.test_crash_settlement",
                                         "reports"], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __call__(self, slug) -> dict:
        self.process.stdin.write(slug + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, self.process.stderr.read()[-3000:]
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(30)


def _kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def _absent(report, before) -> bool:
    return report["trace"] == before["trace"] and report["waiting"] == before["waiting"]


def _complete(report, reference) -> bool:
    return report["settled"] == reference["settled"] and report["trace"] == reference["trace"] \
        and report["waiting"] == reference["waiting"]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_kill_9_during_a_settlement_run_is_all_or_nothing(engine, tmp_path, request):
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'settle.sqlite3'}"
    else:
        if not os.environ.get("LIVELOOP_DATABASE_URL", "").startswith("postgres"):
            pytest.skip("LIVELOOP_DATABASE_URL does not name a PostgreSQL server")
        url = request.getfixturevalue("postgres_database")
    env = _environment(tmp_path, url)
    _script(env, "setup")
    now = datetime.now(timezone.utc).isoformat()

    report, settlers = Reporter(env), []
    try:
        before = report(TARGET)
        assert before["trace"] == {"runs": 0, "statements": 0, "lines": 0, "settlement": 0, "carry": 0,
                                   "audit": 1}
        assert before["waiting"] and not before["differences"]
        reference = _script(env, "settle", REFERENCE, now, "straight")
        assert reference["trace"]["statements"] >= PROMOTERS and reference["trace"]["carry"] == 2
        # Both clawbacks went onto statements; P0000's shortfall waits for its next statement.
        assert [code for code, kind, amount in reference["waiting"] if kind == "carry" and amount < 0] == ["P0000"]
        assert len(reference["waiting"]) == 1 and not reference["differences"]

        outcomes = []
        for stage in STAGES:
            settler = _settler(env, now, f"hold:{stage}")
            settlers.append(settler)
            line = settler.stdout.readline()
            assert line.startswith(f"written {stage}"), line + settler.stderr.read()[-3000:]
            _kill(settler)
            after = report(TARGET)
            assert _absent(after, before), (stage, after["trace"])
            assert not after["differences"], after["differences"][:5]
            outcomes.append(f"{stage}: nothing")

        settled = False
        for fraction in TIMED:
            settler = _settler(env, now, "go")
            settlers.append(settler)
            assert settler.stdout.readline().startswith("go")
            time.sleep(reference["seconds"] * fraction)
            _kill(settler)
            after = report(TARGET)
            assert not after["differences"], after["differences"][:5]
            if _complete(after, reference):
                outcomes.append(f"{fraction:.2f}: complete")
                settled = True
                break
            assert _absent(after, before), (fraction, after["trace"])
            outcomes.append(f"{fraction:.2f}: nothing")
    finally:
        report.close()
        for settler in settlers:  # left waiting only when an assertion failed before its kill
            if settler.poll() is None:
                _kill(settler)

    if not settled:
        after = _script(env, "settle", TARGET, now, "straight")
        assert _complete(after, reference), after["trace"]
    check = subprocess.run([sys.executable, "-m", "liveloop.cli", "rebuild", "--check"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    print(f"\n[security] settlement crash ({engine}): {reference['trace']['statements']} statements in "
          f"{reference['seconds']:.2f} s; kills: {', '.join(outcomes)}; settled again identically")


# The script side: runs in the subprocesses, with the environment above.

def _django():
    import django

    django.setup()


def _setup() -> dict:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    base = (datetime.now(timezone.utc) - timedelta(days=40)).replace(microsecond=0)
    for slug in (TARGET, REFERENCE):
        _world(slug, base)
    return {"ok": True}


def _world(slug, base) -> None:
    """An organisation whose second live, ended 18 days ago, is ready to settle."""
    from liveloop.events.ingest import ingest
    from liveloop.lives.models import Account
    from liveloop.actions.lives import create_live, end_live, start_live
    from liveloop.money.plans import save_plan
    from liveloop.money.settlement import settle_live
    from liveloop.orgs.models import Organisation
    from liveloop.orgs.services import create_org
    from liveloop.promoters.models import Promoter, Team
    from liveloop.actions.promoters import NewPromoter, enrol

    org, _ = create_org(f"结算崩溃 {slug}", slug=slug)
    Organisation.objects.filter(pk=org.pk).update(withhold_tax=True)
    org.refresh_from_db()
    account = Account.objects.create(org=org, name="官方号")
    save_plan(org, None, name="门店方案", make_default=True, override_levels=1,
              fields={"tiers": ((300_000, 600), (None, 1000)), "reservation_bounty_fen": 10,
                      "new_buyer_bounty_fen": 200, "cap_fen": 500_000, "override_bps": (100,)})

    def sale(live, id, viewer, amount, code, at):
        return {"id": id, "type": "order_paid", "live": live.public_id, "viewer": viewer, "order": id,
                "amount": amount, "at": at.isoformat(), **({"promoter": code} if code else {})}

    def refund(live, id, viewer, amount, at):
        return {"id": f"{id}-r", "type": "order_refund", "live": live.public_id, "viewer": viewer, "order": id,
                "amount": amount, "at": at.isoformat()}

    people = [NewPromoter(name=f"推广员{n}", code=f"P{n:04d}", team=f"门店{n % TEAMS:02d}") for n in range(PROMOTERS)]
    # An earlier live, settled; refunds after its settlement leave clawbacks for the next statements:
    # P0000's is larger than what it earns next, so its statement carries a shortfall.
    first = create_live(org, account=account, title="第一场", announced_at=base)
    enrol(first.programme, people[:3])
    start_live(first, base)
    orders = [sale(first, f"first-{n}", f"F{n}", 200_000 if n == 0 else 20_000, f"P{n:04d}",
                   base + timedelta(minutes=5 + n)) for n in range(3)]
    assert ingest(org, orders, now=base + timedelta(hours=1)).accepted == 3
    end_live(first, base + timedelta(hours=2))
    first.refresh_from_db()
    settle_live(org, first, now=base + timedelta(days=8))
    late = base + timedelta(days=9)
    assert ingest(org, [refund(first, "first-0", "F0", 200_000, late), refund(first, "first-2", "F2", 10_000, late)],
                  now=late).accepted == 2

    start = base + timedelta(days=20)
    live = create_live(org, account=account, title="双十二专场", announced_at=start)
    enrol(live.programme, people)
    for team in Team.objects.for_org(org):
        team.leader = Promoter.objects.for_org(org).filter(team=team).order_by("code").first()
        team.save()
    start_live(live, start)
    events = []
    for n in range(PROMOTERS):
        code = f"P{n:04d}"
        at = start + timedelta(minutes=1 + n % 110)
        for v in range(n % 4 + 1):
            viewer = f"V{n:04d}-{v}"
            events.append({"id": f"res-{viewer}", "type": "reservation", "live": live.public_id, "viewer": viewer,
                           "promoter": code, "at": at.isoformat()})
        if n == 0:
            continue  # P0000 sells nothing here: its clawback outweighs its bounties
        amount = 5_000 + (n * 7_919) % (60_000 if n % 50 else 600_000)  # a few reach the upper tier
        events.append(sale(live, f"o{n}", f"V{n:04d}-0", amount, None, at + timedelta(minutes=1)))
        if n % 5 == 0:
            events.append(refund(live, f"o{n}", f"V{n:04d}-0", amount // 3, at + timedelta(minutes=3)))
    for chunk in range(0, len(events), 1000):
        result = ingest(org, events[chunk:chunk + 1000], now=start + timedelta(hours=3))
        assert not result.rejected, result.rejected[:3]
    end_live(live, start + timedelta(hours=2))


def _report(slug) -> dict:
    from liveloop.events import rebuild as rebuilding
    from liveloop.lives.models import Live
    from liveloop.money import check as money_check
    from liveloop.money.models import Entry, SettlementRun, Statement, StatementLine
    from liveloop.money.settlement import carried_entries
    from liveloop.orgs.models import AuditEntry, Organisation
    from liveloop.promoters.models import Promoter, Team

    org = Organisation.objects.get(slug=slug)
    live = Live.objects.for_org(org).get(title="双十二专场")
    codes = dict(Promoter.objects.for_org(org).values_list("pk", "code"))
    teams = dict(Team.objects.for_org(org).values_list("pk", "name"))
    runs = SettlementRun.objects.for_org(org).filter(live=live)
    entries = Entry.objects.for_org(org).filter(run__live=live)
    trace = {"runs": runs.count(),
             "statements": Statement.objects.for_org(org).filter(run__live=live).count(),
             "lines": StatementLine.objects.for_org(org).filter(statement__run__live=live).count(),
             "settlement": entries.filter(kind=Entry.SETTLEMENT).count(),
             "carry": entries.filter(kind=Entry.CARRY).count(),
             "audit": AuditEntry.objects.for_org(org).filter(action="settlement.run").count()}
    # Ids and the run's number differ between the organisations: compare by promoter code.
    settled = []
    for statement in (Statement.objects.for_org(org).filter(run__live=live).select_related("promoter")
                      .order_by("promoter__code")):
        lines = [[line.label, line.amount, line.figures,
                  [{**part, "team": teams[part["team"]]} if "team" in part else part for part in line.breakdown or []],
                  line.entry.kind if line.entry else None]
                 for line in statement.lines.select_related("entry").order_by("pk")]
        settled.append([statement.promoter.code, statement.number.split("-", 1)[1], statement.month,
                        statement.gross, statement.tax, statement.payable, statement.state, lines])
    ledger = sorted([codes[p], kind, amount] for p, kind, amount in
                    Entry.objects.for_org(org).filter(run__live=live).values_list("promoter_id", "kind", "amount"))
    waiting = sorted([codes[e.promoter_id], e.kind, e.amount] for e in carried_entries(org, list(codes)))
    snapshots = money_check.Snapshots(org)
    attribution, problems = rebuilding.replay(org, stops=snapshots.stops)
    problems += money_check.differences(org, attribution, snapshots)
    return {"trace": trace, "settled": [settled, ledger], "waiting": waiting, "differences": problems}


def _settle(slug, now, how) -> dict:
    """how: "straight"; "go" (say so, then settle unhooked); "hold:<stage>" (stop after that write)."""
    from liveloop.lives.models import Live
    from liveloop.money import settlement
    from liveloop.money.models import Entry, Statement, StatementLine
    from liveloop.orgs.models import Organisation

    org = Organisation.objects.get(slug=slug)
    live = Live.objects.for_org(org).get(title="双十二专场")
    if how.startswith("hold:"):
        _hold_after(how.removeprefix("hold:"), Entry, Statement, StatementLine, settlement)
    elif how == "go":
        print("go", flush=True)
    began = time.perf_counter()
    settlement.settle_live(org, live, now=datetime.fromisoformat(now))
    seconds = time.perf_counter() - began
    return {**_report(slug), "seconds": seconds}


def _hold_after(stage, Entry, Statement, StatementLine, settlement) -> None:
    """Make the run stop inside its transaction right after a given write, and say so."""

    def hold(name, written):
        if name == stage:
            print(f"written {name}: {written}", flush=True)
            sys.stdin.readline()  # until killed
            raise SystemExit("the test did not kill the run")

    def wrap(manager, names):
        original, writes = manager.bulk_create, iter(names)

        def bulk_create(objects, *args, **kwargs):
            created = original(objects, *args, **kwargs)
            hold(next(writes, None), len(created))
            return created
        manager.bulk_create = bulk_create

    # settle_live writes settlement entries, statements, carries, lines, then the audit entry.
    wrap(Entry.objects, ["entries", "carries"])
    wrap(Statement.objects, ["statements"])
    wrap(StatementLine.objects, ["lines"])
    record = settlement.audit.record

    def audited(*args, **kwargs):
        entry = record(*args, **kwargs)
        hold("audit", 1)
        return entry
    settlement.audit.record = audited


def _snapshot_report(slug) -> dict:
    """`_report` of what a kill left behind, read in one snapshot.

    A killed client's COMMIT may still be running on the PostgreSQL server: the server finishes
    a commit it has received whatever became of the client. Counted query by query under READ
    COMMITTED while it lands, the run showed as missing in one count and present in the next
    (runs 0, statements 400) although the commit itself is atomic. So on PostgreSQL the report
    first waits until the killed client's session has ended on the server (the database is
    this test's own: any other session is the settler's), then reads in one REPEATABLE READ
    transaction, which sees the run wholly or not at all.
    """
    from django.db import connection, transaction

    if connection.vendor == "postgresql":
        deadline = time.monotonic() + 60
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND pid <> pg_backend_pid()")
                if not cursor.fetchone()[0] or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _report(slug)


def _reports() -> None:
    for slug in sys.stdin:
        print(json.dumps(_snapshot_report(slug.strip()), ensure_ascii=False, default=str), flush=True)


if __name__ == "__main__":
    _django()
    command, *rest = sys.argv[1:]
    if command == "reports":
        _reports()
    else:
        result = {"setup": _setup, "settle": _settle}[command](*rest)
        print(json.dumps(result, ensure_ascii=False, default=str))
