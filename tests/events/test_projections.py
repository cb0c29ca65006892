"""The write path's projections (events.projections, docs/architecture.md "The one write
path"): a derived table is one module and one registration; ingest and a replay feed it the
same accepted facts with what they counted, in log order, and nothing else."""
import pytest

from liveloop.events import projections as registry
from liveloop.events.ingest import ingest
from liveloop.events.projections import NO_STATE, Projection
from liveloop.events.rebuild import differences, replace, replay
from liveloop.rules.attribution import BUYERS, ENTERED, FOLLOWS, GMV, ORDERS, RESERVATIONS
from tests.actors import event


class Recorder(Projection):
    """A derived 'table' kept in memory: what it was handed, per batch and per replay."""
    name = "recorder"
    order = 99

    def __init__(self):
        self.batches, self.written, self.replayed = [], [], None

    def load(self, batch):
        self.batches.append([])
        return self.batches[-1]

    def fact(self, state, fact, counted):
        state.append((fact.type, fact.viewer, sorted(counted, key=lambda c: (c[1], c[2]))))

    def write(self, batch, state):
        self.written.append((batch.org.pk, len(state)))

    def start(self, replay):
        self.replayed = []
        return self.replayed

    def differences(self, replay, state):
        return [] if state == [f for batch in self.batches for f in batch] else ["recorder differs"]


@pytest.fixture
def recorder(monkeypatch):
    recorder = Recorder()
    monkeypatch.setitem(registry._registered, recorder.name, recorder)
    return recorder


def test_a_registered_projection_is_fed_every_accepted_fact_and_nothing_rejected(brand, recorder):
    live = brand.live(promoters=["A"])
    L = live.public_id
    promoter = live.programme.enrolments.get().promoter_id
    result = ingest(brand.org, [
        event("e1", "reservation", L, "V1", promoter="A"),
        event("e2", "room_enter", L, "V1"),
        event("e3", "order_refund", L, "V1", order="O9", amount=5),  # rejected: unknown order
        event("e4", "order_paid", L, "V1", order="O1", amount=12900),
        event("e1", "reservation", L, "V1", promoter="A"),  # a duplicate
    ])
    assert result.accepted == 3 and len(result.rejected) == 1 and result.duplicates == 1
    assert recorder.batches == [[
        ("reservation", "V1", [(promoter, RESERVATIONS, 1)]),
        ("room_enter", "V1", [(promoter, ENTERED, 1)]),
        ("order_paid", "V1", sorted([(promoter, ORDERS, 1), (promoter, GMV, 12900), (promoter, BUYERS, 1)],
                                    key=lambda c: (c[1], c[2]))),
    ]]
    assert recorder.written == [(brand.org.pk, 3)]
    # The same facts again, batched otherwise: a second ingest is a second batch.
    ingest(brand.org, [event("e5", "follow", L, "V1")])
    assert recorder.batches[-1] == [("follow", "V1", [(promoter, FOLLOWS, 1)])]


def test_a_replay_feeds_the_same_facts_in_log_order_and_asks_the_projection_to_compare(brand, recorder):
    live = brand.live(promoters=["A"])
    L = live.public_id
    ingest(brand.org, [event("e1", "reservation", L, "V1", promoter="A"),
                       event("e2", "room_enter", L, "V2")])
    ingest(brand.org, [event("e3", "order_paid", L, "V2", order="O1", amount=100),
                       event("e4", "room_leave", L, "V2")])
    replayed, problems = replay(brand.org)
    assert problems == []
    assert recorder.replayed == [f for batch in recorder.batches for f in batch]
    assert differences(brand.org, replayed) == []
    recorder.batches.append([("invented", "V9", [])])
    assert differences(brand.org, replayed) == ["recorder differs"]


def test_a_projection_with_nothing_to_do_is_not_fed(brand, monkeypatch):
    class Idle(Projection):
        name, order = "idle", 98

        def load(self, batch):
            return NO_STATE

        def fact(self, state, fact, counted):
            raise AssertionError("fed although it said NO_STATE")

    monkeypatch.setitem(registry._registered, "idle", Idle())
    live = brand.live(promoters=["A"])
    assert ingest(brand.org, [event("e1", "room_enter", live.public_id, "V1")]).accepted == 1
    replace(brand.org, replay(brand.org)[0])  # start() returns NO_STATE too (the default)


def test_the_registered_projections_run_in_their_order():
    names = [p.name for p in registry.registered()]
    # The figures first: the ledger's accrual reads them in the same transaction.
    assert names.index("live_figures") < names.index("money_accrual")
    assert {"live_figures", "money_accrual", "audience", "fraud"} <= set(names)
