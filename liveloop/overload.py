"""Overload: a request that cannot have the database's write turn or a lock within the bound
(settings.LIVELOOP_DB_LOCK_WAIT) fails fast, and the web layer answers 503 with Retry-After
(liveloop.web.errors) instead of a 500 — or of a worker killed by gunicorn's timeout."""
import sqlite3

# PostgreSQL: lock_timeout (lock_not_available) and statement_timeout (query_canceled).
OVERLOAD_SQLSTATES = {"55P03", "57014"}


class Overloaded(Exception):
    """The write turn was not ours within the bound. Nothing was written."""


def is_overload(exc: BaseException | None) -> bool:
    # Django wraps the driver's error (its __cause__): look down the chain a few links.
    for _ in range(5):
        if exc is None:
            return False
        if isinstance(exc, Overloaded):
            return True
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return True
        if getattr(exc, "sqlstate", None) in OVERLOAD_SQLSTATES:
            return True
        exc = exc.__cause__ or exc.__context__
    return False
