"""lib.bulk.select_in (and select), the plain-SQL lookup of ingest's batches, on whichever engine the suite runs
(SQLite by default, PostgreSQL with LIVELOOP_DATABASE_URL): every value found however many, one
organisation's rows only, and the values the ORM gives."""
import json

import pytest
from django.db import connection

from liveloop.events.ingest import VIEWER_COLUMNS
from liveloop.events.models import LiveViewer, ViewerLink
from liveloop.lib.bulk import rows_source, select, select_in, time_reader
from tests.actors import EVENING

LINKS = "SELECT viewer, person FROM events_viewerlink WHERE org_id = %s AND viewer"


def link(tenant, *viewers, person="P"):
    ViewerLink.objects.bulk_create([ViewerLink(org=tenant.org, viewer=v, person=f"{person}{v}") for v in viewers])


def test_every_value_is_looked_up_past_the_chunk_size(brand):
    viewers = [f"V{n}" for n in range(1203)]
    link(brand, *viewers)
    asked = viewers[::2] + ["nobody"]
    rows = select_in(LINKS, brand.org.pk, asked, size=100)
    assert sorted(rows) == sorted((v, f"P{v}") for v in viewers[::2])
    assert dict(select_in(LINKS, brand.org.pk, set(viewers))) == dict(
        ViewerLink.objects.for_org(brand.org).values_list("viewer", "person"))


def test_no_values_no_query(brand, django_assert_num_queries):
    link(brand, "V1")
    with django_assert_num_queries(0):
        assert select_in(LINKS, brand.org.pk, []) == []
        assert select_in(LINKS, brand.org.pk, set()) == []


def test_only_the_organisations_rows(brand, outsider):
    link(brand, "V1", "V2", person="ours-")
    link(outsider, "V1", "V2", "V3", person="theirs-")
    assert sorted(select_in(LINKS, brand.org.pk, ["V1", "V2", "V3"], size=2)) == [("V1", "ours-V1"),
                                                                                   ("V2", "ours-V2")]
    assert select_in(LINKS, outsider.org.pk, ["V3"]) == [("V3", "theirs-V3")]


def test_a_query_without_the_organisation_is_refused(brand):
    with pytest.raises(ValueError, match="org_id"):
        select_in("SELECT viewer FROM events_viewerlink WHERE viewer", brand.org.pk, ["V1"])
    with pytest.raises(ValueError, match="org_id"):
        select("SELECT viewer FROM events_viewerlink", brand.org.pk)


def test_select_reads_only_the_organisations_rows(brand, outsider):
    link(brand, "V1", person="ours-")
    link(outsider, "V1", "V2", person="theirs-")
    sql = "SELECT viewer, person FROM events_viewerlink WHERE org_id = %s AND person <> %s ORDER BY viewer"
    assert select(sql, brand.org.pk, ["nobody"]) == [("V1", "ours-V1")]
    assert select(sql, outsider.org.pk, ["theirs-V1"]) == [("V2", "theirs-V2")]


def test_parameters_come_between_the_organisation_and_the_values(brand):
    link(brand, "V1", "V2")
    head = "SELECT viewer FROM events_viewerlink WHERE org_id = %s AND person <> %s AND viewer"
    assert select_in(head, brand.org.pk, ["V1", "V2"], ["PV2"]) == [("V1",)]


def test_booleans_and_times_come_back_as_the_orms(brand):
    """The rules compare states by equality: a 0 for False or a naive time would make every
    loaded viewer look changed."""
    live = brand.live()
    LiveViewer.objects.bulk_create([
        LiveViewer(org=brand.org, live=live, viewer="V1", bound_at=EVENING, reserved=True, entered=False),
        LiveViewer(org=brand.org, live=live, viewer="V2", bound_at=None, followed=True, captured=True)])
    quote = connection.ops.quote_name
    read_time = time_reader()
    at = VIEWER_COLUMNS.index("bound_at")
    rows = {viewer: (*state[:at], read_time(state[at]), *state[at + 1:]) for viewer, *state in select_in(
        f"SELECT viewer, {', '.join(map(quote, VIEWER_COLUMNS))} FROM events_liveviewer WHERE org_id = %s AND viewer",
        brand.org.pk, ["V1", "V2"])}
    orm = {viewer: tuple(state) for viewer, *state in
           LiveViewer.objects.for_org(brand.org).values_list("viewer", *VIEWER_COLUMNS)}
    assert rows == orm
    for viewer, state in rows.items():
        assert [type(value) for value in state] == [type(value) for value in orm[viewer]], viewer
    assert rows["V1"][at] == EVENING and rows["V1"][at].tzinfo is not None


def test_a_batchs_rows_are_parsed_once_a_row_not_once_a_mention(db):
    """rows_source's subquery is not folded into the statement around it: folded, each column
    was parsed out of the JSON text again wherever the statement named it (add_grouped names
    the figure and the amount once for every figure it sums)."""
    source, params = rows_source({"figure": "integer", "amount": "bigint"}, [(0, 5), (1, 7), (0, 3)])
    sql = (f"SELECT SUM(CASE WHEN figure = 0 THEN amount END), SUM(CASE WHEN figure = 1 THEN amount END) "
           f"FROM {source}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert [int(v) for v in cursor.fetchone()] == [8, 7]
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
            plan = plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"]
            scan = plan["Plans"][0]
            # The casts are computed by the scan of the JSON, once a row.
            assert scan["Node Type"] in ("Function Scan", "Subquery Scan")
            assert any("::integer" in column or "AS integer" in column
                       for column in json.dumps(scan).split('"')), scan
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            assert any("CO-ROUTINE" in row[3] or "MATERIALIZE" in row[3] for row in cursor.fetchall())
