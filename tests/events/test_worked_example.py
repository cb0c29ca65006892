"""docs/events.md "A worked example", through the HTTP API, in both attribution modes."""
import pytest

from liveloop.analytics.queries import live_summary, promoter_rows
from tests.actors import event

EXPECTED = {
    "first_touch": {
        "A": (1, 1, 2, 2, 18800, 4900, 13900),
        "B": (0, 0, 0, 0, 0, 0, 0),
    },
    "last_touch": {
        "A": (1, 0, 1, 1, 5900, 0, 5900),
        "B": (0, 1, 1, 1, 12900, 4900, 8000),
    },
}
FIGS = ("reservations", "entered", "buyers", "orders", "gmv", "refunded", "net")


@pytest.mark.parametrize("mode", ["first_touch", "last_touch"])
def test_worked_example(brand, mode):
    live = brand.live(promoters=["A", "B"], mode=mode)
    L = live.public_id
    events = [
        event("e1", "reservation", L, "V1", promoter="A"),
        event("e2", "reservation", L, "V2", promoter="B"),
        event("e3", "reservation", L, "V3"),
        event("e4", "room_enter", L, "V1", promoter="B"),
        event("e5", "room_enter", L, "V4", promoter="Z"),
        event("e6", "order_paid", L, "V1", order="O1", amount=12900),
        event("e7", "order_paid", L, "V2", order="O2", amount=5900, promoter="A"),
        event("e8", "order_refund", L, "V1", order="O1", amount=4900),
        event("e9", "order_refund", L, "V1", order="O1", amount=9000),
        event("e10", "reservation_cancel", L, "V2"),
        event("e6", "order_paid", L, "V1", order="O1", amount=12900),
        event("e11", "order_paid", L, "V3", order="O3", amount=-100),
    ]
    answer = brand.send(events).json()
    assert answer["accepted"] == 9
    assert answer["duplicates"] == 1
    assert [(r["index"], r["id"]) for r in answer["rejected"]] == [(8, "e9"), (11, "e11")]
    assert answer["rejected"][0]["error"] == "refund exceeds amount paid (12900)"
    assert "amount" in answer["rejected"][1]["error"]
    assert [n["id"] for n in answer["notes"]] == ["e5"]

    rows = {r["promoter"]: tuple(r[f] for f in FIGS) for r in promoter_rows(live)}
    assert rows["A"] == EXPECTED[mode]["A"]
    assert rows["B"] == EXPECTED[mode]["B"]
    assert rows[None] == (1, 1, 0, 0, 0, 0, 0)
    total = live_summary(live)
    assert tuple(total[f] for f in FIGS) == (2, 2, 2, 2, 18800, 4900, 13900)
