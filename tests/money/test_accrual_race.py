"""Two accruals of one organisation at once append the difference once: each reads what the
estimates add up to, then appends the difference, so without the organisation's lock both would
read the same sum and both append (a plan saved by two members, or while a batch comes in).

PostgreSQL only: there the transactions overlap. SQLite takes one writer at a time from the
transaction's start (BEGIN IMMEDIATE), so its accruals never interleave."""
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction

from liveloop.events.ingest import ingest
from liveloop.actions.lives import start_live
from liveloop.money.ledger import accrue_open_lives
from liveloop.money.models import Entry, Estimate, Plan
from liveloop.money.plans import save_plan
from tests.actors import EVENING, estimates, event

CLIENTS = 4
CODES = [f"P{n}" for n in range(1, 7)]


@pytest.mark.django_db(transaction=True)
def test_accruals_at_once_append_the_difference_once(brand):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's writers never overlap")
    plan = save_plan(brand.org, None, name="标准方案", fields={"rate_bps": 1000}, make_default=True)
    live = brand.live(promoters=CODES)
    start_live(live, EVENING)
    orders = [event(f"o{n}", "order_paid", live.public_id, f"v{n}", at=EVENING + timedelta(minutes=n),
                    order=f"o{n}", amount=10_000 * n, promoter=code) for n, code in enumerate(CODES, 1)]
    assert ingest(brand.org, orders).accepted == len(CODES)
    assert sum(estimates(brand.org, live).values()) == 1_000 * sum(range(1, len(CODES) + 1))
    # The rate doubles behind the ledger's back: every estimate is now short by what it holds.
    Plan.objects.filter(pk=plan.pk).update(rules={**plan.rules, "rate_bps": 2000})

    barrier, errors = threading.Barrier(CLIENTS), []

    def accrue():
        try:
            barrier.wait(10)
            with transaction.atomic():
                accrue_open_lives(brand.org)
        except Exception as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accrue) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sum(estimates(brand.org, live).values()) == 2_000 * sum(range(1, len(CODES) + 1))
    assert Entry.objects.for_org(brand.org).filter(live=live).count() == 2 * len(CODES)  # one accrual each, once
    kept = dict(Estimate.objects.for_org(brand.org).filter(live=live).values_list("promoter_id", "amount"))
    assert kept == estimates(brand.org, live)
