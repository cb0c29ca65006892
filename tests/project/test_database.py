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


@pytest.mark.django_db
def test_the_suites_sqlite_connection_has_them():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's pragmas")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 10000


def test_postgresql_plans_for_a_disk_that_seeks_as_fast_as_it_reads():
    options = database_from_url("postgresql://liveloop@localhost:5432/liveloop")["OPTIONS"]["options"]
    assert "-c random_page_cost=1.1" in options and "-c lock_timeout=" in options


@pytest.mark.django_db
def test_the_suites_postgresql_connection_has_it():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's settings")
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"
