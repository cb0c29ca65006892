"""The derived tables as projections of the log (docs/architecture.md "The write path").

Ingest and rebuild run the order-dependent rules (rules.attribution: binding, refunds
following orders, identity links, lapse) once per fact and hand every accepted fact, with
the figure changes it counted, to each registered projection. A projection is one module
owning its tables, with the same few verbs for both callers:

- ingest: `load(batch)` reads the stored state the batch can touch and returns the batch's
  state; `fact(state, fact, counted)` takes each accepted fact in log order; `write(batch,
  state)` writes what the batch changed (additive figures summed by the database). All three
  run inside ingest's transaction with the organisation's lock held (lib.bulk.lock_org);
- rebuild (events.rebuild, in parts: one group of persons at a time): `start(replay)`
  returns the replay's state, once; `part(replay, state)` the state fed one part's facts
  (by default the same: a projection whose state is only totals); the same `fact` calls;
  `end_part(replay, state, fed)` folds what the part added into `state` and deals with the
  part's per-viewer rows as the replay's mode says — CHECK: returns their differences in
  words, REPLACE: writes them, KEEP: keeps them on `state`; then `differences(replay, state)`
  lists what the stored tables hold that the replay does not (and back), in words, and
  `replace(replay, state)` overwrites the tables with it.

A projection with nothing to do for a batch or a replay returns `NO_STATE` from `load` or
`start`: it is then not fed the facts (money's accrual has nothing to replay: the ledger is
append-only and checked against a replay by money.check).

Projections register themselves (`register`, from their app's `ready()`), so `events` imports
none of them: adding a derived table is one module and one registration. They run in
`order`: a projection reading another's table (money's accrual reads the figures) comes later.
"""
from __future__ import annotations

NO_STATE = None
# A replay's modes (events.rebuild): its per-viewer rows kept for a later compare or replace
# (one part), compared as each part ends, or written as each part ends.
KEEP, CHECK, REPLACE = "keep", "check", "replace"


class Projection:
    """The verbs, each doing nothing: a projection overrides those it needs."""
    name = ""
    order = 0
    # False: the projection has no per-fact part (it reads the batch or the replay as a whole).
    per_fact = True

    def load(self, batch):
        return NO_STATE

    def fact(self, state, fact, counted) -> None:
        pass

    def write(self, batch, state) -> None:
        pass

    def start(self, replay):
        return NO_STATE

    def part(self, replay, state):
        return state

    def end_part(self, replay, state, fed) -> list[str]:
        return []

    def differences(self, replay, state) -> list[str]:
        return []

    def replace(self, replay, state) -> None:
        pass


_registered: dict[str, Projection] = {}


def register(projection: Projection) -> Projection:
    """Add a projection (once per name: apps may be set up more than once in a process)."""
    _registered[projection.name] = projection
    return projection


def registered() -> list[Projection]:
    return sorted(_registered.values(), key=lambda p: (p.order, p.name))
