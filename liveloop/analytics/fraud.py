"""The fraud-flag projection (events.projections) storing rules.fraud: what ingest loads and
writes for a batch, what a rebuild compares and replaces. The tables are ReservationSignal and
PromoterStats' two flag columns."""
from __future__ import annotations

from collections import defaultdict

from django.db import connection

from liveloop.analytics.models import PromoterStats, ReservationSignal
from liveloop.events.models import LiveViewer
from liveloop.events.own_ids import holders, own_ids
from liveloop.events.projections import Projection, register
from liveloop.lib.bulk import (adapt_time, insert_all, insert_rows, select_in, sql_ids, time_adapter, time_reader,
                               update_rows)
from liveloop.promoters.models import Promoter
from liveloop.rules.fraud import DEVICE, NET, FarmWatch, Signal, self_referrals, signal_keys

FLAGS = ("self_referrals", "suspect_reservations")


def load(org, events, lives: dict, viewer_ids) -> FarmWatch:
    """A FarmWatch holding the stored entries a batch can join or flag: those of its viewers
    (one entry per viewer), and those sharing a key with its reservations within the window of
    their times. Nothing is read for a batch without keyed reservations."""
    watch = FarmWatch()
    keyed = [(lives[e.live], e.at, signal_keys(e.attrs)) for _, e in events
             if e.type == "reservation" and e.live in lives and signal_keys(e.attrs)]
    if not keyed:
        return watch
    live_ids = {live for live, _, _ in keyed}
    since = min(at for _, at, _ in keyed) - watch.window
    until = max(at for _, at, _ in keyed) + watch.window
    rows = (f"SELECT id, live_id, promoter_id, viewer, at, device, net, suspect "
            f"FROM {connection.ops.quote_name(ReservationSignal._meta.db_table)} "
            f"WHERE org_id = %s AND live_id IN ({sql_ids(live_ids)})")
    found = {}
    for kind in (DEVICE, NET):  # the column names
        keys = {k[kind] for _, _, k in keyed if kind in k}
        found.update((r[0], r) for r in select_in(f"{rows} AND at >= %s AND at <= %s AND {kind}", org.pk, keys,
                                                  [adapt_time(since), adapt_time(until)]))
    found.update((r[0], r) for r in select_in(f"{rows} AND viewer", org.pk, viewer_ids))
    read_time = time_reader()
    for pk, live, promoter, viewer, at, device, net, suspect in found.values():
        watch.add_known(live, promoter, viewer, Signal(read_time(at), device, net, suspect))
        watch.known[(live, promoter, viewer)] = pk
    return watch


def write(org, watch: FarmWatch) -> None:
    adapt = time_adapter()
    new, flagged = [], []
    for entry in watch.changed:
        signal = watch.signals[entry]
        if entry in watch.known:
            flagged.append((watch.known[entry], signal.suspect))
        else:
            new.append((org.pk, *entry, adapt(signal.at), signal.device, signal.net, signal.suspect))
    insert_rows(ReservationSignal, ("org_id", "live_id", "promoter_id", "viewer", "at", "device", "net", "suspect"),
            new)
    update_rows(ReservationSignal, {"id": "bigint", "suspect": "boolean"}, flagged,
            sets="suspect = v.suspect", where="t.id = v.id")
    deltas = [(live, promoter, n) for (live, promoter), n in watch.suspects.items() if n]
    update_rows(PromoterStats, {"live_id": "bigint", "promoter_id": "bigint", "n": "bigint"}, deltas,
            sets="suspect_reservations = t.suspect_reservations + v.n",
            where=f"t.org_id = {int(org.pk)} AND t.live_id = v.live_id AND t.promoter_id = v.promoter_id")


# --- self-referrals: the state of the promoter's own ids ---------------------------------------

def refresh_self_referrals(org, promoters, lives=None) -> None:
    """Recount the self-referrals of `promoters` (in `lives`, else every live) from the viewers'
    state, with the promoters' own ids as they are now. Ingest calls it for the promoters whose
    own ids a batch touched; linking or unlinking a promoter's openid calls it too."""
    promoters = set(promoters)
    if not promoters:
        return
    own = own_ids(org, promoters)
    stats = PromoterStats.objects.for_org(org).filter(promoter_id__in=list(promoters))
    viewers = LiveViewer.objects.for_org(org).filter(reserved=True, reserved_for_id__in=list(promoters),
                                                     viewer__in=[v for ids in own.values() for v in ids])
    if lives is not None:
        stats = stats.filter(live_id__in=list(lives))
        viewers = viewers.filter(live_id__in=list(lives))
    counts = self_referrals(viewers.values_list("live_id", "viewer", "reserved_for_id"), own) if own else {}
    stored = dict(((live, p), n) for live, p, n in stats.values_list("live_id", "promoter_id", "self_referrals"))
    for key in set(stored) | set(counts):
        if key in stored and stored[key] != counts.get(key, 0):
            stats.filter(live_id=key[0], promoter_id=key[1]).update(self_referrals=counts.get(key, 0))


def after_batch(org, watch: FarmWatch, attribution, moved: set[int]) -> None:
    """Self-referrals move only when the reservation of a viewer who is some promoter's own id
    moves, or when own ids themselves move (a link made to a promoter's openid): recount those."""
    touched = defaultdict(set)
    for live, viewer in watch.touched:
        touched[viewer].add(live)
    if attribution.reset_lives:
        PromoterStats.objects.for_org(org).filter(live_id__in=list(attribution.reset_lives)).exclude(
            self_referrals=0).update(self_referrals=0)
    # A promoter whose own ids moved is recounted in every live; one whose own id's reservation
    # moved, in the lives it moved in. (Recounting a promoter in both sets only in the touched
    # lives left their other lives' count stale: found by tests/events/test_exact_properties.py.)
    if moved:
        refresh_self_referrals(org, moved)
    promoters = (holders(org, touched) if touched else set()) - moved
    if promoters:
        lives = {live for ids in touched.values() for live in ids}
        refresh_self_referrals(org, promoters, lives)


# --- rebuild -----------------------------------------------------------------------------------

class Replayed:
    """A replay's flags. One FarmWatch for every part: which reservations are suspect depends on
    the set of keyed reservations alone, not on the order they come in (rules.fraud), so the
    parts may feed it one after the other. Self-referrals follow the reservations held at the
    end, added up part by part."""

    def __init__(self, org):
        self.watch = FarmWatch()
        self.own = own_ids(org, Promoter.objects.for_org(org).exclude(openid="").values_list("pk", flat=True))
        self.self_referrals: defaultdict = defaultdict(int)

    def end_part(self, attribution) -> None:
        held = ((live, viewer, v.reserved_for) for (live, viewer), v in attribution.viewers.items() if v.reserved)
        for key, n in self_referrals(held, self.own).items():
            self.self_referrals[key] += n
        self.watch.touched.clear()  # ingest's: where self-referrals can change

    def flags(self) -> dict:
        """(live, promoter) -> [self_referrals, suspect_reservations]."""
        flags: dict = defaultdict(lambda: [0, 0])
        for key, n in self.self_referrals.items():
            if n:
                flags[key][0] = n
        for key, n in self.watch.suspects.items():
            if n:
                flags[key][1] = n
        return dict(flags)


def differences(org, replayed: Replayed, names: dict, codes: dict) -> list[str]:
    found = []
    flags = replayed.flags()
    stored = {(r[0], r[1]): list(r[2:]) for r in PromoterStats.objects.for_org(org)
              .values_list("live_id", "promoter_id", *FLAGS) if any(r[2:])}
    for key in sorted(set(stored) | set(flags), key=lambda k: (k[0], k[1] or 0)):
        if stored.get(key) != flags.get(key):
            found.append(f"live {names.get(key[0])} promoter {codes.get(key[1], key[1])} "
                         f"(self-referrals, suspect reservations): stored {stored.get(key)}, replay {flags.get(key)}")
    rows = {(r[0], r[1], r[2]): tuple(r[3:]) for r in ReservationSignal.objects.for_org(org).values_list(
        "live_id", "promoter_id", "viewer", "at", "device", "net", "suspect")}
    replay = {k: (s.at, s.device, s.net, s.suspect) for k, s in replayed.watch.signals.items()}
    for key in sorted(set(rows) | set(replay), key=str):
        if rows.get(key) != replay.get(key):
            found.append(f"live {names.get(key[0])} promoter {codes.get(key[1], key[1])} reservation signal "
                         f"of {key[2]}: stored {rows.get(key)}, replay {replay.get(key)}")
    return found


def replace(org, replayed: Replayed) -> None:
    """Overwrite the flags and the signals with a replay's."""
    # Plain rows (one statement per table on PostgreSQL), not model instances through
    # bulk_update's CASE WHEN and bulk_create.
    org_id, adapt = org.pk, time_adapter()
    flags = replayed.flags()
    update_rows(PromoterStats, {"id": "bigint", **dict.fromkeys(FLAGS, "bigint")},
            [(pk, *flags.get((live, promoter), (0, 0))) for pk, live, promoter in
             PromoterStats.objects.for_org(org).values_list("pk", "live_id", "promoter_id")],
            sets=", ".join(f"{f} = v.{f}" for f in FLAGS), where="t.id = v.id")
    ReservationSignal.objects.for_org(org).delete()
    insert_all(ReservationSignal, ("org_id", "live_id", "promoter_id", "viewer", "at", "device", "net", "suspect"),
               ((org_id, *entry, adapt(s.at), s.device, s.net, s.suspect)
                for entry, s in replayed.watch.signals.items()))


class FraudFlags(Projection):
    name = "fraud"
    order = 40

    def load(self, batch):
        return load(batch.org, batch.events, batch.lives, batch.viewer_ids)

    def fact(self, state, fact, counted) -> None:
        state.fact(fact, counted)

    def write(self, batch, state) -> None:
        write(batch.org, state)
        after_batch(batch.org, state, batch.attribution, batch.own_ids_moved())

    def start(self, replay):
        return Replayed(replay.org)

    def part(self, replay, state):
        return state.watch

    def end_part(self, replay, state, fed) -> list[str]:
        state.end_part(replay.attribution)
        return []

    def differences(self, replay, state) -> list[str]:
        return differences(replay.org, state, replay.names, replay.codes)

    def replace(self, replay, state) -> None:
        replace(replay.org, state)


projection = register(FraudFlags())
