"""A rebuild in parts (events.rebuild "In parts"): the log replayed one group of persons at a
time gives what a replay of the whole log gives, compared or written as each part ends."""
import random
import string
import uuid
from collections import Counter
from datetime import timedelta

from click.testing import CliRunner
from django.db import connection
from django.db.models import F

from liveloop.analytics.models import AudienceViewer, LiveMinute, LiveStats, PromoterStats
from liveloop.cli import main
from liveloop.events.models import LiveViewer, Order
from liveloop.events.rebuild import END, check, part_sql, parts_for, rebuild, replay
from liveloop.actions.lives import start_live
from tests.actors import event


def crowd(brand, viewers=40):
    """Viewers of two promoters and the public: reservations, entries, leaves, orders refunded
    by their buyers, follows, an online sample; some through a linked second id."""
    live = brand.live(promoters=["A", "B"], mode="last_touch")
    L, at = live.public_id, live.announced_at
    events = []
    for n in range(viewers):
        v, code = f"oViewer{n:03d}", ("A", "B", None)[n % 3]
        t = at + timedelta(minutes=n % 7)
        events += [event(f"r{n}", "reservation", L, v, at - timedelta(hours=1), promoter=code,
                         attrs={"gender": "女" if n % 2 else "男"}),
                   event(f"e{n}", "room_enter", L, v, t, touchpoint="community" if code else "public")]
        if n % 4 == 0:
            events += [event(f"o{n}", "order_paid", L, v, t + timedelta(minutes=1), order=f"O{n}", amount=1000 + n),
                       event(f"f{n}", "order_refund", L, v, t + timedelta(minutes=2), order=f"O{n}", amount=300)]
        if n % 5 == 0:
            events.append(event(f"l{n}", "room_leave", L, v, t + timedelta(minutes=3)))
        if n % 6 == 0:
            events.append(event(f"w{n}", "follow", L, v, t + timedelta(minutes=4), attrs={"unionid": f"u{n}"}))
    events.append(event("on", "online", L, "account", at + timedelta(minutes=2), count=321))
    half = len(events) // 2
    assert brand.send(events[:half]).json()["accepted"] == half
    start_live(live, at=at + timedelta(minutes=1))
    assert brand.send(events[half:]).json()["accepted"] == len(events) - half
    return live


def test_every_part_count_finds_no_difference_and_holds_part_of_the_viewers(brand):
    crowd(brand)
    assert check(brand.org, parts=1)[1] == []
    for parts in (2, 3, 5):
        replayed, found = check(brand.org, parts=parts)
        assert replayed.parts == parts and found == []


COMPARED = {LiveViewer: ("live_id", "viewer", "bound_id", "reserved", "entered", "bought"),
            Order: ("order", "promoter_id", "paid", "refunded"),
            AudienceViewer: ("viewer", "gender", "touchpoint", "open_since"),
            LiveMinute: ("minute", "entered", "orders", "room_enters", "room_leaves", "online_peak")}


def test_a_rebuild_in_parts_repairs_what_a_whole_replay_would(brand):
    live = crowd(brand)
    stored = {model: sorted(model.objects.for_org(brand.org).values_list(*columns))
              for model, columns in COMPARED.items()}
    PromoterStats.objects.for_org(brand.org).update(entered=F("entered") + 3)
    LiveViewer.objects.for_org(brand.org).filter(viewer__endswith="1").update(bought=True)
    AudienceViewer.objects.for_org(brand.org).filter(viewer__endswith="2").delete()
    LiveMinute.objects.for_org(brand.org).update(room_enters=0)
    _, found = check(brand.org, parts=3)
    assert any("entered: stored" in line for line in found)
    assert any("audience viewer" in line for line in found)
    assert any("room_enters" in line or "minute" in line for line in found)

    replayed, problems = rebuild(brand.org, parts=3)
    assert replayed.parts == 3 and problems == []
    assert check(brand.org, parts=2)[1] == []
    for model, columns in COMPARED.items():
        assert sorted(model.objects.for_org(brand.org).values_list(*columns)) == stored[model]
    assert LiveStats.objects.get(live=live).peak_online == 321


def test_a_refund_by_a_person_of_another_part_starts_the_replay_again_in_one_part(brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    buyers = [f"oBuyer{n}" for n in range(6)]
    brand.send([event(f"o{n}", "order_paid", L, v, order=f"O{n}", amount=500, promoter="A")
                for n, v in enumerate(buyers)])
    replayed, found = check(brand.org, parts=3)
    assert replayed.parts == 3 and found == []
    # The shop's refund names the buyer's other id, in another part.
    other = next(v for v in (f"oOther{n}" for n in range(50)) if part_of(v, 3) != part_of(buyers[0], 3))
    brand.send([event("f0", "order_refund", L, other, order="O0", amount=200)])
    calls = []
    replayed, found = check(brand.org, parts=3, stops={END: lambda a, part, parts: calls.append((part, parts))})
    assert replayed.parts == 1 and found == []
    assert calls[-1] == (0, 1)  # the stops are called again by the replay in one part
    Order.objects.for_org(brand.org).filter(order="O0").update(refunded=0)
    replayed, problems = rebuild(brand.org, parts=3)  # what the parts wrote before is rolled back
    assert replayed.parts == 1 and problems == []
    assert Order.objects.for_org(brand.org).get(order="O0").refunded == 200
    assert Order.objects.for_org(brand.org).count() == 6 and check(brand.org, parts=2)[1] == []


def part_of(person: str, parts: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {part_sql('x')} %% %s FROM (SELECT %s AS x) AS one", [parts, person])
        return cursor.fetchone()[0]


def test_the_parts_spread_persons_evenly(db):
    """Ids as WeChat, shops and the demo make them — openids, UUIDs, counters, a fixed
    suffix — over ten parts."""
    rng = random.Random(20)
    alphabet = string.ascii_letters + string.digits + "-_"
    ids = ([f"o{''.join(rng.choices(alphabet, k=27))}" for _ in range(300)]
           + [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(300)]
           + [f"V{n}" for n in range(300)] + [f"buyer{n}@shop" for n in range(300)])
    counts = Counter(part_of(i, 10) for i in ids)
    assert set(counts) == set(range(10))
    assert max(counts.values()) < 1.5 * len(ids) / 10, counts


def test_the_command_rebuilds_in_parts_of_the_configured_size(brand, settings):
    crowd(brand)
    settings.LIVELOOP_REPLAY_PART_EVENTS = 25
    assert parts_for(120) == 5
    PromoterStats.objects.for_org(brand.org).update(reservations=0)
    result = CliRunner().invoke(main, ["rebuild", "--check", "--org", brand.org.slug])
    assert result.exit_code == 1 and "reservations: stored 0" in result.output
    assert CliRunner().invoke(main, ["rebuild", "--org", brand.org.slug]).exit_code == 0
    result = CliRunner().invoke(main, ["rebuild", "--check", "--org", brand.org.slug])
    assert result.exit_code == 0, result.output
    assert replay(brand.org)[1] == []
