"""docs/EVENTS.md "How an event is applied" and "Counting": the pure attribution engine."""
import copy
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveloop.rules.attribution import (
    CANCELLED, ENDED, FIGURES, FIRST_TOUCH, LAST_TOUCH, LIVE, RESERVATIONS, SCHEDULED, Attribution,
    Fact, LiveState, Rejected, ViewerState, binding_at, order_credit, touch,
)

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)
A, B, C = 101, 102, 103
L1, L2 = 1, 2
DAY = timedelta(days=1)


def fact(type, viewer="V1", promoter=None, order=None, amount=None, count=None, at=T0, live=L1,
         attrs=None):
    return Fact(type, live, viewer, promoter, order, amount, count, at, attrs)


def engine(mode=FIRST_TOUCH, binding_days=30, state=SCHEDULED):
    return Attribution(lives={L1: LiveState(mode=mode, binding_days=binding_days, state=state),
                              L2: LiveState(mode=mode, binding_days=binding_days, state=state)})


def row(attribution, promoter, live=L1):
    return dict(zip(FIGURES, attribution.stats.get((live, promoter), [0] * len(FIGURES))))


def snapshot(attribution):
    return copy.deepcopy((dict(attribution.stats), attribution.viewers, attribution.orders,
                          attribution.lives))


# --- the pure functions ----------------------------------------------------------------------

def test_an_unbound_viewer_has_no_binding():
    assert binding_at(ViewerState(), T0, 30) is None


def test_binding_lasts_binding_days_from_the_touch():
    viewer = ViewerState(bound=A, bound_at=T0)
    assert binding_at(viewer, T0 + 30 * DAY - timedelta(seconds=1), 30) == A
    assert binding_at(viewer, T0 + 30 * DAY, 30) is None
    assert binding_at(viewer, T0 + 2 * DAY, 1) is None


def test_first_touch_keeps_the_first_promoter():
    viewer = ViewerState()
    touch(viewer, A, T0, FIRST_TOUCH, 30)
    touch(viewer, B, T0 + DAY, FIRST_TOUCH, 30)
    assert (viewer.bound, viewer.bound_at) == (A, T0)


def test_last_touch_takes_the_latest():
    viewer = ViewerState()
    touch(viewer, A, T0, LAST_TOUCH, 30)
    touch(viewer, B, T0 + DAY, LAST_TOUCH, 30)
    assert (viewer.bound, viewer.bound_at) == (B, T0 + DAY)


def test_a_touch_after_expiry_binds_afresh():
    viewer = ViewerState()
    touch(viewer, A, T0, FIRST_TOUCH, 7)
    touch(viewer, B, T0 + 7 * DAY, FIRST_TOUCH, 7)
    assert (viewer.bound, viewer.bound_at) == (B, T0 + 7 * DAY)


def test_first_touch_does_not_extend_the_binding():
    viewer = ViewerState()
    touch(viewer, A, T0, FIRST_TOUCH, 7)
    touch(viewer, A, T0 + 6 * DAY, FIRST_TOUCH, 7)
    assert binding_at(viewer, T0 + 7 * DAY, 7) is None


def test_order_credit_prefers_the_platforms_sharer():
    viewer = ViewerState(bound=A, bound_at=T0)
    assert order_credit(B, viewer, T0 + DAY, 30) == B
    assert order_credit(None, viewer, T0 + DAY, 30) == A
    assert order_credit(None, viewer, T0 + 31 * DAY, 30) is None
    assert order_credit(None, ViewerState(), T0, 30) is None


# --- applying facts --------------------------------------------------------------------------

def test_an_order_after_expiry_without_a_new_touch_is_unattributed():
    attribution = engine(binding_days=7)
    attribution.apply(fact("reservation", promoter=A))
    attribution.apply(fact("order_paid", order="O1", amount=500, at=T0 + 8 * DAY))
    assert row(attribution, A)["orders"] == 0
    assert row(attribution, None)["orders"] == 1
    assert attribution.orders["O1"].promoter is None


def test_an_order_within_the_binding_goes_to_the_bound_promoter():
    attribution = engine(binding_days=7)
    attribution.apply(fact("room_enter", promoter=A))
    attribution.apply(fact("order_paid", order="O1", amount=500, at=T0 + 6 * DAY))
    assert row(attribution, A)["gmv"] == 500


def test_the_platforms_promoter_on_order_paid_wins_and_is_not_a_touch():
    attribution = engine(mode=LAST_TOUCH)
    attribution.apply(fact("reservation", promoter=A))
    attribution.apply(fact("order_paid", promoter=B, order="O1", amount=5900))
    assert (row(attribution, B)["orders"], row(attribution, B)["gmv"]) == (1, 5900)
    assert row(attribution, A)["orders"] == 0
    assert attribution.viewers[(L1, "V1")].bound == A


def test_a_refund_follows_the_orders_credit_after_the_binding_moved():
    attribution = engine(mode=LAST_TOUCH)
    attribution.apply(fact("room_enter", promoter=A))
    attribution.apply(fact("order_paid", order="O1", amount=12900))
    attribution.apply(fact("reservation", promoter=B, at=T0 + DAY))
    attribution.apply(fact("order_refund", order="O1", amount=4900, at=T0 + 2 * DAY))
    assert attribution.viewers[(L1, "V1")].bound == B
    assert row(attribution, A)["refunded"] == 4900
    assert row(attribution, B)["refunded"] == 0


def test_a_refund_follows_the_order_after_the_binding_expired():
    attribution = engine(binding_days=1)
    attribution.apply(fact("room_enter", promoter=A))
    attribution.apply(fact("order_paid", order="O1", amount=1000))
    attribution.apply(fact("order_refund", order="O1", amount=1000, at=T0 + 40 * DAY))
    assert row(attribution, A)["refunded"] == 1000


def test_refunds_summing_past_paid_are_rejected_with_nothing_changed():
    attribution = engine()
    attribution.apply(fact("order_paid", promoter=A, order="O1", amount=12900))
    attribution.apply(fact("order_refund", order="O1", amount=4900))
    before = snapshot(attribution)
    with pytest.raises(Rejected, match=r"refund exceeds amount paid \(12900\)"):
        attribution.apply(fact("order_refund", order="O1", amount=9000))
    assert snapshot(attribution) == before
    attribution.apply(fact("order_refund", order="O1", amount=8000))
    assert attribution.orders["O1"].refunded == 12900


def test_a_second_order_paid_for_the_same_order_is_rejected():
    attribution = engine()
    attribution.apply(fact("order_paid", order="O1", amount=100))
    before = snapshot(attribution)
    with pytest.raises(Rejected, match="order O1 was already paid"):
        attribution.apply(fact("order_paid", viewer="V2", promoter=A, order="O1", amount=100))
    with pytest.raises(Rejected, match="order O1 was already paid"):
        attribution.apply(fact("order_paid", order="O1", amount=100, live=L2))
    assert snapshot(attribution) == before


def test_a_refund_on_an_unknown_order_is_rejected():
    attribution = engine()
    with pytest.raises(Rejected, match="refund on unknown order O9"):
        attribution.apply(fact("order_refund", order="O9", amount=1))
    assert not attribution.stats and not attribution.orders


def test_a_refund_on_an_order_of_another_live_is_rejected():
    attribution = engine()
    attribution.apply(fact("order_paid", order="O1", amount=100))
    with pytest.raises(Rejected, match="another live"):
        attribution.apply(fact("order_refund", order="O1", amount=1, live=L2))


def test_a_reservation_while_holding_one_changes_no_count_but_moves_the_binding():
    attribution = engine(mode=LAST_TOUCH)
    attribution.apply(fact("reservation", promoter=A))
    attribution.apply(fact("reservation", promoter=B, at=T0 + DAY))
    assert row(attribution, A)["reservations"] == 1
    assert row(attribution, B)["reservations"] == 0
    assert attribution.viewers[(L1, "V1")].bound == B


def test_a_reservation_cancel_takes_it_from_whoever_it_was_credited_to():
    attribution = engine(mode=LAST_TOUCH)
    attribution.apply(fact("reservation", promoter=A))
    attribution.apply(fact("room_enter", promoter=B))
    attribution.apply(fact("reservation_cancel"))
    assert row(attribution, A)["reservations"] == 0
    assert row(attribution, B)["reservations"] == 0
    attribution.apply(fact("reservation"))
    assert row(attribution, B)["reservations"] == 1


def test_a_reservation_cancel_without_a_reservation_changes_nothing():
    attribution = engine()
    attribution.apply(fact("reservation_cancel", promoter=A))
    assert not any(any(r) for r in attribution.stats.values())


@pytest.mark.parametrize("kind, figure", [("room_enter", "entered"), ("follow", "follows"),
                                          ("capture", "captures")])
def test_a_viewer_counts_once_per_live_in_the_row_of_the_first_event(kind, figure):
    attribution = engine(mode=LAST_TOUCH)
    attribution.apply(fact(kind))  # V1 first: unattributed
    attribution.apply(fact("reservation", promoter=A))
    attribution.apply(fact(kind, at=T0 + DAY))  # V1 again, now bound to A: not counted again
    attribution.apply(fact("reservation", viewer="V2", promoter=A))
    attribution.apply(fact(kind, viewer="V2"))  # V2 first while bound to A
    attribution.apply(fact(kind, live=L2))  # V1 in another live counts there
    assert row(attribution, None)[figure] == 1
    assert row(attribution, A)[figure] == 1
    assert row(attribution, None, live=L2)[figure] == 1


def test_a_buyer_counts_once_in_the_row_of_the_first_order():
    attribution = engine()
    attribution.apply(fact("order_paid", order="O1", amount=100))
    attribution.apply(fact("order_paid", promoter=A, order="O2", amount=200))
    assert (row(attribution, None)["buyers"], row(attribution, None)["orders"]) == (1, 1)
    assert (row(attribution, A)["buyers"], row(attribution, A)["orders"]) == (0, 1)
    assert row(attribution, A)["gmv"] == 200


def test_online_keeps_the_peak():
    attribution = engine()
    for count in (5, 9, 3):
        attribution.apply(fact("online", viewer="account", count=count))
    assert attribution.lives[L1].peak_online == 9
    assert attribution.changed_lives == {L1}
    assert not attribution.stats


def test_room_leave_and_a_capture_outside_any_live_change_nothing():
    attribution = engine()
    attribution.apply(fact("room_leave", promoter=A))
    attribution.apply(fact("capture", live=None, attrs={"channel": "wecom"}))
    assert not attribution.stats and not attribution.viewers


def transition(kind, at=T0, announced=T0, live=L1):
    return fact(kind, viewer="system", at=at, live=live,
                attrs={"announced_at": announced.isoformat()})


def test_live_transitions():
    attribution = engine()
    attribution.apply(transition("live_started"))
    assert attribution.lives[L1].state == LIVE
    attribution.apply(transition("live_ended"))
    assert attribution.lives[L1].state == ENDED
    attribution.apply(fact("follow", at=T0 + DAY))
    attribution.apply(fact("order_paid", order="O1", amount=1, at=T0 + DAY))
    assert row(attribution, None)["follows"] == 1 and row(attribution, None)["orders"] == 1
    attribution.apply(transition("live_cancelled", live=L2))
    assert attribution.lives[L2].state == CANCELLED
    assert attribution.changed_lives == {L1, L2}


@pytest.mark.parametrize("path, kind, message", [
    ((), "live_ended", "the live is scheduled: it cannot end"),
    (("live_started",), "live_started", "the live is on air: it cannot start"),
    (("live_started",), "live_cancelled", "the live is on air: it cannot be cancelled"),
    (("live_started", "live_ended"), "live_started", "the live is ended: it cannot start"),
    (("live_started", "live_ended"), "live_cancelled", "the live is ended: it cannot be cancelled"),
    (("live_cancelled",), "live_started", "the live is cancelled: it cannot start"),
    (("live_cancelled",), "live_cancelled", "the live is cancelled: it cannot be cancelled"),
])
def test_invalid_transitions_are_rejected(path, kind, message):
    attribution = engine()
    for step in path:
        attribution.apply(transition(step))
    state = attribution.lives[L1].state
    with pytest.raises(Rejected, match=message):
        attribution.apply(transition(kind))
    assert attribution.lives[L1].state == state


@pytest.mark.parametrize("kind", ["reservation", "room_enter", "online", "order_paid", "follow"])
def test_events_for_a_cancelled_live_are_rejected(kind):
    attribution = engine()
    attribution.apply(transition("live_cancelled"))
    with pytest.raises(Rejected, match="live is cancelled"):
        attribution.apply(fact(kind, order="O1" if kind == "order_paid" else None,
                               amount=1 if kind == "order_paid" else None,
                               count=1 if kind == "online" else None))


def test_cancelling_resets_reservations():
    attribution = engine()
    attribution.apply(fact("reservation", promoter=A))
    attribution.apply(fact("reservation", viewer="V2"))
    attribution.apply(fact("reservation", viewer="V3", live=L2))
    attribution.apply(fact("room_enter", viewer="V4", promoter=A))
    attribution.apply(transition("live_cancelled"))
    assert row(attribution, A)["reservations"] == 0
    assert row(attribution, None)["reservations"] == 0
    assert row(attribution, A)["entered"] == 1
    assert not attribution.viewers[(L1, "V1")].reserved
    assert attribution.viewers[(L1, "V1")].reserved_for is None
    assert attribution.reset_lives == {L1}
    assert row(attribution, None, live=L2)["reservations"] == 1


@pytest.mark.parametrize("late, lapsed", [
    (timedelta(hours=1, seconds=1), True),
    (timedelta(hours=3), True),
    (timedelta(hours=1), False),
    (timedelta(minutes=59), False),
    (-timedelta(minutes=10), False),
])
def test_starting_late_lets_reservations_lapse(late, lapsed):
    attribution = engine()
    attribution.apply(fact("reservation", promoter=A))
    attribution.apply(transition("live_started", at=T0 + late, announced=T0))
    assert attribution.lives[L1].lapsed is lapsed
    assert row(attribution, A)["reservations"] == 1


def test_start_without_an_announced_time_does_not_lapse():
    attribution = engine()
    attribution.apply(fact("live_started", viewer="system", at=T0 + DAY))
    assert attribution.lives[L1].lapsed is False


# --- properties over random streams ----------------------------------------------------------

VIEWERS = ["V1", "V2", "V3", "V4"]
PROMOTERS = [A, B, C, None, None]
ORDERS = ["O1", "O2", "O3", "O4"]
# Repeats weight the mix: mostly viewer events, the odd state change.
KINDS = ["reservation"] * 4 + ["reservation_cancel"] * 2 + ["room_enter"] * 4 + [
    "room_leave", "follow", "capture", "online", "live_started", "live_ended", "live_cancelled"
] + ["order_paid"] * 4 + ["order_refund"] * 3


@st.composite
def facts(draw):
    kind = draw(st.sampled_from(KINDS))
    at = T0 + timedelta(seconds=draw(st.integers(0, 60 * 86400)))
    live = draw(st.sampled_from([L1, L2]))
    if kind.startswith("live_"):
        announced = T0 + timedelta(minutes=draw(st.integers(0, 60 * 1440)))
        return fact(kind, viewer="system", at=at, live=live,
                    attrs={"announced_at": announced.isoformat()})
    if kind == "capture" and draw(st.booleans()) and draw(st.booleans()):
        live = None
    return fact(kind, viewer=draw(st.sampled_from(VIEWERS)), at=at, live=live,
                promoter=draw(st.sampled_from(PROMOTERS)),
                order=draw(st.sampled_from(ORDERS)) if kind.startswith("order_") else None,
                amount=draw(st.integers(0, 20000) if kind == "order_paid" else st.integers(0, 3000))
                if kind.startswith("order_") else None,
                count=draw(st.integers(0, 5000)) if kind == "online" else None)


# Long enough that orders are refunded, bindings expire and lives change state within one stream.
streams = st.lists(facts(), min_size=15, max_size=80)
lives = st.fixed_dictionaries({L1: st.tuples(st.sampled_from([FIRST_TOUCH, LAST_TOUCH]),
                                             st.sampled_from([1, 7, 30])),
                               L2: st.tuples(st.sampled_from([FIRST_TOUCH, LAST_TOUCH]),
                                             st.sampled_from([1, 7, 30]))})
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def live_states(config):
    return {live: LiveState(mode=mode, binding_days=days) for live, (mode, days) in config.items()}


def apply_all(attribution, stream):
    accepted = []
    for item in stream:
        try:
            attribution.apply(item)
        except Rejected:
            accepted.append(False)
        else:
            accepted.append(True)
    return accepted


class Reference:
    """What the contract says the totals are, computed without any notion of credit."""

    def __init__(self):
        self.state = defaultdict(lambda: SCHEDULED)
        self.orders = {}
        self.holding = defaultdict(set)
        self.sets = defaultdict(set)
        self.sums = defaultdict(int)
        self.peak = defaultdict(int)

    def accepts(self, f) -> bool:
        if f.live is None:
            return True
        allowed = {"live_started": (SCHEDULED, LIVE), "live_ended": (LIVE, ENDED),
                   "live_cancelled": (SCHEDULED, CANCELLED)}
        if f.type in allowed:
            source, target = allowed[f.type]
            if self.state[f.live] != source:
                return False
            self.state[f.live] = target
            if target == CANCELLED:
                self.holding[f.live].clear()
            return True
        if self.state[f.live] == CANCELLED:
            return False
        if f.type == "order_paid":
            if f.order in self.orders:
                return False
            self.orders[f.order] = [f.live, f.amount, 0]
            self.sets[(f.live, "buyers")].add(f.viewer)
            self.sums[(f.live, "orders")] += 1
            self.sums[(f.live, "gmv")] += f.amount
        elif f.type == "order_refund":
            order = self.orders.get(f.order)
            if order is None or order[0] != f.live or order[2] + f.amount > order[1]:
                return False
            order[2] += f.amount
            self.sums[(f.live, "refunded")] += f.amount
        elif f.type == "reservation":
            self.holding[f.live].add(f.viewer)
        elif f.type == "reservation_cancel":
            self.holding[f.live].discard(f.viewer)
        elif f.type == "online":
            self.peak[f.live] = max(self.peak[f.live], f.count)
        else:
            figure = {"room_enter": "entered", "follow": "follows", "capture": "captures"}.get(f.type)
            if figure:
                self.sets[(f.live, figure)].add(f.viewer)
        return True

    def totals(self, live) -> dict:
        figures = {name: len(self.sets[(live, name)]) for name in ("entered", "buyers", "follows",
                                                                   "captures")}
        figures.update({name: self.sums[(live, name)] for name in ("orders", "gmv", "refunded")})
        figures["reservations"] = len(self.holding[live])
        return figures


@PROPERTY
@given(config=lives, stream=streams)
def test_rows_add_up_to_the_totals_and_nothing_is_negative(config, stream):
    attribution = Attribution(lives=live_states(config))
    accepted = apply_all(attribution, stream)
    reference = Reference()
    assert accepted == [reference.accepts(f) for f in stream]
    for live in (L1, L2):
        rows = [figures for (live_id, _), figures in attribution.stats.items() if live_id == live]
        summed = dict(zip(FIGURES, map(sum, zip(*rows)))) if rows else dict.fromkeys(FIGURES, 0)
        assert summed == reference.totals(live)
        assert attribution.lives[live].peak_online == reference.peak[live]
        assert attribution.lives[live].state == reference.state[live]
    for figures in attribution.stats.values():
        assert min(figures) >= 0


class Store:
    """The derived tables, and ingest's protocol around them: load what a batch touches,
    apply, write back only what the engine says changed, add the deltas, apply resets."""

    def __init__(self, config):
        self.lives = live_states(config)
        self.viewers = {}
        self.orders = {}
        self.totals = defaultdict(lambda: [0] * len(FIGURES))

    def batch(self, stream):
        live_ids = {f.live for f in stream if f.live is not None}
        viewer_ids = {f.viewer for f in stream if f.live is not None}
        order_ids = {f.order for f in stream if f.order is not None}
        attribution = Attribution(
            lives={k: copy.copy(v) for k, v in self.lives.items() if k in live_ids},
            viewers={k: copy.copy(v) for k, v in self.viewers.items()
                     if k[0] in live_ids and k[1] in viewer_ids},
            orders={k: copy.copy(v) for k, v in self.orders.items() if k in order_ids})
        accepted = apply_all(attribution, stream)
        for key in attribution.changed_viewers:
            self.viewers[key] = copy.copy(attribution.viewers[key])
        for key in attribution.changed_orders:
            self.orders[key] = copy.copy(attribution.orders[key])
        for key in attribution.changed_lives:
            self.lives[key] = copy.copy(attribution.lives[key])
        for key, delta in attribution.stats.items():
            self.totals[key] = [a + b for a, b in zip(self.totals[key], delta)]
        for live in attribution.reset_lives:
            for (live_id, _), figures in self.totals.items():
                if live_id == live:
                    figures[RESERVATIONS] = 0
            for (live_id, _), viewer in self.viewers.items():
                if live_id == live:
                    viewer.reserved, viewer.reserved_for = False, None
        return accepted


def nonzero(stats):
    return {key: list(figures) for key, figures in stats.items() if any(figures)}


@PROPERTY
@given(config=lives, stream=streams, cuts=st.lists(st.integers(0, 80), min_size=1, max_size=8))
def test_batches_carrying_state_forward_sum_to_one_pass(config, stream, cuts):
    one_pass = Attribution(lives=live_states(config))
    expected = apply_all(one_pass, stream)

    store = Store(config)
    accepted = []
    bounds = sorted({0, len(stream), *(c % len(stream) for c in cuts)})
    for start, end in zip(bounds, bounds[1:]):
        accepted += store.batch(stream[start:end])

    assert accepted == expected
    assert nonzero(store.totals) == nonzero(one_pass.stats)
    assert store.orders == one_pass.orders
    assert store.lives == one_pass.lives
    assert {k: v for k, v in store.viewers.items() if v != ViewerState()} == \
        {k: v for k, v in one_pass.viewers.items() if v != ViewerState()}


@PROPERTY
@given(config=lives, stream=streams)
def test_buyers_and_refunds_are_bounded_per_row(config, stream):
    attribution = Attribution(lives=live_states(config))
    apply_all(attribution, stream)
    buyers_of = defaultdict(set)
    for order in attribution.orders.values():
        buyers_of[(order.live, order.promoter)].add(order.viewer)
        assert 0 <= order.refunded <= order.paid
    for key, figures in attribution.stats.items():
        values = dict(zip(FIGURES, figures))
        assert values["buyers"] <= len(buyers_of[key])
        assert values["buyers"] <= values["orders"]
        assert values["refunded"] <= values["gmv"]
