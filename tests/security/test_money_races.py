"""Nothing is paid twice (issue 14): every money action, fired by several finance members at the
same moment, happens once — on SQLite (a file database) and on PostgreSQL (a database of its own).

The clients are threads of one process, each with its own database connection (Django's
connections are per thread) and its own signed-in session, going through the real pages
(middleware, views, messages) with a barrier so their POSTs leave together. On PostgreSQL their
transactions really overlap; SQLite takes one writer at a time (BEGIN IMMEDIATE), where the
danger is a statement read before the transaction and acted on after someone else moved it.

Each race checks the database (one run per live, one approval per statement, each statement in
at most one open batch and paid once, one adjustment per form key) and every answer: a page
with a message, never a 500. The races, in the order a live's money moves:

- settle the live ×6; approve one statement ×6; approve the run ×6;
- mark one statement paid by hand ×6 (six different references);
- create a payout batch ×6 (the reproduction of issue 14);
- upload the batch's results file ×6 (half paid, half failed);
- retry one failed statement ×6; then retry the rest, and mark one of them paid by hand ×3
  while three others create a batch;
- add an adjustment ×6 with the same form key;
- release a statement held by the payout ceiling ×3 while three others make a batch.

The module is also the script the test runs in a subprocess (`python -m
tests.security.test_money_races race`), so the database is set up by the project's own code.
"""
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 6
PROMOTERS = 20


def _environment(tmp_path, url):
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LIVELOOP_")},
            "LIVELOOP_DATABASE_URL": url, "LIVELOOP_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "liveloop.settings", "PYTHONPATH": str(ROOT)}


def _statuses(answers) -> list:
    return sorted(a["status"] for a in answers)


def _said(answers) -> list:
    return [m for a in answers for m in a["messages"]]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_every_money_action_from_six_clients_at_once_happens_once(engine, tmp_path, request):
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'races.sqlite3'}"
    else:
        if not os.environ.get("LIVELOOP_DATABASE_URL", "").startswith("postgres"):
            pytest.skip("LIVELOOP_DATABASE_URL does not name a PostgreSQL server")
        url = request.getfixturevalue("postgres_database")
    env = _environment(tmp_path, url)
    done = subprocess.run([sys.executable, "-m", "tests.security.test_money_races", "race"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-5000:]
    races = json.loads(done.stdout.strip().splitlines()[-1])
    for name, race in races.items():
        # Nobody gets a 500: every loser has a page with a message (or a form saying why).
        assert all(a["status"] in (200, 302, 400, 409) for a in race["answers"]), (name, race["answers"])

    settle = races["settle"]
    assert settle["runs"] == 1 and settle["statements"] == PROMOTERS
    assert settle["settlement_audit"] == 1
    assert _statuses(settle["answers"]) == [302] * CLIENTS
    assert sum(a["location"].startswith("/money/runs/") for a in settle["answers"]) == 1
    assert _said(settle["answers"]).count("这场直播已结算") == CLIENTS - 1

    one = races["approve_one"]
    assert one["state"] == "settled" and one["approve_audit"] == 1
    assert sum("刚被他人同时更改" in m or "不能这样更改" in m for m in _said(one["answers"])) == CLIENTS - 1

    run = races["approve_run"]
    assert run["states"] == {"settled": PROMOTERS}
    assert run["approve_audit_per_statement"] == [1]  # every statement approved exactly once
    assert _said(run["answers"]).count(f"已审核 {PROMOTERS - 1} 张结算单。") == 1

    paid = races["mark_paid"]
    assert paid["state"] == "paid" and paid["paid_audit"] == 1
    assert paid["reference"] in [f"WX-{n}" for n in range(CLIENTS)]
    assert paid["reference"] == paid["audited_reference"]  # the reference kept is the one audited

    batch = races["create_batch"]
    assert batch["batches"] == 1 and batch["items"] == PROMOTERS - 1  # all but the one paid by hand
    assert batch["most_items_per_statement"] == 1 and batch["open_items_match"]
    assert sum(a["location"].startswith("/money/batches/") and a["location"] != "/money/batches/"
               for a in batch["answers"]) == 1
    assert _said(batch["answers"]).count("没有待打款的已结算结算单。") == CLIENTS - 1

    results = races["results"]
    assert results["states"] == {"paid": PROMOTERS // 2, "failed": PROMOTERS // 2}  # the one by hand + 9, 10
    assert results["paid_audit_per_statement"] == [1] and results["results_audit"] == 1
    assert results["waiting_in_a_batch"] == 0
    assert _statuses(results["answers"]).count(302) == 1

    retry = races["retry"]
    assert retry["state"] == "settled" and retry["retry_audit"] == 1

    mixed = races["paid_or_batched"]
    # The statement is either paid by hand and in no batch, or in the new batch and not paid.
    assert mixed["outcome"] in (["paid", None, 0], ["settled", mixed["new_batch"], 1]), mixed
    assert (mixed["batches"] == 2 or mixed["outcome"][0] == "paid") and mixed["open_items_match"] and mixed["twice_without_failing"] == []
    assert mixed["paid_audit"] == (1 if mixed["outcome"][0] == "paid" else 0)

    adjust = races["adjust"]
    assert adjust["entries"] == 1 and adjust["adjust_audit"] == 1
    assert _statuses(adjust["answers"]) == [302] * CLIENTS
    assert _said(adjust["answers"]).count("调整已记录，将出现在推广员的下一张结算单上。") == 1
    assert _said(adjust["answers"]).count("这笔调整已记录过（表单提交了两次）：账上只记一次。") == CLIENTS - 1

    ceiling = races["ceiling"]
    assert ceiling["released"] and ceiling["release_audit"] == 1 and ceiling["held_before"] >= 3
    assert ceiling["batches_made"] == 0 and ceiling["batch"] is None  # a stale confirmation makes no batch
    assert ceiling["next_batch"] == [ceiling["target"]]

    check = subprocess.run([sys.executable, "-m", "liveloop.cli", "rebuild", "--check"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    print(f"\n[security] money races ({engine}): {len(races)} actions × {CLIENTS} clients at once, each "
          f"done once; losers answered {sorted({a['status'] for r in races.values() for a in r['answers']})}; "
          f"rebuild --check clean")


# The script side: runs in the subprocess, with the environment above.

def _django():
    import django

    django.setup()


def _world():
    """An organisation whose live, ended eight days ago with a sale by each of PROMOTERS
    promoters, is ready to settle on a 10% plan; CLIENTS finance members, each signed in."""
    from django.core.management import call_command
    from django.test import Client

    from liveloop.events.ingest import ingest
    from liveloop.lives.models import Account
    from liveloop.actions.lives import create_live, end_live, start_live
    from liveloop.money.plans import save_plan
    from liveloop.orgs.models import Member
    from liveloop.orgs.services import add_member, create_org
    from liveloop.actions.promoters import NewPromoter, enrol

    call_command("migrate", interactive=False, verbosity=0)
    org, _ = create_org("并发结算", slug="money-races")
    account = Account.objects.create(org=org, name="官方号")
    save_plan(org, None, name="标准", make_default=True, fields={"rate_bps": 1000})
    start = (datetime.now(timezone.utc) - timedelta(days=8, hours=2)).replace(microsecond=0)
    live = create_live(org, account=account, title="上周专场", announced_at=start)
    enrol(live.programme, [NewPromoter(name=f"推广员{n}", code=f"R{n:02d}") for n in range(PROMOTERS)])
    start_live(live, start)
    sales = [{"id": f"o{n}", "type": "order_paid", "live": live.public_id, "viewer": f"v{n}", "order": f"o{n}",
              "amount": 10_000 + 100 * n, "promoter": f"R{n:02d}", "at": (start + timedelta(minutes=n + 1)).isoformat()}
             for n in range(PROMOTERS)]
    assert ingest(org, sales).accepted == PROMOTERS
    end_live(live, start + timedelta(hours=2))
    clients = []
    for n in range(CLIENTS):
        client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
        client.force_login(add_member(org, f"finance-{n}", Member.FINANCE).user)
        clients.append(client)
    return org, live, clients


def _at_once(clients, post) -> list[dict]:
    """post(i, client) from every client at the same moment, each in a thread of its own (so a
    connection of its own); the answers: status, where it redirects, the messages it queued."""
    from django.contrib.messages import get_messages
    from django.db import connections

    barrier, answers = threading.Barrier(len(clients)), [None] * len(clients)

    def run(i):
        try:
            barrier.wait()
            response = post(i, clients[i])
            answers[i] = {"status": response.status_code, "location": response.get("Location", ""),
                          # Only what this request said (earlier, unread ones wait in the cookie too).
                          "messages": [str(m) for m in get_messages(response.wsgi_request)._queued_messages]}
        except Exception as error:  # the test client re-raises a view's exception: a 500
            answers[i] = {"status": 500, "location": "", "messages": [repr(error)]}
        finally:
            connections.close_all()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(a is not None for a in answers), "a client did not answer in 120 s"
    return answers


def _results_file(batch) -> bytes:
    """Paid for the first half of the batch's statements, failed for the rest."""
    lines = ["付款参考号,状态,流水号,原因"]
    items = list(batch.items.select_related("statement").order_by("statement__number"))
    for n, item in enumerate(items):
        paid = n < len(items) - PROMOTERS // 2
        lines.append(f"{item.statement.number},{'成功' if paid else '失败'},{f'TX-{n}' if paid else ''},"
                     f"{'' if paid else '账户名不符'}")
    return ("\n".join(lines) + "\n").encode()


def _race() -> dict:
    from tests.actors import batch_confirm, run_confirm  # after Django is set up
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db.models import Count, Max

    from liveloop.money.models import Entry, PayoutBatch, PayoutItem, SettlementRun, Statement
    from liveloop.orgs.models import AuditEntry

    org, live, clients = _world()
    statements = Statement.objects.for_org(org)
    audit = AuditEntry.objects.for_org(org)
    races = {}

    def states():
        return dict(statements.values("state").annotate(n=Count("pk")).values_list("state", "n"))

    def per_statement(action):
        return sorted(set(audit.filter(action=action).values("target").annotate(n=Count("pk"))
                          .values_list("n", flat=True)))

    answers = _at_once(clients, lambda i, c: c.post(f"/money/lives/{live.public_id}/settle/"))
    races["settle"] = {"answers": answers, "runs": SettlementRun.objects.for_org(org).filter(live=live).count(),
                       "statements": statements.count(),
                       "settlement_audit": audit.filter(action="settlement.run").count()}
    run = SettlementRun.objects.for_org(org).get(live=live)

    first = statements.order_by("number").first()
    answers = _at_once(clients, lambda i, c: c.post(f"/money/statements/{first.number}/approve/"))
    first.refresh_from_db()
    races["approve_one"] = {"answers": answers, "state": first.state,
                            "approve_audit": audit.filter(action="statement.approve", target=first.number).count()}

    confirm = run_confirm(run)  # every client confirms what the page showed them before the race
    answers = _at_once(clients, lambda i, c: c.post(f"/money/runs/{run.pk}/approve/", confirm))
    races["approve_run"] = {"answers": answers, "states": states(),
                            "approve_audit_per_statement": per_statement("statement.approve")}

    by_hand = statements.order_by("-number").first()
    answers = _at_once(clients, lambda i, c: c.post(f"/money/statements/{by_hand.number}/paid/",
                                                    {"reference": f"WX-{i}"}))
    by_hand.refresh_from_db()
    paid_audit = audit.filter(action="statement.paid", target=by_hand.number)
    races["mark_paid"] = {"answers": answers, "state": by_hand.state, "reference": by_hand.paid_reference,
                          "paid_audit": paid_audit.count(),
                          "audited_reference": paid_audit.first().detail.get("paid_reference") if paid_audit else None}

    confirm = batch_confirm(org)
    answers = _at_once(clients, lambda i, c: c.post("/money/batches/", confirm))
    items = PayoutItem.objects.for_org(org)
    batch = PayoutBatch.objects.for_org(org).order_by("pk").last()
    races["create_batch"] = {
        "answers": answers, "batches": PayoutBatch.objects.for_org(org).count(), "items": items.count(),
        "most_items_per_statement": items.values("statement").annotate(n=Count("pk")).aggregate(m=Max("n"))["m"],
        # The batch's items are exactly the statements that name it as the batch they wait in.
        "open_items_match": sorted(items.filter(batch=batch).values_list("statement_id", flat=True))
        == sorted(statements.filter(batch=batch).values_list("pk", flat=True))}

    body = _results_file(batch)
    answers = _at_once(clients, lambda i, c: c.post(f"/money/batches/{batch.pk}/results/", {
        "results": SimpleUploadedFile("results.csv", body, "text/csv")}))
    races["results"] = {"answers": answers, "states": states(), "paid_audit_per_statement": per_statement("statement.paid"),
                        "results_audit": audit.filter(action="payout.results").count(),
                        "waiting_in_a_batch": statements.filter(batch__isnull=False).count()}

    failed = list(statements.filter(state=Statement.FAILED).order_by("number"))
    answers = _at_once(clients, lambda i, c: c.post(f"/money/statements/{failed[0].number}/retry/"))
    failed[0].refresh_from_db()
    races["retry"] = {"answers": answers, "state": failed[0].state,
                      "retry_audit": audit.filter(action="statement.retry", target=failed[0].number).count()}

    for statement in failed[1:]:
        assert clients[0].post(f"/money/statements/{statement.number}/retry/").status_code == 302
    target = failed[-1]
    half = CLIENTS // 2
    confirm = batch_confirm(org)
    answers = _at_once(clients, lambda i, c: c.post(f"/money/statements/{target.number}/paid/", {"reference": f"HAND-{i}"})
                       if i < half else c.post("/money/batches/", confirm))
    target.refresh_from_db()
    new_batch = PayoutBatch.objects.for_org(org).order_by("pk").last()
    # A hand payment first makes the batches' confirmation stale: then no batch is made at all.
    fresh = new_batch if new_batch.pk != batch.pk else None
    twice = items.values("statement").annotate(n=Count("pk")).filter(n__gt=1).values_list("statement", flat=True)
    failed_before = set(audit.filter(action="statement.failed").values_list("target", flat=True))
    races["paid_or_batched"] = {
        "answers": answers, "outcome": [target.state, target.batch_id,
                                items.filter(batch=fresh, statement=target).count() if fresh else 0],
        "new_batch": new_batch.pk, "batches": PayoutBatch.objects.for_org(org).count(),
        "open_items_match": (sorted(items.filter(batch=fresh).values_list("statement_id", flat=True))
                             == sorted(statements.filter(batch=fresh).values_list("pk", flat=True))) if fresh
        else not statements.filter(batch__isnull=False).exists(),  # no batch made: none waits in one
        # In two batches only after failing in the first (and being retried).
        "twice_without_failing": sorted(set(statements.filter(pk__in=list(twice)).values_list("number", flat=True))
                                        - failed_before),
        "paid_audit": audit.filter(action="statement.paid", target=target.number).count()}

    key = uuid.uuid4().hex
    promoter = first.promoter.code
    answers = _at_once(clients, lambda i, c: c.post(f"/money/promoters/{promoter}/adjust/",
                                                    {"amount": "12.34", "reason": "补发奖励", "key": key}))
    races["adjust"] = {"answers": answers,
                       "entries": Entry.objects.for_org(org).filter(kind=Entry.ADJUSTMENT).count(),
                       "adjust_audit": audit.filter(action="ledger.adjust").count()}
    races["ceiling"] = _ceiling_race(org, clients, audit)
    return races


def _ceiling_race(org, clients, audit) -> dict:
    """A second live settled and approved under a ceiling of ¥0.01: every statement held. Half
    the clients release one of them while the other half make a batch with the confirmation
    their page showed (nothing waiting). The release happens once; a batch made after it would
    hold the released statement, so the stale confirmation makes none."""
    from tests.actors import batch_confirm, run_confirm

    from liveloop.actions.lives import create_live, end_live, start_live
    from liveloop.actions.promoters import NewPromoter, enrol
    from liveloop.events.ingest import ingest
    from liveloop.lives.models import Account
    from liveloop.money import payouts
    from liveloop.money.models import PayoutBatch, Statement
    from liveloop.money.settlement import settle_live
    from liveloop.orgs.models import Organisation

    start = (datetime.now(timezone.utc) - timedelta(days=9, hours=2)).replace(microsecond=0)
    live = create_live(org, account=Account.objects.for_org(org).first(), title="上限专场", announced_at=start)
    enrol(live.programme, [NewPromoter(name=f"推广员{n}", code=f"R{n:02d}") for n in range(3)])
    start_live(live, start)
    assert ingest(org, [{"id": f"c{n}", "type": "order_paid", "live": live.public_id, "viewer": f"cv{n}",
                         "order": f"c{n}", "amount": 10_000, "promoter": f"R{n:02d}",
                         "at": (start + timedelta(minutes=n + 1)).isoformat()} for n in range(3)]).accepted == 3
    end_live(live, start + timedelta(hours=2))
    run = settle_live(org, live)
    assert clients[0].post(f"/money/runs/{run.pk}/approve/", run_confirm(run)).status_code == 302
    Organisation.objects.filter(pk=org.pk).update(payout_ceiling=1)
    held = list(payouts.held(org))
    target = [s for s in held if s.run_id == run.pk][0]
    batches_before = PayoutBatch.objects.for_org(org).count()
    confirm = batch_confirm(org)
    half = CLIENTS // 2
    answers = _at_once(clients, lambda i, c: c.post(f"/money/statements/{target.number}/release/", {"confirm": "1"})
                       if i < half else c.post("/money/batches/", confirm))
    target = Statement.objects.get(pk=target.pk)
    after = {"released": target.released, "batch": target.batch_id,
             "release_audit": audit.filter(action="statement.release", target=target.number).count(),
             "batches_made": PayoutBatch.objects.for_org(org).count() - batches_before,
             "held_before": len(held), "confirm": confirm}
    # Then a batch confirmed afresh takes the released statement and nothing else held.
    assert clients[0].post("/money/batches/", batch_confirm(org)).status_code == 302
    batch = PayoutBatch.objects.for_org(org).order_by("pk").last()
    return {"answers": answers, **after,
            "next_batch": sorted(batch.items.values_list("statement__number", flat=True)),
            "target": target.number}


if __name__ == "__main__":
    _django()
    command, *rest = sys.argv[1:]
    result = {"race": _race}[command](*rest)
    print(json.dumps(result, ensure_ascii=False, default=str))
