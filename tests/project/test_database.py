"""How the project's connections are set up (liveloop.settings.database_from_url)."""
import pytest
from django.db import connection

from liveloop.settings import database_from_url


def test_sqlite_checkpoints_its_log_every_10000_pages_not_every_1000():
    # An ingest commit that crosses the WAL's limit copies it into the database and syncs:
    # at SQLite's default 1,000 pages that was every few batches (docs/performance.md).
    options = database_from_url("sqlite:///liveloop.sqlite3")["OPTIONS"]
    assert "PRAGMA wal_autocheckpoint=10000" in options["init_command"]
    assert "PRAGMA journal_mode=WAL" in options["init_command"]


def test_postgresql_plans_for_a_disk_that_seeks_as_fast_as_it_reads():
    options = database_from_url("postgresql://liveloop@localhost:5432/liveloop")["OPTIONS"]["options"]
    assert "-c random_page_cost=1.1" in options and "-c lock_timeout=" in options


@pytest.mark.django_db
def test_the_suites_connection_has_its_engines_setting():
    # SQLite's pragma, PostgreSQL's planner cost: each as the options above set it.
    asked, expected = {"sqlite": ("PRAGMA wal_autocheckpoint", 10000),
                       "postgresql": ("SHOW random_page_cost", "1.1")}[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(asked)
        assert cursor.fetchone()[0] == expected
