"""Random streams of the log for the property tests: events of every type over two lives (and
one the organisation does not have), cut into batches with the operator's state changes between,
and sent through the real write paths. Rebuild's and the money's properties draw the same
scenarios."""
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from liveloop.events.ingest import ingest
from liveloop.actions.lives import TransitionError, cancel_live, end_live, start_live

BASE = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
NOW = BASE + timedelta(days=61)
ENROLLED = (["A", "B"], ["B", "C"])  # the two lives' programmes; "Z" is in neither
KINDS = ["reservation"] * 4 + ["reservation_cancel", "room_enter", "room_enter", "room_enter",
                               "room_leave", "follow", "capture", "online"] + \
    ["order_paid"] * 3 + ["order_refund"] * 2


@st.composite
def raw_events(draw):
    kind = draw(st.sampled_from(KINDS))
    # Index 2 is a live this organisation does not have.
    fields = {"id": f"e{draw(st.integers(0, 150))}", "type": kind,
              "live": draw(st.sampled_from([0, 0, 1, 1, 2])),
              "viewer": draw(st.sampled_from(["V1", "V2", "V3", "V4"])),
              "at": (BASE + timedelta(seconds=draw(st.integers(0, 60 * 86400)))).isoformat()}
    if kind == "capture" and draw(st.integers(0, 3)) == 0:
        del fields["live"]
    code = draw(st.sampled_from(["A", "B", "C", "Z", None, None]))
    if code:
        fields["promoter"] = code
    if kind.startswith("order_"):
        fields["order"] = draw(st.sampled_from(["O1", "O2", "O3", "O4"]))
        fields["amount"] = draw(st.integers(-10, 20000) if kind == "order_paid" else st.integers(0, 3000))
    if kind == "online":
        fields["count"] = draw(st.integers(0, 9000))
    return fields


scenarios = st.fixed_dictionaries({
    "lives": st.tuples(*[st.tuples(st.sampled_from(["first_touch", "last_touch"]),
                                   st.sampled_from([1, 7, 30]), st.integers(0, 60)) for _ in ENROLLED]),
    # Long enough that orders get refunded, bindings expire and ids come back as duplicates.
    "stream": st.lists(raw_events(), min_size=30, max_size=120),
    "cuts": st.lists(st.integers(0, 120), max_size=10),
    "transitions": st.lists(st.tuples(st.integers(0, 120), st.sampled_from([0, 1]),
                                      st.sampled_from(["live_started", "live_started", "live_ended",
                                                       "live_cancelled"]),
                                      st.integers(0, 60 * 1440)), max_size=4),
})


def steps(scenario):
    """The stream cut into batches of random sizes, with the operator's state changes between."""
    stream = scenario["stream"]
    at = {position % len(stream): [] for position, *_ in scenario["transitions"]}
    for position, *change in scenario["transitions"]:
        at[position % len(stream)].append(("transition", *change))
    bounds = sorted({0, len(stream), *(c % len(stream) for c in scenario["cuts"]), *at})
    for start, end in zip(bounds, bounds[1:]):
        yield from at.get(start, [])
        yield ("batch", stream[start:end])


SERVICES = {"live_started": start_live, "live_ended": end_live, "live_cancelled": cancel_live}


def in_db(org, lives, scenario):
    """Send the scenario through the real write paths."""
    for step in steps(scenario):
        if step[0] == "transition":
            _, index, kind, minutes = step
            try:
                SERVICES[kind](lives[index], at=BASE + timedelta(minutes=minutes))
            except TransitionError:
                pass
        else:
            ingest(org, [resolve(raw, lives) for raw in step[1]], now=NOW)


def resolve(raw, lives):
    if "live" not in raw:
        return dict(raw)
    return {**raw, "live": lives[raw["live"]].public_id if raw["live"] < len(lives) else "Lnosuchlive"}
