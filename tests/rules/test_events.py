"""docs/EVENTS.md "Shape": every field rule of `parse_event`, without a database."""
import math
from datetime import datetime, timedelta, timezone

import pytest

from liveloop.rules.events import MAX_AMOUNT, MAX_ATTRS_BYTES, EventError, parse_event

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
AT = "2026-11-20T20:01:02+08:00"


def raw(type="room_enter", **fields):
    event = {"id": "e1", "type": type, "live": "L1", "viewer": "V1", "at": AT}
    if type in ("order_paid", "order_refund"):
        event.update(order="3704612354559743232", amount=12900)
    if type == "online":
        event["count"] = 10
    event.update(fields)
    return {k: v for k, v in event.items() if v is not DROP}


DROP = object()


def refused(event) -> str:
    with pytest.raises(EventError) as caught:
        parse_event(event, NOW)
    return str(caught.value)


def test_a_full_order_event_is_normalised():
    parsed = parse_event(raw("order_paid", promoter="P4ZQ7", touchpoint="community",
                             attrs={"gender": "f", "city_tier": 2, "region": "浙江"}), NOW)
    assert (parsed.id, parsed.type, parsed.live, parsed.viewer) == ("e1", "order_paid", "L1", "V1")
    assert parsed.order == "3704612354559743232"
    assert parsed.amount == 12900 and type(parsed.amount) is int
    assert parsed.promoter == "P4ZQ7" and parsed.touchpoint == "community"
    assert parsed.attrs == {"gender": "f", "city_tier": 2, "region": "浙江"}


# --- id -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["", "x" * 129])
def test_id_length_is_1_to_128(value):
    assert refused(raw(id=value)).startswith("id:")


def test_id_of_128_characters_is_fine():
    assert parse_event(raw(id="x" * 128), NOW).id == "x" * 128


@pytest.mark.parametrize("value", ["a\nb", "tab\there", "nul\x00"])
def test_id_must_be_printable(value):
    assert refused(raw(id=value)) == "id: must contain printable characters only"


def test_id_must_be_a_string():
    assert refused(raw(id=17)) == "id: must be a string"


def test_id_is_required():
    assert refused(raw(id=DROP)) == "id: required"


# --- type, live, viewer -------------------------------------------------------------------

def test_unknown_type():
    assert refused(raw(type="order_shipped")) == "type: unknown type 'order_shipped'"


def test_missing_type():
    assert refused(raw(type=DROP)) == "type: required"


@pytest.mark.parametrize("kind", ["live_started", "live_ended", "live_cancelled"])
def test_system_types_are_not_accepted_from_producers(kind):
    assert refused(raw(type=kind)).startswith("type: unknown type")


@pytest.mark.parametrize("kind", ["reservation", "reservation_cancel", "room_enter", "room_leave",
                                  "order_paid", "order_refund", "follow", "online"])
def test_live_is_required_except_for_capture(kind):
    assert refused(raw(kind, live=DROP)) == "live: required"


def test_capture_without_live_is_fine():
    parsed = parse_event(raw("capture", live=DROP, attrs={"channel": "wecom"}), NOW)
    assert parsed.live is None and parsed.attrs == {"channel": "wecom"}


def test_viewer_is_required():
    assert refused(raw(viewer=DROP)) == "viewer: required"


def test_viewer_length():
    assert refused(raw(viewer="v" * 129)).startswith("viewer: must be 1–128")


def test_promoter_code_length():
    assert refused(raw(promoter="P" * 33)).startswith("promoter:")


# --- order ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["order_paid", "order_refund"])
def test_order_is_required_for_order_types(kind):
    assert refused(raw(kind, order=DROP)) == "order: required"


def test_a_json_number_order_id_is_refused_with_the_reason():
    message = refused(raw("order_paid", order=3704612354559743232))
    assert message.startswith("order: must be a string")
    assert "64-bit" in message


def test_a_float_order_id_is_refused():
    assert refused(raw("order_paid", order=3.7e18)) == "order: must be a string"


# --- amount --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["order_paid", "order_refund"])
def test_amount_is_required_for_order_types(kind):
    assert refused(raw(kind, amount=DROP)) == "amount: required"


def test_negative_amount():
    assert refused(raw("order_paid", amount=-100)) == "amount: must not be negative"


@pytest.mark.parametrize("value", [12.5, 129.0, True, False, "12900", [12900]])
def test_amount_must_be_an_integer_number_of_fen(value):
    assert refused(raw("order_paid", amount=value)) == "amount: must be an integer number of fen"


def test_amount_above_the_maximum():
    assert refused(raw("order_paid", amount=MAX_AMOUNT + 1)) == f"amount: must be at most {MAX_AMOUNT}"


@pytest.mark.parametrize("value", [0, MAX_AMOUNT])
def test_amount_bounds_are_inclusive(value):
    assert parse_event(raw("order_refund", amount=value), NOW).amount == value


@pytest.mark.parametrize("field, value", [("order", "O1"), ("amount", 100)])
@pytest.mark.parametrize("kind", ["reservation", "room_enter", "follow", "capture", "online"])
def test_order_fields_only_on_order_types(kind, field, value):
    assert refused(raw(kind, **{field: value})) == f"{field}: only for order events"


# --- count ---------------------------------------------------------------------------------

def test_count_is_required_for_online():
    assert refused(raw("online", count=DROP)) == "count: required"


@pytest.mark.parametrize("value, message", [
    (-1, "count: must not be negative"),
    (3.0, "count: must be an integer"),
    (True, "count: must be an integer"),
    ("12", "count: must be an integer"),
])
def test_count_must_be_a_non_negative_integer(value, message):
    assert refused(raw("online", count=value)) == message


def test_online_count_is_kept():
    assert parse_event(raw("online", count=0), NOW).count == 0


# --- at -----------------------------------------------------------------------------------

def test_at_is_required():
    assert refused(raw(at=DROP)).startswith("at: required")


def test_at_must_be_a_string():
    assert refused(raw(at=1763640000)).startswith("at: required")


@pytest.mark.parametrize("value", ["yesterday evening", "2026-13-01T00:00:00+08:00", ""])
def test_at_must_be_iso_8601(value):
    assert refused(raw(at=value)) == "at: not an ISO 8601 time"


def test_at_needs_an_offset():
    assert refused(raw(at="2026-11-20T20:01:02")) == "at: needs a UTC offset, e.g. +08:00"


def test_at_more_than_one_day_in_the_future():
    too_late = NOW + timedelta(days=1, seconds=1)
    assert refused(raw(at=too_late.isoformat())) == "at: more than one day in the future"


def test_at_exactly_one_day_ahead_is_fine():
    edge = NOW + timedelta(days=1)
    assert parse_event(raw(at=edge.isoformat()), NOW).at == edge


def test_at_is_converted_to_utc():
    parsed = parse_event(raw(at="2026-11-20T20:01:02+08:00"), NOW)
    assert parsed.at == datetime(2026, 11, 20, 12, 1, 2, tzinfo=timezone.utc)
    assert parsed.at.utcoffset() == timedelta(0)
    assert parsed.at.tzinfo is timezone.utc


def test_at_with_z_suffix():
    parsed = parse_event(raw(at="2026-11-20T12:01:02Z"), NOW)
    assert parsed.at == datetime(2026, 11, 20, 12, 1, 2, tzinfo=timezone.utc)


def test_at_long_ago_is_fine():
    assert parse_event(raw(at="2020-01-01T00:00:00+08:00"), NOW).at.year == 2019


# --- touchpoint ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["article", "short_video", "moments", "community", "wecom",
                                   "personal", "mini_program", "live", "public"])
def test_every_touchpoint_of_the_contract(value):
    assert parse_event(raw(touchpoint=value), NOW).touchpoint == value


@pytest.mark.parametrize("value", ["weibo", "Community", 3])
def test_unknown_touchpoint(value):
    assert refused(raw(touchpoint=value)).startswith("touchpoint: must be one of")


# --- attrs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [["gender", "f"], "gender=f", 3])
def test_attrs_must_be_an_object(value):
    assert refused(raw(attrs=value)) == "attrs: must be an object"


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2]])
def test_attrs_must_be_flat(value):
    assert refused(raw(attrs={"geo": value})).startswith("attrs.geo: must be a string")


def test_attrs_nan_is_refused():
    assert refused(raw(attrs={"score": math.nan})) == "attrs.score: NaN is not allowed"


def test_attrs_scalars_and_null_are_fine():
    attrs = {"s": "x", "i": 1, "f": 1.5, "b": True, "n": None}
    assert parse_event(raw(attrs=attrs), NOW).attrs == attrs


def test_attrs_up_to_2_kb():
    # {"k": "…"} is 9 bytes of JSON around the value.
    fits = {"k": "x" * (MAX_ATTRS_BYTES - 9)}
    assert parse_event(raw(attrs=fits), NOW).attrs == fits
    assert refused(raw(attrs={"k": "x" * (MAX_ATTRS_BYTES - 8)})) == "attrs: larger than 2048 bytes"


def test_attrs_size_counts_utf8_bytes():
    # 700 Chinese characters are 2100 bytes in UTF-8.
    assert refused(raw(attrs={"region": "浙" * 700})) == "attrs: larger than 2048 bytes"


# --- the object itself ---------------------------------------------------------------------

def test_unknown_field():
    assert refused(raw(sharer="P1")) == "sharer: unknown field"


@pytest.mark.parametrize("value", [["e1"], "e1", None, 7])
def test_event_must_be_an_object(value):
    assert refused(value) == "event: must be a JSON object"


@pytest.mark.parametrize("event, field", [
    (raw(id=""), "id"), (raw(type="x"), "type"), (raw(live=DROP), "live"),
    (raw(viewer=""), "viewer"), (raw(promoter=""), "promoter"),
    (raw("order_paid", order=7), "order"), (raw("order_paid", amount=1.5), "amount"),
    (raw("online", count=-1), "count"), (raw(at="x"), "at"), (raw(touchpoint="x"), "touchpoint"),
    (raw(attrs=[]), "attrs"), (raw(attrs={"a": {}}), "attrs.a"), (raw(extra=1), "extra"),
    (raw(amount=5), "amount"),
])
def test_every_error_names_its_field(event, field):
    assert refused(event).startswith(f"{field}: ")


def test_ids_with_the_system_prefix_are_reserved():
    assert refused(raw(id="system:L1:live_started")).startswith("id: the prefix 'system:' is reserved")
