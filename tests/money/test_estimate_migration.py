"""The migration that adds the running totals of the estimates (money.models.Estimate) makes them
from the entries already in the ledger: after it, ingest reads totals equal to the entries."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from liveloop.money.models import Estimate
from liveloop.promoters.models import Promoter

BEFORE = [("money", "0007_statement_released")]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_migration_adds_up_the_estimates_already_written(brand):
    first, second = brand.live(promoters=["P1", "P2"]), brand.live(title="第二场", promoters=["P1"])
    p1, p2 = (Promoter.objects.get(org=brand.org, code=code).pk for code in ("P1", "P2"))
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        rows = [(p1, first.pk, "accrual", 500), (p1, first.pk, "reversal", -120), (p1, first.pk, "settlement", 999),
                (p2, first.pk, "accrual", 40), (p1, second.pk, "accrual", 7), (p1, None, "adjustment", 3_000),
                (p2, second.pk, "clawback", -5)]
        with connection.cursor() as cursor:
            for promoter, live, kind, amount in rows:
                cursor.execute("INSERT INTO money_entry (org_id, promoter_id, live_id, kind, amount, at, reason) "
                               "VALUES (%s, %s, %s, %s, %s, %s, '')",
                               [brand.org.pk, promoter, live, kind, amount, "2026-12-01 12:00:00"])
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
        kept = {(live, p): amount for live, p, amount in
                Estimate.objects.for_org(brand.org).values_list("live_id", "promoter_id", "amount")}
        # Estimates only (accrual, reversal) and only of lives: settlement, clawback, adjustment stay out.
        assert kept == {(first.pk, p1): 380, (first.pk, p2): 40, (second.pk, p1): 7}
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
