"""Farmed and self-referred reservations are flagged on the promoter's row (issue #8, rules.fraud):
the same flags whether events come in one batch, many, or from a replay of the log; our own
invite page fills the device and network keys without keeping the address; the live page,
the API and the exports show the flags."""
import csv
import io
import re
from datetime import timedelta

import openpyxl
import pytest
from django.conf import settings
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from django.test import Client

from liveloop.analytics.models import PromoterStats, ReservationSignal
from liveloop.events.ingest import ingest
from liveloop.events.models import Event
from liveloop.web.phone.relay import sign_viewer
from liveloop.events.rebuild import differences, replace, replay
from liveloop.integrations.wechat.sharers import link_promoter
from liveloop.actions.lives import cancel_live
from liveloop.promoters.models import Promoter
from liveloop.actions.promoters import NewPromoter, enrol
from liveloop.rules.fraud import DEVICE, NET, THRESHOLDS
from tests.actors import EVENING, Tenant, event

START = EVENING - timedelta(days=1)


def at(minutes):
    return START + timedelta(minutes=minutes)


def stream(live):
    """A device burst through A (one more viewer than the threshold, across what will be batch
    cuts), a network burst through B, A's own openid reserving through A, a cancel of one farmed
    reservation and a re-reservation by the same viewer, and ordinary reservations."""
    L = live.public_id
    events = [event(f"d{n}", "reservation", L, f"farm{n}", at(n * 2), promoter="A",
                    attrs={"device": "dev-1", "net": f"net-{n}"}) for n in range(THRESHOLDS[DEVICE] + 1)]
    events += [event(f"n{n}", "reservation", L, f"office{n}", at(30 + n / 2), promoter="B",
                     attrs={"device": f"dev-o{n}", "net": "net-office"}) for n in range(THRESHOLDS[NET])]
    events += [
        event("own", "reservation", L, "oA-openid", at(40), promoter="A"),
        event("c1", "reservation_cancel", L, "farm0", at(50)),
        event("again", "reservation", L, "farm0", at(51), promoter="A", attrs={"device": "dev-1"}),
        # Spread out: one device, but an hour apart each.
        *[event(f"slow{n}", "reservation", L, f"slow{n}", at(60 + n * 60), promoter="A",
                attrs={"device": "dev-slow"}) for n in range(THRESHOLDS[DEVICE])],
        event("plain", "reservation", L, "plain", at(300), promoter="B"),
    ]
    return events


def tenant_with_live(name):
    tenant = Tenant(name)
    live = tenant.live(promoters=["A", "B"])
    Promoter.objects.for_org(tenant.org).filter(code="A").update(openid="oA-openid")
    return tenant, live


def flags(org, live):
    return {code: (reservations, self_referrals, suspect) for code, reservations, self_referrals, suspect in
            PromoterStats.objects.for_org(org).filter(live=live)
            .values_list("promoter__code", "reservations", "self_referrals", "suspect_reservations")}


def send(tenant, events, cuts):
    bounds = [0, *cuts, len(events)]
    for start, end in zip(bounds, bounds[1:]):
        result = ingest(tenant.org, events[start:end])
        assert not result.rejected


EXPECTED = {
    None: (0, 0, 0),
    # farm0 cancelled and reserved again: one reservation, one suspect entry.
    "A": (THRESHOLDS[DEVICE] + 1 + 1 + THRESHOLDS[DEVICE], 1, THRESHOLDS[DEVICE] + 1),
    "B": (THRESHOLDS[NET] + 1, 0, THRESHOLDS[NET]),
}


@pytest.mark.parametrize("cuts", [[], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18],
                                  [2, 7, 13], [3, 16]])
def test_batches_one_pass_and_a_rebuild_give_the_same_flags(db, cuts):
    tenant, live = tenant_with_live(f"品牌{len(cuts)}")
    send(tenant, stream(live), cuts)
    assert flags(tenant.org, live) == EXPECTED

    attribution, problems = replay(tenant.org)
    assert problems == [] and differences(tenant.org, attribution) == []

    # A rebuild from nothing writes the same figures back.
    PromoterStats.objects.for_org(tenant.org).update(self_referrals=0, suspect_reservations=0)
    ReservationSignal.objects.for_org(tenant.org).delete()
    drift = differences(tenant.org, attribution)
    assert any("suspect" in line for line in drift) and any("reservation signal" in line for line in drift)
    replace(tenant.org, attribution)
    assert flags(tenant.org, live) == EXPECTED
    assert differences(tenant.org, *replay(tenant.org)[:1]) == []


def test_a_check_notices_a_tampered_flag(brand):
    live = brand.live(promoters=["A", "B"])
    send(brand, stream(live), [5])
    PromoterStats.objects.for_org(brand.org).filter(live=live, promoter__code="B").update(suspect_reservations=1)
    attribution, _ = replay(brand.org)
    assert any("promoter B" in line and "suspect" in line for line in differences(brand.org, attribution))


def test_self_referrals_count_own_ids_holding_a_reservation_credited_to_the_promoter_now(brand):
    live = brand.live(promoters=["A", "B"])
    L = live.public_id
    brand.send([event("r1", "reservation", L, "oA-openid", promoter="A"),
                event("r2", "reservation", L, "oB-openid", promoter="A")])
    assert flags(brand.org, live)["A"] == (2, 0, 0)
    a = Promoter.objects.for_org(brand.org).get(code="A")
    link_promoter(a, "oA-openid")
    assert flags(brand.org, live)["A"] == (2, 1, 0)
    # Another id of the same person (a unionid link) is still the promoter.
    brand.send([event("id", "identify", None, "oA-openid", attrs={"unionid": "uA"})])
    brand.send([event("c", "reservation_cancel", L, "oA-openid")])
    assert flags(brand.org, live)["A"] == (1, 0, 0)
    brand.send([event("r3", "reservation", L, "uA", promoter="A")])
    assert flags(brand.org, live)["A"] == (2, 1, 0)
    attribution, problems = replay(brand.org)
    assert problems == [] and differences(brand.org, attribution) == []
    # Unlinked: the reservations stay, the flag goes.
    link_promoter(a, "")
    assert flags(brand.org, live)["A"] == (2, 0, 0)
    assert differences(brand.org, replay(brand.org)[0]) == []
    # A cancelled preview resets reservations and so the self-referrals held.
    link_promoter(a, "oA-openid")
    assert flags(brand.org, live)["A"] == (2, 1, 0)
    cancel_live(live, at=live.announced_at - timedelta(hours=2))
    assert flags(brand.org, live)["A"] == (0, 0, 0)
    assert differences(brand.org, replay(brand.org)[0]) == []


def test_a_link_moving_a_promoters_own_id_recounts_every_live_even_one_the_batch_reserves_in(brand):
    """One request both reserves in a live through the promoter's own id and links that id to
    another person who holds a reservation in an earlier live: the earlier live is recounted
    too (the batch's reservation once made only its own live be recounted)."""
    first, second = brand.live(promoters=["A"]), brand.live(title="第二场", promoters=["A"])
    a = Promoter.objects.for_org(brand.org).get(code="A")
    link_promoter(a, "V1")
    brand.send([event("r1", "reservation", first.public_id, "V1", promoter="A"),
                event("r2", "reservation", first.public_id, "H1", promoter="A", attrs={"unionid": "U1"})])
    assert flags(brand.org, first)["A"][1] == 1  # V1 only: H1 is someone else still
    brand.send([event("r3", "reservation", second.public_id, "V1", promoter="A"),
                event("id", "identify", None, "U1", attrs={"openid": "V1"})])  # V1 is H1's now
    assert flags(brand.org, first)["A"][1] == 2 and flags(brand.org, second)["A"][1] == 1
    attribution, problems = replay(brand.org)
    assert problems == [] and differences(brand.org, attribution) == []


def test_farm_flags_stay_when_the_reservations_are_cancelled(brand):
    live = brand.live(promoters=["A"])
    L = live.public_id
    n = THRESHOLDS[DEVICE]
    brand.send([event(f"r{i}", "reservation", L, f"V{i}", at(i), promoter="A", attrs={"device": "d"})
                for i in range(n)])
    brand.send([event(f"c{i}", "reservation_cancel", L, f"V{i}", at(20 + i)) for i in range(n)])
    assert flags(brand.org, live)["A"] == (0, 0, n)
    assert differences(brand.org, replay(brand.org)[0]) == []


def test_bad_keys_are_refused_with_the_field_named(brand):
    live = brand.live(promoters=["A"])
    response = brand.send([event("x", "reservation", live.public_id, "V1", promoter="A",
                                 attrs={"device": "k" * 65}),
                           event("y", "reservation", live.public_id, "V2", promoter="A", attrs={"net": 12})])
    rejected = response.json()["rejected"]
    assert [r["error"].split(":")[0] for r in rejected] == ["attrs.device", "attrs.net"]


# --- our own invite page -----------------------------------------------------------------------

def invite_url(live, code="A"):
    return f"/i/{live.public_id}/{code}/"


HEX32 = re.compile(r"[0-9a-f]{32}")


def test_the_invite_page_fills_hashed_device_and_network_keys(brand):
    live = brand.live(promoters=["A"])
    phone = Client(REMOTE_ADDR="203.0.113.45")
    phone.get(invite_url(live))
    phone.post(invite_url(live))
    # The same browser asking as other viewers (openid parameter): same device, same network.
    # (signed, as Liveloop's own links to known viewers carry them: a bare openid is not taken)
    as_viewer = lambda openid: invite_url(live) + "?openid=" + sign_viewer(live, openid)  # noqa: E731
    phone.post(as_viewer("oFAKEopenid000000000000001"))
    Client(REMOTE_ADDR="2001:db8:1:2::99").post(as_viewer("oOTHERopenid0000000000002"))
    Client(REMOTE_ADDR="2001:db8:1:2::7").post(as_viewer("oOTHERopenid0000000000003"))
    Client(REMOTE_ADDR="not an address").post(as_viewer("oOTHERopenid0000000000004"))
    stored = list(Event.objects.for_org(brand.org).filter(type="reservation").order_by("seq")
                  .values_list("attrs", flat=True))
    assert len(stored) == 5
    first, faked, v6a, v6b, unknown = stored
    assert HEX32.fullmatch(first["device"]) and HEX32.fullmatch(first["net"])
    assert faked == first  # one browser, one address
    assert v6a["net"] == v6b["net"] != first["net"]  # one IPv6 /64
    assert v6a["device"] != v6b["device"]  # two browsers
    assert "net" not in unknown and HEX32.fullmatch(unknown["device"])
    cookie = phone.cookies["ll_viewer"].value
    signals = str(list(ReservationSignal.objects.for_org(brand.org).values("device", "net")))
    for raw in ("203.0.113", "2001:db8", cookie, "oFAKE"):
        assert raw not in str(stored) and raw not in signals
    # Keys are per organisation: the same phone in another brand's live gets other keys.
    other = Tenant("别家")
    other_live = other.live(promoters=["A"])
    phone.post(invite_url(other_live))
    theirs = Event.objects.for_org(other.org).get(type="reservation").attrs
    assert theirs["device"] != first["device"] and theirs["net"] != first["net"]


def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_a_burst_from_one_phone_is_flagged_on_the_promoters_row(brand, owner):
    english(owner)
    live = brand.live(promoters=["A"])
    enrol(live.programme, [NewPromoter(name="<script>alert(1)</script>", code="X1")])
    phone = Client(REMOTE_ADDR="198.51.100.7")
    phone.get(invite_url(live, "X1"))
    for n in range(THRESHOLDS[DEVICE]):
        phone.post(invite_url(live, "X1") + "?openid=" + sign_viewer(live, f"oFARMopenid00000000000000{n}"))
    assert flags(brand.org, live)["X1"] == (THRESHOLDS[DEVICE], 0, THRESHOLDS[DEVICE])

    page = owner.get(f"/lives/{live.public_id}/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    badges = re.findall(r'<span class="badge warn fraud-flag" title="([^"]+)">([^<]+)</span>', page)
    assert len(badges) == 1
    title, text = badges[0]
    assert f"Suspect farming {THRESHOLDS[DEVICE]}" in text and "10 minutes" in title
    # A promoter without flags has no badge on the page at all.
    assert page.count("fraud-flag") == 1

    rows = {r["promoter"]: r for r in brand.api.get(f"/api/v1/lives/{live.public_id}/promoters").json()}
    assert (rows["X1"]["suspect_reservations"], rows["X1"]["self_referrals"]) == (THRESHOLDS[DEVICE], 0)
    assert rows["A"]["suspect_reservations"] == 0
    body = owner.get(f"/lives/{live.public_id}/promoters.csv").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body)))
    table = {line[0]: line for line in lines[1:]}
    assert table["X1"][-2:] == ["0", str(THRESHOLDS[DEVICE])]  # self-referrals, suspect reservations
    sheet = openpyxl.load_workbook(io.BytesIO(owner.get(f"/lives/{live.public_id}/promoters.xlsx").content)).active
    header = [c.value for c in sheet[1]]
    assert header[-2:] == ["Self-referrals", "Suspect reservations"]
    x1 = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "X1")
    assert x1[-2:] == (0, THRESHOLDS[DEVICE])


def test_a_self_referral_badge_shows_on_the_row(brand, owner):
    english(owner)
    live = brand.live(promoters=["A"])
    link_promoter(Promoter.objects.for_org(brand.org).get(code="A"), "oSELFopenid00000000000001")
    Client().post(invite_url(live) + "?openid=" + sign_viewer(live, "oSELFopenid00000000000001"))
    page = owner.get(f"/lives/{live.public_id}/").content.decode()
    assert re.search(r'class="badge warn fraud-flag" title="[^"]*themself[^"]*">⚠ Self-referral 1<', page)


# --- random streams ----------------------------------------------------------------------------

@st.composite
def keyed_streams(draw):
    events = []
    for n in range(draw(st.integers(10, 60))):
        kind = draw(st.sampled_from(["reservation"] * 5 + ["reservation_cancel", "room_enter"]))
        fields = {"viewer": draw(st.sampled_from([f"V{i}" for i in range(16)] + ["oA-openid"])),
                  "at": at(draw(st.integers(0, 25)))}  # 2½ windows: bursts, and spans that just miss
        promoter = draw(st.sampled_from(["A", "B", None]))
        if promoter and kind != "reservation_cancel":
            fields["promoter"] = promoter
        keys = {k: draw(st.sampled_from([f"{k}1", f"{k}2"])) for k in ("device", "net") if draw(st.booleans())}
        if keys:
            fields["attrs"] = keys
        events.append((f"e{n}", kind, fields))
    return events, draw(st.lists(st.integers(1, 59), max_size=6))


@hypothesis_settings(max_examples=15, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=keyed_streams())
def test_random_streams_flag_the_same_in_batches_in_one_pass_and_in_a_replay(db, scenario):
    raw, cuts = scenario
    figures = []
    # A network threshold random streams reach as often as the device's.
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(THRESHOLDS, NET, 3)
        for name, batch_cuts in (("分批", sorted({c % len(raw) for c in cuts} - {0})), ("一次", [])):
            tenant, live = tenant_with_live(name + str(len(raw)) + str(cuts))
            events = [event(eid, kind, live.public_id, **fields) for eid, kind, fields in raw]
            send(tenant, events, batch_cuts)
            attribution, problems = replay(tenant.org)
            assert problems == [] and differences(tenant.org, attribution) == []
            figures.append(flags(tenant.org, live))
    assert figures[0] == figures[1]
