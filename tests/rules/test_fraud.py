"""rules.fraud on hand-made streams: when a burst of reservations through one promoter from one
device or network is flagged, and that the flags do not depend on the order entries arrive in."""
import itertools
import random
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from liveloop.rules.attribution import Attribution, Fact, LiveState
from liveloop.rules.fraud import DEVICE, NET, THRESHOLDS, WINDOW, FarmWatch, self_referrals, signal_keys

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
LIVE, A, B = 1, 10, 20
DEVICE_N = THRESHOLDS[DEVICE]
NET_N = THRESHOLDS[NET]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def feed(entries, watch=None):
    """entries: (promoter, viewer, minutes, attrs)."""
    watch = watch or FarmWatch()
    for promoter, viewer, minutes, attrs in entries:
        watch.reserved(LIVE, promoter, viewer, at(minutes), attrs)
    return watch


def suspects(watch):
    return {entry for entry, signal in watch.signals.items() if signal.suspect}


def test_exactly_the_threshold_of_viewers_on_one_device_flags_them_all():
    watch = feed([(A, f"V{n}", n, {"device": "d1"}) for n in range(DEVICE_N)])
    assert suspects(watch) == {(LIVE, A, f"V{n}") for n in range(DEVICE_N)}
    assert watch.suspects == {(LIVE, A): DEVICE_N}


def test_one_viewer_below_the_threshold_flags_nothing():
    watch = feed([(A, f"V{n}", n, {"device": "d1"}) for n in range(DEVICE_N - 1)])
    assert suspects(watch) == set() and not any(watch.suspects.values())


def test_the_earlier_reservations_inside_the_window_become_suspect_when_it_trips():
    watch = feed([(A, f"V{n}", n, {"device": "d1"}) for n in range(DEVICE_N - 1)])
    assert not suspects(watch)
    feed([(A, "late", DEVICE_N, {"device": "d1"})], watch)
    assert len(suspects(watch)) == DEVICE_N and watch.suspects[(LIVE, A)] == DEVICE_N


def test_reservations_spread_wider_than_the_window_are_not_a_burst():
    step = WINDOW.total_seconds() / 60 / (DEVICE_N - 1)  # the last lands exactly one window after the first
    watch = feed([(A, f"V{n}", n * step, {"device": "d1"}) for n in range(DEVICE_N)])
    assert suspects(watch) == set()
    # Just inside the window, the same viewers are a burst.
    watch = feed([(A, f"V{n}", n * step - (0.01 if n == DEVICE_N - 1 else 0), {"device": "d1"})
                  for n in range(DEVICE_N)])
    assert len(suspects(watch)) == DEVICE_N


def test_only_the_reservations_inside_a_busy_window_are_flagged():
    entries = [(A, "early", -30, {"device": "d1"})]
    entries += [(A, f"V{n}", n, {"device": "d1"}) for n in range(DEVICE_N)]
    entries += [(A, "later", 60, {"device": "d1"})]
    assert suspects(feed(entries)) == {(LIVE, A, f"V{n}") for n in range(DEVICE_N)}


def test_different_promoters_from_one_device_do_not_combine():
    entries = [(A if n % 2 else B, f"V{n}", n, {"device": "d1"}) for n in range(2 * DEVICE_N - 2)]
    watch = feed(entries)
    assert suspects(watch) == set()


def test_different_devices_and_lives_do_not_combine():
    watch = FarmWatch()
    for n in range(DEVICE_N - 1):
        watch.reserved(LIVE, A, f"V{n}", at(n), {"device": "d1"})
        watch.reserved(LIVE + 1, A, f"W{n}", at(n), {"device": "d1"})
        watch.reserved(LIVE, A, f"X{n}", at(n), {"device": "d2"})
    assert suspects(watch) == set()


def test_the_same_viewer_twice_counts_once():
    watch = feed([(A, "V0", 0, {"device": "d1"}), (A, "V0", 1, {"device": "d1"})]
                 + [(A, f"V{n}", n, {"device": "d1"}) for n in range(1, DEVICE_N - 1)])
    assert suspects(watch) == set()
    assert len(watch.signals) == DEVICE_N - 1


def test_a_network_needs_more_viewers_than_a_device():
    below = feed([(A, f"V{n}", n / 2, {"net": "n1"}) for n in range(NET_N - 1)])
    assert suspects(below) == set()
    at_threshold = feed([(A, f"V{n}", n / 2, {"net": "n1"}) for n in range(NET_N)])
    assert len(suspects(at_threshold)) == NET_N


def test_device_and_network_are_separate_clusters_of_one_entry():
    # Each viewer has its own device but all share a network: only the network can trip.
    watch = feed([(A, f"V{n}", n / 2, {"device": f"d{n}", "net": "n1"}) for n in range(NET_N)])
    assert len(suspects(watch)) == NET_N and watch.suspects[(LIVE, A)] == NET_N


def test_reservations_without_keys_are_not_watched():
    watch = feed([(A, f"V{n}", n, None) for n in range(DEVICE_N + 2)])
    assert watch.signals == {} and not watch.suspects
    assert signal_keys({"device": "x" * 65, "net": 7}) == {}
    assert signal_keys({"device": "d", "net": "n", "gender": "f"}) == {"device": "d", "net": "n"}


@settings(max_examples=60)
@given(st.lists(st.tuples(st.sampled_from([A, B]), st.integers(0, 9), st.integers(0, 40),
                          st.sampled_from(["d1", "d2"])), max_size=25),
       st.randoms(use_true_random=False))
def test_the_flags_do_not_depend_on_the_order_entries_arrive_in(raw, rnd):
    entries = [(p, f"V{v}", m, {"device": d}) for p, v, m, d in raw]
    # First arrival per (promoter, viewer) decides its entry; keep those fixed, shuffle the rest.
    firsts = list({(p, v): (p, v, m, a) for p, v, m, a in reversed(entries)}.values())
    shuffled = firsts[:]
    rnd.shuffle(shuffled)
    one, other = feed(firsts), feed(shuffled)
    assert suspects(one) == suspects(other)
    assert {k: v for k, v in one.suspects.items() if v} == {k: v for k, v in other.suspects.items() if v}
    # And the flags are exactly the entries inside some window with enough viewers.
    expected = set()
    for (promoter, key), group in itertools.groupby(
            sorted(firsts, key=lambda e: (e[0], e[3]["device"])), key=lambda e: (e[0], e[3]["device"])):
        group = list(group)
        for anchor in group:
            inside = [e for e in group if anchor[2] <= e[2] < anchor[2] + WINDOW.total_seconds() / 60]
            if len(inside) >= DEVICE_N:
                expected |= {(LIVE, e[0], e[1]) for e in inside}
    assert suspects(one) == expected


def take(watch, attribution, fact):
    """As ingest and a replay do: attribution applies the fact, the watch sees what it counted."""
    watch.fact(fact, attribution.apply(fact))


def test_attribution_decides_the_promoter_a_reservation_is_watched_for():
    attribution = Attribution(lives={LIVE: LiveState()})
    watch = FarmWatch()
    # First touch: V0 is bound to A by a room entry, so its later reservation through B is A's.
    take(watch, attribution, Fact("room_enter", LIVE, "V0", A, None, None, None, at(0)))
    take(watch, attribution, Fact("reservation", LIVE, "V0", B, None, None, None, at(1),
                                                {"device": "d1"}))
    assert set(watch.signals) == {(LIVE, A, "V0")}
    # Cancelling and reserving again is the same viewer: still one entry.
    take(watch, attribution, Fact("reservation_cancel", LIVE, "V0", None, None, None, None, at(2)))
    take(watch, attribution, Fact("reservation", LIVE, "V0", A, None, None, None, at(3),
                                                {"device": "d1"}))
    assert len(watch.signals) == 1 and (LIVE, "V0") in watch.touched
    # An unattributed reservation is nobody's burst.
    take(watch, attribution, Fact("reservation", LIVE, "V9", None, None, None, None, at(4),
                                                {"device": "d1"}))
    assert len(watch.signals) == 1


def test_self_referrals_are_reservations_held_by_the_credited_promoters_own_ids():
    own = {A: frozenset({"oA", "personA"}), B: frozenset({"oB"})}
    held = [(LIVE, "oA", A), (LIVE, "personA", A), (LIVE, "oB", A), (LIVE, "V1", B),
            (LIVE + 1, "oB", B), (LIVE, "oA", None)]
    assert self_referrals(held, own) == {(LIVE, A): 2, (LIVE + 1, B): 1}
    assert self_referrals(held, {}) == {}


def test_randomised_streams_stay_order_independent_at_scale():
    rnd = random.Random(7)
    firsts = [(A, f"V{n}", rnd.uniform(0, 120), {"device": rnd.choice(["d1", "d2", "d3"]),
                                                  "net": rnd.choice(["n1", "n2"])}) for n in range(300)]
    shuffled = firsts[:]
    rnd.shuffle(shuffled)
    assert suspects(feed(firsts)) == suspects(feed(shuffled))
