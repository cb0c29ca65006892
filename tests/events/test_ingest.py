"""docs/EVENTS.md "Rejected…" and "Ingest over HTTP": the ingest path end to end."""
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from django.utils import timezone as django_timezone

from liveloop.analytics.models import PromoterStats
from liveloop.analytics.queries import live_summary, promoter_rows
from liveloop.events import ingest as ingest_module
from liveloop.events.ingest import ingest
from liveloop.events.models import Event, LiveViewer, Order
from liveloop.actions.lives import cancel_live
from liveloop.orgs.models import ApiKey
from tests.actors import EVENING, event


def figures(live, promoter=None):
    rows = {r["promoter"]: r for r in promoter_rows(live)}
    return {k: v for k, v in rows[promoter].items() if k not in ("promoter", "name", "team")}


def test_each_rejection_has_its_reason_and_the_rest_of_the_batch_goes_on(brand, outsider):
    live = brand.live(promoters=["A"])
    elsewhere = outsider.live(promoters=["A"])
    L = live.public_id
    future = datetime.now(timezone.utc) + timedelta(days=1, minutes=5)
    events = [
        event("ok-1", "order_paid", L, "V1", order="O1", amount=12900),
        event("x-type", "order_shipped", L, "V1"),
        event("x-live", "room_enter", "Lnosuchlive", "V1"),
        {k: v for k, v in event("x-viewer", "room_enter", L, "V1").items() if k != "viewer"},
        event("x-negative", "order_paid", L, "V2", order="O2", amount=-100),
        event("x-float", "order_paid", L, "V2", order="O2", amount=129.0),
        event("x-unknown-order", "order_refund", L, "V1", order="O9", amount=100),
        event("ok-2", "order_refund", L, "V1", order="O1", amount=4900),
        event("x-past-paid", "order_refund", L, "V1", order="O1", amount=9000),
        event("x-paid-again", "order_paid", L, "V1", order="O1", amount=12900),
        event("x-future", "room_enter", L, "V1", at=future),
        event("x-other-org", "room_enter", elsewhere.public_id, "V1", promoter="A"),
        event("ok-3", "room_enter", L, "V3", promoter="A"),
    ]
    answer = brand.send(events)
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 3 and body["duplicates"] == 0
    assert [(r["index"], r["id"], r["error"]) for r in body["rejected"]] == [
        (1, "x-type", "type: unknown type 'order_shipped'"),
        (2, "x-live", "live: unknown live 'Lnosuchlive' in this organisation"),
        (3, "x-viewer", "viewer: required"),
        (4, "x-negative", "amount: must not be negative"),
        (5, "x-float", "amount: must be an integer number of fen"),
        (6, "x-unknown-order", "refund on unknown order O9"),
        (8, "x-past-paid", "refund exceeds amount paid (12900)"),
        (9, "x-paid-again", "order O1 was already paid by another event"),
        (10, "x-future", "at: more than one day in the future"),
        (11, "x-other-org", f"live: unknown live {elsewhere.public_id!r} in this organisation"),
    ]
    assert set(Event.objects.for_org(brand.org).values_list("eid", flat=True)) == {"ok-1", "ok-2", "ok-3"}
    assert (figures(live)["gmv"], figures(live)["refunded"]) == (12900, 4900)
    assert figures(live, "A")["entered"] == 1


def test_another_organisations_live_looks_exactly_like_an_unknown_one(brand, outsider):
    brand.live()
    theirs = outsider.live()
    mine = brand.send([event("e1", "room_enter", theirs.public_id, "V1")]).json()
    nowhere = brand.send([event("e2", "room_enter", "L00000000", "V1")]).json()
    assert mine["rejected"][0]["error"].replace(theirs.public_id, "?") == \
        nowhere["rejected"][0]["error"].replace("L00000000", "?")
    assert not Event.objects.filter(live=theirs).exists()
    assert live_summary(theirs)["entered"] == 0
    assert not LiveViewer.objects.filter(live=theirs).exists()


def test_an_order_id_of_another_organisation_does_not_collide(brand, outsider):
    mine, theirs = brand.live(), outsider.live()
    assert outsider.send([event("p", "order_paid", theirs.public_id, "V1", order="O1",
                                amount=500)]).json()["accepted"] == 1
    refund = brand.send([event("r", "order_refund", mine.public_id, "V1", order="O1", amount=1)])
    assert refund.json()["rejected"][0]["error"] == "refund on unknown order O1"
    paid = brand.send([event("p", "order_paid", mine.public_id, "V1", order="O1", amount=700)])
    assert paid.json()["accepted"] == 1
    assert live_summary(theirs)["gmv"] == 500 and live_summary(mine)["gmv"] == 700


def test_an_at_more_than_a_day_ahead_of_now_is_rejected_and_within_it_accepted(brand):
    live = brand.live()
    now = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    result = ingest(brand.org, [
        event("soon", "room_enter", live.public_id, "V1", at=now + timedelta(days=1)),
        event("later", "room_enter", live.public_id, "V2", at=now + timedelta(days=1, seconds=1)),
    ], now=now)
    assert result.accepted == 1
    assert result.rejected == [{"index": 1, "id": "later", "error": "at: more than one day in the future"}]


def test_a_refund_on_an_order_of_another_live_is_rejected(brand):
    first, second = brand.live(), brand.live(title="第二场")
    result = ingest(brand.org, [
        event("p", "order_paid", first.public_id, "V1", order="O1", amount=500),
        event("r", "order_refund", second.public_id, "V1", order="O1", amount=100),
    ])
    assert result.rejected == [{"index": 1, "id": "r", "error": "order O1 belongs to another live"}]


def test_a_promoter_outside_the_programme_is_kept_and_noted(brand):
    live = brand.live(promoters=["A"])
    other = brand.live(title="另一场", promoters=["B"])  # B is the brand's promoter, not this live's
    body = brand.send([
        event("e1", "room_enter", live.public_id, "V1", promoter="Z"),
        event("e2", "reservation", live.public_id, "V2", promoter="B"),
        event("e3", "reservation", live.public_id, "V3", promoter="A"),
    ]).json()
    assert body["accepted"] == 3 and body["rejected"] == []
    assert [(n["index"], n["id"]) for n in body["notes"]] == [(0, "e1"), (1, "e2")]
    assert body["notes"][0]["note"] == ("promoter 'Z' is not in this live's programme: "
                                        "kept, not used for attribution")
    stored = {e.eid: (e.promoter_code, e.promoter_id) for e in Event.objects.for_org(brand.org)}
    assert stored["e1"] == ("Z", None) and stored["e2"] == ("B", None)
    assert stored["e3"][0] == "A" and stored["e3"][1] is not None
    assert (figures(live)["entered"], figures(live)["reservations"]) == (1, 1)
    assert figures(live, "A")["reservations"] == 1
    assert figures(other, "B")["reservations"] == 0


def test_duplicates_are_counted_and_not_applied(brand):
    live = brand.live()
    L = live.public_id
    paid = event("e1", "order_paid", L, "V1", order="O1", amount=12900)
    first = brand.send([paid, event("e2", "room_enter", L, "V1"), paid]).json()
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (2, 1, [])
    # Same id again, even with another payload: the first version stands.
    again = brand.send([{**paid, "amount": 1, "order": "O2"}, event("e3", "follow", L, "V1")]).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (1, 1, [])
    assert Event.objects.for_org(brand.org).count() == 3
    assert (figures(live)["orders"], figures(live)["gmv"], figures(live)["entered"]) == (1, 12900, 1)
    assert not Order.objects.filter(order="O2").exists()


def test_a_rejected_event_can_be_corrected_under_the_same_id(brand):
    """Only an *accepted* id makes a later one a duplicate (EVENTS.md, field `id`)."""
    live = brand.live()
    L = live.public_id
    body = brand.send([
        event("p", "order_paid", L, "V1", order="O1", amount=1000),
        event("r", "order_refund", L, "V1", order="O1", amount=5000),
        event("r", "order_refund", L, "V1", order="O1", amount=500),
    ]).json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [r["index"] for r in body["rejected"]] == [1]
    again = brand.send([event("r2", "order_refund", L, "V1", order="O1", amount=9000)]).json()
    retry = brand.send([event("r2", "order_refund", L, "V1", order="O1", amount=100)]).json()
    assert (again["accepted"], retry["accepted"], retry["duplicates"]) == (0, 1, 0)
    assert figures(live)["refunded"] == 600


def test_ndjson_body(brand):
    live = brand.live()
    lines = [orjson.dumps(event(f"e{i}", "room_enter", live.public_id, f"V{i}")) for i in range(3)]
    answer = brand.api.post("/api/v1/events", b"\n".join(lines) + b"\n\n",
                            content_type="application/x-ndjson")
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 3
    assert figures(live)["entered"] == 3


@pytest.mark.parametrize("body, content_type", [
    (b"not json", "application/json"),
    (b'[{"id": "e1",', "application/json"),
    (b'{"id": "e1"}\nnot json\n', "application/x-ndjson"),
])
def test_400_when_the_body_is_not_json(brand, body, content_type):
    answer = brand.api.post("/api/v1/events", body, content_type=content_type)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("body is not valid JSON/NDJSON")


@pytest.mark.parametrize("body", [b'{"events": []}', b'"e1"', b"12"])
def test_400_when_the_body_is_not_a_list(brand, body):
    answer = brand.api.post("/api/v1/events", body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["detail"] == "body must be a JSON array of events (or NDJSON)"


def test_401_without_a_key(brand, client):
    assert client.post("/api/v1/events", [], content_type="application/json").status_code == 401


def test_401_with_a_wrong_key(brand, client):
    answer = client.post("/api/v1/events", [], content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {brand.key}x")
    assert answer.status_code == 401


def test_401_with_a_revoked_key(brand):
    live = brand.live()
    assert brand.send([]).status_code == 200
    ApiKey.objects.for_org(brand.org).update(revoked_at=django_timezone.now())
    answer = brand.send([event("e1", "room_enter", live.public_id, "V1")])
    assert answer.status_code == 401
    assert not Event.objects.exists()


def test_413_over_1000_events(brand):
    live = brand.live()
    events = [event(f"e{i}", "room_enter", live.public_id, f"V{i}") for i in range(1001)]
    answer = brand.send(events)
    assert answer.status_code == 413
    assert answer.json()["detail"] == "at most 1000 events per request"
    assert not Event.objects.exists()
    assert brand.send(events[:1000]).json()["accepted"] == 1000


def test_413_over_the_body_size_limit(brand, settings):
    live = brand.live()
    padding = b" " * (settings.INGEST_MAX_BYTES + 1)
    answer = brand.api.post("/api/v1/events", b"[]" + padding, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json()["detail"] == f"body larger than {settings.INGEST_MAX_BYTES} bytes"

    settings.INGEST_MAX_BYTES = 300
    events = [event(f"e{i}", "room_enter", live.public_id, f"V{i}") for i in range(5)]
    assert len(orjson.dumps(events)) > 300
    assert brand.send(events).status_code == 413
    assert not Event.objects.exists()
    assert brand.send(events[:1]).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_accepted_events_of_one_request_commit_together(brand, monkeypatch):
    live = brand.live(promoters=["A"])
    L = live.public_id
    before = brand.send([event("before", "order_paid", L, "V0", order="O0", amount=100)])
    assert before.json()["accepted"] == 1
    stored = list(PromoterStats.objects.for_org(brand.org).order_by("pk").values())

    real = ingest_module.update_rows
    calls = []

    def failing(*args, **kwargs):
        # The log and the new viewers are written by then; fail before the rest.
        calls.append(args)
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest_module, "update_rows", failing)
    batch = [event("e1", "reservation", L, "V1", promoter="A"),
             event("e2", "room_enter", L, "V0", promoter="A"),
             event("e3", "order_paid", L, "V1", order="O1", amount=12900),
             event("e4", "order_refund", L, "V0", order="O0", amount=50)]
    with pytest.raises(RuntimeError, match="disk full"):
        brand.send(batch)
    assert len(calls) == 1

    assert list(Event.objects.for_org(brand.org).values_list("eid", flat=True)) == ["before"]
    assert list(LiveViewer.objects.for_org(brand.org).values_list("viewer", flat=True)) == ["V0"]
    assert list(Order.objects.for_org(brand.org).values_list("order", "refunded")) == [("O0", 0)]
    assert list(PromoterStats.objects.for_org(brand.org).order_by("pk").values()) == stored

    monkeypatch.setattr(ingest_module, "update_rows", real)
    assert brand.send(batch).json()["accepted"] == 4
    assert figures(live, "A")["gmv"] == 12900 and figures(live)["refunded"] == 50


def test_a_capture_without_a_live_is_accepted(brand):
    capture = event("c1", "capture", None, "V1", attrs={"channel": "wecom"})
    del capture["live"]
    body = brand.send([capture]).json()
    assert (body["accepted"], body["rejected"]) == (1, [])
    stored = Event.objects.for_org(brand.org).get(eid="c1")
    assert stored.live_id is None and stored.attrs == {"channel": "wecom"}


def test_events_for_a_cancelled_live_are_rejected(brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    assert brand.send([event("r1", "reservation", L, "V1", promoter="A")]).json()["accepted"] == 1
    cancel_live(live, at=EVENING - timedelta(hours=3))
    assert figures(live, "A")["reservations"] == 0
    body = brand.send([event("r2", "reservation", L, "V2"), event("o", "online", L, "acc", count=3),
                       event("p", "order_paid", L, "V1", order="O1", amount=1)]).json()
    assert body["accepted"] == 0
    assert {r["error"] for r in body["rejected"]} == {"live is cancelled"}
    assert live_summary(live)["reservations"] == 0 and live_summary(live)["peak_online"] == 0


def test_stored_times_are_utc(brand):
    live = brand.live()
    brand.send([{**event("e1", "room_enter", live.public_id, "V1"), "at": "2026-11-20T20:01:02+08:00"}])
    stored = Event.objects.for_org(brand.org).get(eid="e1").at
    assert stored == datetime(2026, 11, 20, 12, 1, 2, tzinfo=timezone.utc)
