"""Rebuild reads the log and writes the derived tables without the ORM's per-row machinery
(docs/performance.md "Rebuild"): what it reads and writes must be what the ORM would."""
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from liveloop.events import rebuild
from liveloop.events.models import Event, LiveViewer
from liveloop.events.rebuild import LOG_COLUMNS, _log, differences, replace, replay, time_adapter
from tests.actors import event


def test_the_log_reads_as_the_orm_reads_it(brand, outsider):
    live = brand.live(promoters=["A"])
    L = live.public_id
    sent = brand.send([event("e1", "reservation", L, "V1", promoter="A"),
                       event("e2", "room_enter", L, "V1", attrs={"gender": "女", "city_tier": 2}),
                       event("e3", "order_paid", L, "V1", order="O1", amount=12900),
                       event("e4", "room_enter", L, "V2", at=live.announced_at + timedelta(microseconds=7))])
    assert sent.json()["accepted"] == 4
    assert outsider.send([event("e1", "room_enter", outsider.live().public_id, "W1")]).json()["accepted"] == 1
    # Values orjson refuses (beyond 64 bits) must still decode as the JSONField decodes them.
    Event.objects.filter(org=brand.org, eid="e3").update(attrs={"n": 2 ** 70, "nested": [1, {"a": None}]})

    orm = list(Event.objects.for_org(brand.org).order_by("seq").values_list(*LOG_COLUMNS))
    assert [row for _, rows in _log(brand.org) for row in rows] == orm
    # In parts: every event in exactly one part (no transitions here), each part in seq order.
    parted = [list(rows) for _, rows in _log(brand.org, 3)]
    assert sorted(row for rows in parted for row in rows) == orm
    assert all(rows == sorted(rows) for rows in parted) and len(parted) == 3
    assert len(orm) == 4 and orm[2][LOG_COLUMNS.index("attrs")]["n"] == 2 ** 70
    assert all(row[LOG_COLUMNS.index("at")].tzinfo is not None for row in orm)


def test_times_are_written_as_the_orm_writes_them(db):
    adapt = time_adapter()
    shanghai = timezone(timedelta(hours=8))
    for value in (None, datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc),
                  datetime(2026, 11, 27, 4, 0, 0, 123456, tzinfo=shanghai), datetime(2026, 11, 26, 20, 0, 1)):
        assert adapt(value) == connection.ops.adapt_datetimefield_value(value)


def test_a_replaced_viewer_keeps_its_binding_time(brand):
    live = brand.live(promoters=["A"])
    at = live.announced_at - timedelta(hours=3, microseconds=250)
    sent = brand.send([event("e1", "reservation", live.public_id, "V1", promoter="A", at=at),
                       event("e2", "room_enter", live.public_id, "V1", at=at + timedelta(hours=4))])
    assert sent.json()["accepted"] == 2
    LiveViewer.objects.filter(org=brand.org).update(bound_at=at - timedelta(days=1), entered=False)

    attribution, problems = replay(brand.org)
    assert problems == [] and differences(brand.org, attribution) != []
    replace(brand.org, attribution)
    assert LiveViewer.objects.get(org=brand.org, viewer="V1").bound_at == at
    assert differences(brand.org, replay(brand.org)[0]) == []


def test_replace_gives_sqlite_a_large_page_cache_and_puts_the_old_one_back(brand, monkeypatch):
    """The derived tables are rewritten with a 64 MB page cache (lib.bulk.page_cache); the
    connection gets its own size back afterwards, even when the rewrite fails."""
    if connection.vendor != "sqlite":
        pytest.skip("a SQLite setting")
    live = brand.live(promoters=["A"])
    assert brand.send([event("e1", "reservation", live.public_id, "V1", promoter="A")]).json()["accepted"] == 1
    attribution, _ = replay(brand.org)

    def pragma():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            return cursor.fetchone()[0]
    before, seen = pragma(), []
    writer = rebuild.insert_all
    monkeypatch.setattr(rebuild, "insert_all", lambda *args: (seen.append(pragma()), writer(*args)))
    replace(brand.org, attribution)
    assert seen and set(seen) == {-rebuild.REPLACE_CACHE_KIB} and pragma() == before != seen[0]
    assert differences(brand.org, replay(brand.org)[0]) == []

    monkeypatch.setattr(rebuild, "insert_all", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        replace(brand.org, attribution)
    assert pragma() == before
