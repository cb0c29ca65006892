"""The log is the source of truth: a replay reproduces what ingest wrote (docs/EVENTS.md,
ARCHITECTURE.md), and `liveloop rebuild` finds and repairs any drift."""
from datetime import timedelta

import pytest
from click.testing import CliRunner
from django.db.models import F
from hypothesis import HealthCheck, given, settings

from liveloop.analytics.models import LiveStats, PromoterStats
from liveloop.cli import main
from liveloop.events.models import Event, LiveViewer, Order
from liveloop.events.rebuild import check, differences, rebuild, replay
from liveloop.lives.models import Live
from liveloop.actions.lives import cancel_live, start_live
from liveloop.promoters.models import Enrolment
from liveloop.rules.attribution import FIGURES, Attribution, Fact, LiveState, Rejected
from liveloop.rules.events import EventError, parse_event
from tests.actors import Tenant, event
from tests.events.scenarios import BASE, ENROLLED, NOW, in_db, resolve, scenarios, steps


def one_shot(lives, members, scenario):
    """The same stream through a single pure Attribution, deciding duplicates, parse errors
    and unknown lives the way the contract says, with no database."""
    attribution = Attribution(lives={live.pk: LiveState(mode=live.programme.mode,
                                                        binding_days=live.programme.binding_days)
                                     for live in lives})
    by_public_id = {live.public_id: live for live in lives}
    accepted = set()
    for step in steps(scenario):
        if step[0] == "transition":
            _, index, kind, minutes = step
            live = lives[index]
            try:
                attribution.apply(Fact(kind, live.pk, "system", None, None, None, None,
                                       BASE + timedelta(minutes=minutes),
                                       {"announced_at": live.announced_at.isoformat()}))
            except Rejected:
                pass
            continue
        for raw in step[1]:
            raw = resolve(raw, lives)
            if raw["id"] in accepted:
                continue
            try:
                parsed = parse_event(raw, NOW)
            except EventError:
                continue
            live = by_public_id.get(parsed.live)
            if parsed.live is not None and live is None:
                continue
            promoter = members.get((live.pk, parsed.promoter)) if live else None
            try:
                attribution.apply(Fact(parsed.type, live.pk if live else None, parsed.viewer,
                                       promoter, parsed.order, parsed.amount, parsed.count,
                                       parsed.at, parsed.attrs))
            except Rejected:
                continue
            accepted.add(parsed.id)
    return attribution, accepted


def stored_stats(org):
    return {(r[0], r[1]): list(r[2:]) for r in PromoterStats.objects.for_org(org)
            .values_list("live_id", "promoter_id", *FIGURES) if any(r[2:])}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios)
def test_a_replay_of_the_log_reproduces_ingest(db, scenario):
    tenant = Tenant("随机品牌")
    lives = [tenant.live(title=f"第{i}场", announced_at=BASE + timedelta(days=day), promoters=codes,
                         mode=mode, binding_days=days)
             for i, (codes, (mode, days, day)) in enumerate(zip(ENROLLED, scenario["lives"]))]
    in_db(tenant.org, lives, scenario)

    attribution, problems = replay(tenant.org)
    assert problems == []
    assert differences(tenant.org, attribution) == []
    # In parts (one group of persons at a time), compared as each part ends: the same.
    for parts in (2, 3):
        replayed, found = check(tenant.org, parts=parts)
        assert found == []
        assert replayed.parts in (1, parts)  # one when a refund's person and the buyer would part

    members = {(live_id, code): promoter_id for live_id, code, promoter_id in
               Enrolment.objects.for_org(tenant.org)
               .values_list("programme__live_id", "promoter__code", "promoter_id")}
    expected, accepted = one_shot(lives, members, scenario)
    log = set(Event.objects.for_org(tenant.org).exclude(source="system").values_list("eid", flat=True))
    assert log == accepted
    assert stored_stats(tenant.org) == {k: v for k, v in expected.stats.items() if any(v)}
    for live in Live.objects.for_org(tenant.org).select_related("stats"):
        state = expected.lives[live.pk]
        assert (live.state, live.stats.peak_online, live.stats.reservations_lapsed) == \
            (state.state, state.peak_online, state.lapsed)


def test_a_replay_agrees_after_a_cancelled_preview_and_a_late_start(brand):
    cancelled = brand.live(promoters=["A"])
    late = brand.live(title="晚开播", promoters=["A"])
    for n in range(3):  # reservations held across several batches, most not loaded by the cancel
        brand.send([event(f"r{n}", "reservation", cancelled.public_id, f"V{n}", promoter="A"),
                    event(f"s{n}", "reservation", late.public_id, f"V{n}")])
    cancel_live(cancelled, at=cancelled.announced_at - timedelta(hours=1))
    start_live(late, at=late.announced_at + timedelta(hours=2))

    attribution, problems = replay(brand.org)
    assert problems == [] and differences(brand.org, attribution) == []
    assert not LiveViewer.objects.filter(live=cancelled, reserved=True).exists()
    assert sum(PromoterStats.objects.filter(live=cancelled).values_list("reservations", flat=True)) == 0
    assert LiveStats.objects.get(live=late).reservations_lapsed is True
    assert PromoterStats.objects.get(live=late, promoter=None).reservations == 3


# --- the command ------------------------------------------------------------------------------

@pytest.fixture
def busy(brand, outsider):
    live = brand.live(promoters=["A", "B"], mode="last_touch")
    L = live.public_id
    brand.send([
        event("e1", "reservation", L, "V1", promoter="A"),
        event("e2", "room_enter", L, "V1", promoter="B"),
        event("e3", "room_enter", L, "V2"),
        event("e4", "order_paid", L, "V1", order="O1", amount=12900),
        event("e5", "order_refund", L, "V1", order="O1", amount=4900),
        event("e6", "online", L, "account", count=420),
    ])
    other = outsider.live(promoters=["A"])
    outsider.send([event("e1", "room_enter", other.public_id, "W1", promoter="A")])
    start_live(live, at=live.announced_at + timedelta(minutes=5))
    return live


def run(*args):
    return CliRunner().invoke(main, ["rebuild", *args])


def test_check_finds_no_difference_on_a_clean_log(busy):
    result = run("--check")
    assert result.exit_code == 0, result.output
    assert "no difference (2 organisation(s))" in result.output


def test_check_names_a_tampered_figure_and_rebuild_repairs_it(brand, busy):
    row = PromoterStats.objects.for_org(brand.org).get(live=busy, promoter__code="B")
    PromoterStats.objects.filter(pk=row.pk).update(entered=F("entered") + 1)

    result = run("--check", "--org", brand.org.slug)
    assert result.exit_code == 1
    assert (f"{brand.org.slug}: live {busy.public_id} promoter {row.promoter.code} entered: "
            "stored 2, replay 1") in result.output
    assert PromoterStats.objects.get(pk=row.pk).entered == 2  # --check changes nothing

    repaired = run("--org", brand.org.slug)
    assert repaired.exit_code == 0, repaired.output
    assert f"{brand.org.slug}: rebuilt from 7 events" in repaired.output
    assert PromoterStats.objects.get(pk=row.pk).entered == 1
    assert run("--check").exit_code == 0


def test_check_names_drift_in_viewers_orders_and_live_figures(brand, busy):
    LiveViewer.objects.for_org(brand.org).filter(viewer="V2").update(entered=False)
    LiveStats.objects.for_org(brand.org).filter(live=busy).update(peak_online=1)
    Order.objects.for_org(brand.org).update(refunded=0)

    result = run("--check")
    assert result.exit_code == 1
    assert f"live {busy.public_id} viewer V2" in result.output
    assert "order O1: stored" in result.output
    assert f"live {busy.public_id}: stored (peak online, lapsed, showed up) (1, False, 1)" in result.output

    assert run().exit_code == 0
    assert run("--check").exit_code == 0
    assert LiveStats.objects.get(live=busy).peak_online == 420
    assert Order.objects.for_org(brand.org).get().refunded == 4900


def test_rebuild_of_one_organisation_leaves_the_others_alone(brand, outsider, busy):
    theirs = PromoterStats.objects.for_org(outsider.org).filter(promoter__code="A")
    theirs.update(entered=F("entered") + 5)
    assert run("--org", brand.org.slug).exit_code == 0
    assert theirs.get().entered == 6
    result = run("--check")
    assert result.exit_code == 1
    assert all(line.startswith(outsider.org.slug) for line in result.output.splitlines()
               if "stored" in line)


def test_an_unknown_organisation_is_an_error(db):
    result = run("--check", "--org", "nobody")
    assert result.exit_code == 1
    assert "no organisation with slug 'nobody'" in result.output
