"""Fixtures of the process tests (crash, overload, concurrency, money races), which run the real
server and CLI against databases of their own."""
import os
import uuid

import pytest


@pytest.fixture
def postgres_database():
    """A database of its own on the PostgreSQL server named by LIVELOOP_DATABASE_URL, if any."""
    url = os.environ.get("LIVELOOP_DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield None
        return
    import psycopg

    name = f"liveloop_crash_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
