"""`liveloop org create` and `liveloop ingest` through click's runner, on the test database.

The CLI runs migrate and its own transactions, so these tests use a transactional database.
"""
import json

import pytest
from click.testing import CliRunner

from liveloop.analytics.queries import live_summary, promoter_rows
from liveloop.cli import main
from liveloop.events.models import Event
from liveloop.orgs.models import ApiKey, Organisation
from tests.actors import event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    # `org create` makes the data directory before migrating; keep it out of the checkout.
    settings.DATA_DIR = tmp_path / "var"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_org_create_prints_a_working_key():
    result = run("org", "create", "某品牌", "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["name"] == "某品牌"
    org = Organisation.objects.get(slug=made["slug"])
    assert org.name == "某品牌"

    key = ApiKey.lookup(made["api_key"])
    assert key is not None and key.org == org
    stored = ApiKey.objects.for_org(org).get()
    assert stored.digest != made["api_key"]
    assert made["api_key"] not in stored.digest
    assert stored.digest == ApiKey.hash(made["api_key"])


def test_org_create_twice_gives_two_slugs_and_keys():
    first = json.loads(run("org", "create", "某品牌", "--json").stdout)
    second = json.loads(run("org", "create", "某品牌", "--json").stdout)
    assert first["slug"] != second["slug"]
    assert first["api_key"] != second["api_key"]
    assert ApiKey.lookup(second["api_key"]).org.slug == second["slug"]


def test_org_create_plain_output():
    result = run("org", "create", "Camellia Goods")
    assert result.exit_code == 0
    org = Organisation.objects.get(name="Camellia Goods")
    assert f"slug:    {org.slug}" in result.stdout
    key_line = next(line for line in result.stdout.splitlines() if line.startswith("api key:"))
    assert ApiKey.lookup(key_line.split()[2]).org == org


def _events(live):
    L = live.public_id
    return [
        event("f1", "reservation", L, "V1", promoter="A"),
        event("f2", "reservation", L, "V2"),
        event("f3", "room_enter", L, "V1"),
        event("f4", "order_paid", L, "V1", order="O1", amount=12900),
        event("f5", "order_refund", L, "V1", order="O1", amount=900),
    ]


def _figures(live):
    return live_summary(live), promoter_rows(live)


def _write_json(path, events):
    path.write_text(json.dumps(events, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def _write_ndjson(path, events):
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    # Blank lines (a trailing newline, an editor's gap) are not events.
    path.write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("write", [_write_json, _write_ndjson], ids=["json", "ndjson"])
def test_ingest_a_file_and_again(brand, tmp_path, write):
    live = brand.live(promoters=["A"])
    path = write(tmp_path / "events.txt", _events(live))

    result = run("ingest", path, "--org", brand.org.slug)
    assert result.exit_code == 0, result.output
    assert "accepted 5, duplicates 0, rejected 0" in result.stdout
    figures = _figures(live)
    summary = figures[0]
    assert (summary["reservations"], summary["entered"], summary["gmv"], summary["net"]) == (2, 1, 12900, 12000)
    assert set(Event.objects.for_org(brand.org).values_list("source", flat=True)) == {"file"}

    again = run("ingest", path, "--org", brand.org.slug)
    assert again.exit_code == 0
    assert "accepted 0, duplicates 5, rejected 0" in again.stdout
    assert _figures(live) == figures
    assert Event.objects.for_org(brand.org).count() == 5


def test_ingest_reports_rejections_with_their_place_in_the_file(brand, tmp_path):
    live = brand.live(promoters=["A"])
    L = live.public_id
    events = [
        event("g1", "reservation", L, "V1", promoter="A"),
        event("g2", "order_paid", L, "V1", order="O1", amount=-5),
        event("g1", "reservation", L, "V1", promoter="A"),
        event("g3", "order_refund", L, "V1", order="O404", amount=100),
        event("g4", "reservation", "Lnosuchlive", "V2"),
        event("g5", "room_enter", L, "V3", promoter="Z"),
    ]
    path = _write_ndjson(tmp_path / "mixed.ndjson", events)
    # Small batches: the reported index must still be the event's place in the whole file.
    result = run("ingest", path, "--org", brand.org.slug, "--batch", 2)
    assert result.exit_code == 0, result.output
    assert "accepted 2, duplicates 1, rejected 3" in result.stdout
    assert "event 1 (g2): amount" in result.stdout
    assert "event 3 (g3): refund on unknown order O404" in result.stdout
    assert "event 4 (g4): live: unknown live 'Lnosuchlive'" in result.stdout
    assert live_summary(live)["reservations"] == 1
    assert live_summary(live)["entered"] == 1


def test_a_bad_ndjson_line_is_named_and_nothing_is_ingested(brand, tmp_path):
    live = brand.live()
    good = json.dumps(event("h1", "reservation", live.public_id, "V1"))
    path = tmp_path / "broken.ndjson"
    path.write_text(f"{good}\n{good.replace('h1', 'h2')}\n{{\"id\": \"h3\", \"type\":\n", encoding="utf-8")
    result = run("ingest", path, "--org", brand.org.slug)
    assert result.exit_code != 0
    assert "line 3: not JSON" in result.output
    assert not Event.objects.for_org(brand.org).exists()


def test_a_broken_json_array_is_a_clear_error(brand, tmp_path):
    live = brand.live()
    path = tmp_path / "broken.json"
    path.write_text(json.dumps([event("j1", "reservation", live.public_id, "V1")])[:-1] + ",",
                    encoding="utf-8")
    result = run("ingest", path, "--org", brand.org.slug)
    assert result.exit_code == 1
    assert "not a JSON array of events" in result.output
    assert "Traceback" not in result.output
    assert not Event.objects.exists()


def test_a_file_that_is_not_utf8_is_a_clear_error(brand, tmp_path):
    path = tmp_path / "gbk.ndjson"
    path.write_bytes(json.dumps(event("k1", "reservation", brand.live().public_id, "张三"),
                                ensure_ascii=False).encode("gbk") + b"\n")
    result = run("ingest", path, "--org", brand.org.slug)
    assert result.exit_code == 1
    assert "line 1: not JSON" in result.output


def test_a_json_array_with_a_byte_order_mark_is_read(brand, tmp_path):
    live = brand.live()
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([event("b1", "reservation", live.public_id, "V1")]).encode())
    result = run("ingest", path, "--org", brand.org.slug)
    assert result.exit_code == 0, result.output
    assert "accepted 1, duplicates 0, rejected 0" in result.output


def test_ingest_into_an_unknown_org(brand, tmp_path):
    path = _write_json(tmp_path / "events.json", _events(brand.live(promoters=["A"])))
    result = run("ingest", path, "--org", "no-such-brand")
    assert result.exit_code != 0
    assert "no organisation with slug 'no-such-brand'" in result.output
    assert not Event.objects.exists()


def test_ingest_only_into_the_named_org(brand, outsider, tmp_path):
    """A file naming another organisation's live, ingested for the brand, changes nothing."""
    theirs = outsider.live(promoters=["A"])
    path = _write_json(tmp_path / "events.json", _events(theirs))
    result = run("ingest", path, "--org", brand.org.slug)
    assert "accepted 0, duplicates 0, rejected 5" in result.stdout
    assert live_summary(theirs)["reservations"] == 0
    assert not Event.objects.exists()
