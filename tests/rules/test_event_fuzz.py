"""Issue 14: whatever JSON a producer sends, `parse_event` answers an IncomingEvent or the
documented rejection (EventError, "field: reason") — never OverflowError, TypeError, KeyError…

A batch turns each EventError into that event's rejection; any other exception would make the
whole batch a 500 that the producer retries for ever (docs/events.md, "Rejected").
"""
import re
from datetime import datetime, timedelta, timezone

from hypothesis import example, given, settings, strategies as st

from liveloop.rules.dates import EARLIEST, LATEST
from liveloop.rules.events import EVENT_TYPES, FIELDS, EventError, IncomingEvent, parse_event

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
# "field: reason", "attrs.key: reason", or an unknown field by its name as sent (quoted when odd).
REASON = re.compile(r'^([a-z_]+(\.[^:]*)?: .+|\w+: unknown field|".*: unknown field)$', re.DOTALL)

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)

# Times at and beyond what datetime can hold once an offset is applied, and around the accepted
# window's edges.
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}")
extreme_days = st.sampled_from(["0001-01-01T00:00:00", "0001-01-01T13:59:59", "1999-12-31T23:59:59",
                                "2000-01-01T00:00:00", "2099-12-31T23:59:59", "2100-01-01T00:00:00",
                                "9999-12-31T23:59:59", "9999-12-31T10:00:00", "2026-11-21T11:59:59"])
any_day = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
    lambda d: d.isoformat())
times = (st.builds(lambda day, offset: day + offset, extreme_days | any_day, offsets | st.sampled_from(["Z", ""]))
         | st.text(max_size=30) | json_values)


def valid(kind: str) -> dict:
    event = {"id": "e1", "type": kind, "live": "L1", "viewer": "V1", "at": "2026-11-20T20:01:02+08:00"}
    if kind in ("order_paid", "order_refund"):
        event.update(order="3704612354559743232", amount=12900)
    if kind == "online":
        event["count"] = 10
    if kind == "identify":
        del event["live"]
        event["attrs"] = {"unionid": "U1"}
    return event


@st.composite
def near_valid(draw):
    """A valid event of some type with a few fields replaced, dropped or added."""
    event = valid(draw(st.sampled_from(sorted(EVENT_TYPES))))
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from(sorted(FIELDS) + ["ammount", ""]))
        action = draw(st.sampled_from(["replace", "drop", "time"]))
        if action == "drop":
            event.pop(field, None)
        elif action == "time":
            event["at"] = draw(times)
        else:
            event[field] = draw(json_values)
    return event


def outcome(raw):
    try:
        return parse_event(raw, NOW)
    except EventError as error:  # the only exception allowed out
        assert REASON.match(str(error)), str(error)
        return error


@settings(max_examples=400)
@given(json_values)
def test_arbitrary_json_is_parsed_or_rejected_with_a_reason(raw):
    outcome(raw)


@settings(max_examples=600)
@given(near_valid())
@example({**valid("follow"), "at": "0001-01-01T00:00:00+14:00"})
@example({**valid("follow"), "at": "9999-12-31T23:59:59-14:00"})
@example({**valid("order_paid"), "amount": 10**400})
def test_near_valid_events_are_parsed_or_rejected_with_a_reason(raw):
    result = outcome(raw)
    if isinstance(result, IncomingEvent):
        # What is accepted fits the window: every zone and UTC can hold it.
        assert result.at.tzinfo is not None and EARLIEST <= result.at <= NOW + timedelta(days=1)
        assert result.at < LATEST


@settings(max_examples=400)
@given(times)
def test_any_time_is_accepted_inside_the_window_or_refused_as_at(at):
    result = outcome({**valid("room_enter"), "at": at})
    if isinstance(result, EventError):
        assert str(result).startswith("at: ")
    else:
        assert EARLIEST <= result.at <= NOW + timedelta(days=1)


def test_the_window_edges_with_extreme_offsets():
    def at(text):
        return outcome({**valid("room_enter"), "at": text})

    assert at("2000-01-01T14:00:00+14:00").at == EARLIEST  # the first accepted instant
    assert str(at("2000-01-01T13:59:59+14:00")) == "at: must be between 2000-01-01 and 2099-12-31 (UTC)"
    assert at("1999-12-31T10:00:00-14:00").at == EARLIEST
    for text in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1999-12-31T09:59:59-14:00"):
        assert str(at(text)).startswith("at: must be between 2000-01-01 and 2099-12-31"), text
