"""Bulk writes of plain rows, shared by the write path and its projections.

Ingest writes plain values, never model instances (building them cost two thirds of ingest
time), and on PostgreSQL in one statement per table (COPY, and UPDATE … FROM the batch's rows
as one JSON parameter, `rows_source`): a statement per row is parsed and planned per row, and a
statement with thousands of placeholders is re-split by the driver on every call
(docs/performance.md). On SQLite one prepared statement runs per row (executemany), or a batch
arrives as one JSON parameter (`rows_source`) when the database itself is to add it up. The
rows a batch names are read through `select_in`, not the ORM's `__in` lookups, which compile
each value in Python.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from itertools import islice

import orjson
from django.db import connection

from liveloop.lib.seq import chunks


def table(model) -> str:
    """The quoted name of `model`'s table, for plain SQL."""
    return connection.ops.quote_name(model._meta.db_table)


def lock_org(org_id: int) -> None:
    """Serialise writers per organisation so the log's sequence is the order of application.
    SQLite already serialises writers (BEGIN IMMEDIATE, see settings)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(org_id)])


def adapt_time(value):
    return connection.ops.adapt_datetimefield_value(value)


def time_adapter():
    """A function doing what `adapt_time` does to aware datetimes, without its per-value
    checks and connection lookups (a replay adapts millions): SQLite stores the text of the
    naive time in the connection's time zone, PostgreSQL takes the datetime."""
    if connection.vendor != "sqlite":
        return connection.ops.adapt_datetimefield_value
    tz = connection.timezone

    def adapt(value):
        if value is None:
            return None
        if value.tzinfo is not None:
            # Ingest's times are UTC already (rules.dates.to_utc), the connection's zone: no
            # conversion then (ingest adapts several times per event).
            value = (value if value.tzinfo is tz else value.astimezone(tz)).replace(tzinfo=None)
        return value.isoformat(" ")  # str(value), without its indirection
    return adapt


def time_reader():
    """A function giving the value the ORM would give for a DateTimeField read by `select_in`: an
    aware datetime. SQLite's cursor gives the naive time of the connection's time zone (its
    declared-type converter parsed it), PostgreSQL's an aware datetime already."""
    if connection.vendor != "sqlite":
        return lambda value: value
    tz = connection.timezone

    def read(value):
        return value.replace(tzinfo=tz) if value is not None and value.tzinfo is None else value
    return read


def select_in(head: str, org_id: int, values, params=(), size: int = 500) -> list[tuple]:
    """The rows of `head` whose last term matches one of `values`, as the cursor gives them.

    `head` is a SELECT whose WHERE scopes the organisation (`org_id = %s`, taking `org_id`, its
    first parameter: tenants never see each other's rows), then `params`, and ends with the
    column (or expression) to match: `… WHERE t.org_id = %s AND t.live_id = %s AND t.viewer`.
    Plain SQL because the ORM's `__in` compiles every value through the lookup's Python (most
    of resolving an ingest batch, docs/performance.md). PostgreSQL takes all the values as one
    array (`= ANY(%s)`: one statement text whatever their number); SQLite an `IN (%s, …)` list
    per `size` values (its older builds allow 999 parameters a statement).

    Columns come back as the cursor reads them: booleans as bool on both engines (SQLite's
    declared-type converter), datetimes through `time_reader`, JSON as text."""
    if "org_id = %s" not in head:
        raise ValueError("select_in: the query must scope the organisation (org_id = %s)")
    values = list(values)
    if not values:
        return []
    rows = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{head} = ANY(%s)", [org_id, *params, values])
            return cursor.fetchall()
        for chunk in chunks(values, size):
            cursor.execute(f"{head} IN ({', '.join(['%s'] * len(chunk))})", [org_id, *params, *chunk])
            rows += cursor.fetchall()
    return rows


def select(sql: str, org_id: int, params=()) -> list[tuple]:
    """The rows of `sql`, a SELECT scoping the organisation as `select_in`'s does (`org_id = %s`,
    taking `org_id`, its first parameter), then `params`. For the reads every ingest batch
    repeats (the ledger's figures): compiling an ORM query costs more than SQLite running it."""
    if "org_id = %s" not in sql:
        raise ValueError("select: the query must scope the organisation (org_id = %s)")
    with connection.cursor() as cursor:
        cursor.execute(sql, [org_id, *params])
        return cursor.fetchall()


def sql_ids(pks) -> str:
    """Row ids (ints from our own tables) as SQL literals: a second, short IN list beside
    `select_in`'s adds no parameters to its chunks. Never for values from outside."""
    return ", ".join(str(int(pk)) for pk in pks)


def json_text(value):
    """A JSON column's stored text (None stays NULL)."""
    return None if value is None else orjson.dumps(value).decode()


def json_value(text):
    """JSONField.from_db_value's result, through orjson (several times json's speed); json
    itself for what orjson refuses (integers beyond 64 bits, NaN), the text for what neither
    reads, as the field does."""
    if text is None or not isinstance(text, (str, bytes)):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text


def insert_rows(model, columns, rows) -> None:
    """INSERT `rows` (tuples in the order of `columns`): COPY on PostgreSQL."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table, names = quote(model._meta.db_table), ", ".join(map(quote, columns))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
                               rows)


def insert_all(model, columns, rows) -> None:
    """`insert_rows` for an iterable consumed once, a chunk at a time: neither model instances
    nor a list of the whole table are ever built, so memory stays flat however large the table."""
    rows = iter(rows)
    while chunk := list(islice(rows, 10_000)):
        insert_rows(model, columns, chunk)


def update_rows(model, types: dict[str, str], rows, *, sets: str, where: str) -> None:
    """UPDATE model's table (alias t) from rows of values (alias v, columns named by `types`)."""
    if not rows:
        return
    columns = list(types)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            source, params = rows_source(types, rows, alias="v")
            cursor.execute(f"UPDATE {table} AS t SET {sets} FROM {source} WHERE {where}", params)
        else:
            # SQLite prepares this once and runs it per row (UPDATE … FROM needs SQLite ≥ 3.33).
            cursor.executemany(f"WITH v ({', '.join(columns)}) AS (VALUES ({', '.join(['%s'] * len(columns))})) "
                               f"UPDATE {table} AS t SET {sets} FROM v WHERE {where}", rows)


def add_rows(org_id: int, model, keys, key_types, adds, rows, peaks=()) -> None:
    """Add deltas to the rows of `model` named by `keys` (with org), creating a row the first
    time (ON CONFLICT): `adds` columns are summed, `peaks` keep their maximum. One statement on
    PostgreSQL (INSERT … SELECT FROM unnest), one prepared statement on SQLite."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = (*keys, *adds, *peaks)
    conflict = _on_conflict(table, keys, adds, peaks)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            source, params = rows_source(dict(zip(columns, (*key_types, *["bigint"] * (len(adds) + len(peaks))))),
                                         rows)
            cursor.execute(f"INSERT INTO {table} (org_id, {', '.join(columns)}) "
                           f"SELECT {int(org_id)}, {', '.join(columns)} FROM {source} {conflict}", params)
        else:
            cursor.executemany(f"INSERT INTO {table} (org_id, {', '.join(columns)}) "
                               f"VALUES ({int(org_id)}, {', '.join(['%s'] * len(columns))}) {conflict}",
                               rows)


def _on_conflict(table: str, keys, adds, peaks) -> str:
    greatest = "GREATEST" if connection.vendor == "postgresql" else "max"  # SQLite's max(a, b)
    sets = [f"{f} = {table}.{f} + excluded.{f}" for f in adds]
    sets += [f"{f} = {greatest}({table}.{f}, excluded.{f})" for f in peaks]
    return f"ON CONFLICT (org_id, {', '.join(keys)}) DO UPDATE SET {', '.join(sets)}"


def rows_source(types: dict[str, str], rows, alias: str = "c") -> tuple[str, list]:
    """A FROM item (alias `alias`, columns named by `types`) holding `rows`, and its parameters,
    for one set-wise statement over a whole batch: the rows as one JSON text (orjson), which
    the database parses in C — json_array_elements on PostgreSQL, each column cast to its
    type; json_each on SQLite, where datetimes must already be adapted to text. On PostgreSQL
    this replaced unnest of one array per column: psycopg dumped the arrays element by element
    in Python, about twenty times the client's CPU of one JSON text (docs/performance.md).
    OFFSET 0 keeps either engine from folding this subquery into the statement around it,
    which parsed each column again wherever it was named: add_grouped names the figure and
    the amount once per counted figure, and its statement ran 3× slower on PostgreSQL."""
    columns = list(types)
    params = [orjson.dumps(rows).decode()]
    if connection.vendor == "postgresql":
        picks = ", ".join(f"CAST(value->>{i} AS {types[c]}) AS {c}" for i, c in enumerate(columns))
        return f"(SELECT {picks} FROM json_array_elements(CAST(%s AS json)) OFFSET 0) AS {alias}", params
    picks = ", ".join(f"json_extract(value, '$[{i}]') AS {c}" for i, c in enumerate(columns))
    return f"(SELECT {picks} FROM json_each(%s) LIMIT -1 OFFSET 0) AS {alias}", params


def add_grouped(org_id: int, model, keys, key_types: dict[str, str], figures, rows, *,
                peaks=()) -> None:
    """Add up `rows` — facts (key…, figure index, amount) — per key in the database and add the
    sums to `model`'s rows (columns `figures`, the figure index naming the column; indexes
    past them name `peaks`, which keep a maximum), creating a row the first time: one
    statement per batch whatever its size."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    source, params = rows_source({**key_types, "figure": "integer", "amount": "bigint"}, rows)
    sums = [f"COALESCE(SUM(CASE WHEN figure = {i} THEN amount END), 0)" for i in range(len(figures))]
    sums += [f"COALESCE(MAX(CASE WHEN figure = {len(figures) + i} THEN amount END), 0)"
             for i in range(len(peaks))]
    # SQLite needs a WHERE in an INSERT … SELECT with ON CONFLICT (its parser's ambiguity).
    sql = (f"INSERT INTO {table} (org_id, {', '.join((*keys, *figures, *peaks))}) "
           f"SELECT {int(org_id)}, {', '.join(keys)}, {', '.join(sums)} FROM {source} WHERE true "
           f"GROUP BY {', '.join(keys)} {_on_conflict(table, keys, figures, peaks)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def update_grouped(model, key_types: dict[str, str], figures, rows, *, where: str) -> None:
    """Add up `rows` — facts (key…, figure index, amount) — per key in the database and add the
    sums to the existing rows of `model` (alias t) that `where` matches to the sums (alias v)."""
    if not rows:
        return
    keys = list(key_types)
    table = connection.ops.quote_name(model._meta.db_table)
    source, params = rows_source({**key_types, "figure": "integer", "amount": "bigint"}, rows)
    sums = ", ".join(f"COALESCE(SUM(CASE WHEN figure = {i} THEN amount END), 0) AS {f}"
                     for i, f in enumerate(figures))
    sets = ", ".join(f"{f} = t.{f} + v.{f}" for f in figures)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} AS t SET {sets} FROM (SELECT {', '.join(keys)}, {sums} FROM {source} "
                       f"GROUP BY {', '.join(keys)}) AS v WHERE {where}", params)


@contextmanager
def page_cache(kib: int):
    """On SQLite, a page cache of `kib` for this connection while the block runs, then the one it
    had (rewriting large tables with random-keyed unique indexes reads their pages back again
    and again with SQLite's default 2 MB; docs/performance.md). Elsewhere nothing."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {before}")
