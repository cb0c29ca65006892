"""One person, many ids (issue #6 part 7): links declared by `identify` events or id attrs make
a person's reservation, order and capture count as one viewer; late links apply from their
place in the log on; a replay reaches the same persons and figures."""
from datetime import timedelta

import pytest
from click.testing import CliRunner

from liveloop.analytics.models import PromoterStats
from liveloop.cli import main
from liveloop.events.ingest import ingest
from liveloop.events.models import Event, LiveViewer, Order, ViewerLink
from liveloop.events.rebuild import differences, replace, replay
from liveloop.actions.lives import start_live
from liveloop.rules.events import EventError, parse_event
from liveloop.rules.identity import Identities
from tests.actors import EVENING, event

at = lambda minutes: EVENING + timedelta(minutes=minutes)  # noqa: E731


def test_links_join_ids_and_merge_persons():
    ids = Identities()
    assert ids.apply("mpA", {"unionid": "U1"}) == "mpA"
    assert ids.apply("shopA", {"unionid": "U1"}) == "mpA"  # U1 already belongs to mpA
    assert ids.apply("shopA", None) == "mpA"
    assert ids.apply("mpB", {"phone_hash": "H2"}) == "mpB"
    # A link between two persons: the second joins the first, with all its ids.
    assert ids.apply("H2", {"unionid": "U1"}) == "mpB"
    assert ids.person_of("shopA") == "mpB" == ids.person_of("mpA")
    assert ids.apply("stranger", None) == "stranger"
    # A proposal that is not committed changes nothing.
    person, links = ids.propose("new", {"unionid": "U9"})
    assert (person, ids.person_of("U9")) == ("new", "U9")


@pytest.mark.parametrize("raw, error", [
    ({"live": "L1", "attrs": {"unionid": "U"}}, "live: an identify event"),
    ({"attrs": {"city_tier": "1"}}, "attrs: an identify event names at least one other id"),
    ({"attrs": {"unionid": 7}}, "attrs.unionid: an id of the viewer"),
])
def test_identify_contract(raw, error):
    with pytest.raises(EventError, match=error):
        parse_event({"id": "i1", "type": "identify", "viewer": "v", "at": EVENING.isoformat(), **raw},
                    EVENING)


def test_one_person_counts_once_across_ids_and_late_links_apply_from_then_on(brand):
    live = brand.live(promoters=("PA", "PB"))
    L = live.public_id
    ingest(brand.org, [
        # Reserved in the mini-program through PA's invite; the relay knows the unionid.
        event("r1", "reservation", L, "mp-1", at=at(-60), promoter="PA", attrs={"unionid": "U1"}),
        # Someone else reserved through PB, with a phone hash only.
        event("r2", "reservation", L, "mp-2", at=at(-50), promoter="PB", attrs={"phone_hash": "H2"}),
    ], now=at(0))
    start_live(live, at(0))
    ingest(brand.org, [
        # The shop knows the buyer by its own openid and the unionid: the same person as mp-1.
        event("e1", "room_enter", L, "shop-1", at=at(1), attrs={"unionid": "U1"}),
        event("o1", "order_paid", L, "shop-1", at=at(5), order="O1", amount=12_900, attrs={"unionid": "U1"}),
        # shop-2 buys before anything links it to mp-2: it counts as a viewer of its own …
        event("o2", "order_paid", L, "shop-2", at=at(6), order="O2", amount=5_000),
        # … until WeCom says shop-2's owner has the phone hash H2: from now on one person.
        event("i2", "identify", None, "shop-2", at=at(7), attrs={"phone_hash": "H2"}),
        event("o3", "order_paid", L, "shop-2", at=at(8), order="O3", amount=7_000),
    ], now=at(10))

    rows = {r.promoter.code if r.promoter else None: r for r in
            PromoterStats.objects.for_org(brand.org).filter(live=live).select_related("promoter")}
    # mp-1 / shop-1 is one viewer who reserved via PA, entered and bought: all credited to PA.
    assert (rows["PA"].reservations, rows["PA"].entered, rows["PA"].buyers, rows["PA"].gmv) == (1, 1, 1, 12_900)
    # shop-2's first order was before the link: natural traffic; the later one is mp-2's, PB's.
    assert (rows[None].buyers, rows[None].gmv) == (1, 5_000)
    assert (rows["PB"].buyers, rows["PB"].gmv) == (1, 7_000)
    assert dict(Order.objects.for_org(brand.org).values_list("order", "viewer")) == \
        {"O1": "mp-1", "O2": "shop-2", "O3": "mp-2"}
    assert set(LiveViewer.objects.for_org(brand.org).values_list("viewer", flat=True)) == \
        {"mp-1", "mp-2", "shop-2"}
    assert dict(ViewerLink.objects.for_org(brand.org).values_list("viewer", "person")) == {
        "mp-1": "mp-1", "U1": "mp-1", "shop-1": "mp-1", "mp-2": "mp-2", "H2": "mp-2", "shop-2": "mp-2"}
    # The log keeps the id each event carried and the person it counted for.
    assert dict(Event.objects.for_org(brand.org).filter(eid__in=["o1", "o2", "o3"])
                .values_list("eid", "person")) == {"o1": "mp-1", "o2": None, "o3": "mp-2"}

    attribution, problems = replay(brand.org)
    assert problems == []
    assert differences(brand.org, attribution) == []
    ViewerLink.objects.for_org(brand.org).delete()
    assert any("id U1" in d for d in differences(brand.org, attribution))
    replace(brand.org, attribution)
    assert CliRunner().invoke(main, ["rebuild", "--check", "--org", brand.org.slug]).exit_code == 0


def test_a_link_from_a_rejected_event_is_not_kept(brand):
    live = brand.live(promoters=("PA",))
    start_live(live, at(0))
    result = ingest(brand.org, [
        event("x", "order_refund", live.public_id, "shop-9", at=at(3), order="NOPE", amount=1,
              attrs={"unionid": "U9"}),
        event("y", "room_enter", live.public_id, "U9", at=at(4)),
    ], now=at(10))
    assert [r["id"] for r in result.rejected] == ["x"]
    assert not ViewerLink.objects.for_org(brand.org).exists()
    assert LiveViewer.objects.for_org(brand.org).get().viewer == "U9"
