"""Properties of the money path on random event streams, plans and teams (issue #4):

- after settlement a promoter's ledger for a live equals the plan applied to the figures;
- refunds after settlement never leave a live paying more than the plan on the final figures
  (each promoter ends at min(settled, final));
- no entry is ever changed; and `rebuild --check`'s money part finds no difference.
"""
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveloop.events.ingest import ingest
from liveloop.events.rebuild import check as rebuild_check, replay
from liveloop.lives.models import Live
from liveloop.actions.lives import TransitionError, end_live, start_live
from liveloop.money import check, inputs
from liveloop.money.models import Entry
from liveloop.money.plans import save_plan
from liveloop.money.settlement import settle_live
from liveloop.promoters.models import Promoter, Team
from liveloop.rules.commission import make_plan, settle
from tests.actors import Tenant
from tests.events.scenarios import BASE, ENROLLED, NOW, in_db, scenarios

plans = st.fixed_dictionaries({
    "rate_bps": st.one_of(st.none(), st.integers(0, 3000)),
    "reservation_bounty_fen": st.sampled_from([0, 0, 30]),
    "new_buyer_bounty_fen": st.sampled_from([0, 0, 500]),
    "effective_view_bounty_fen": st.sampled_from([0, 10]),
    "cap_fen": st.sampled_from([None, None, 700]),
    "override_bps": st.sampled_from([(), (300,), (300, 100)]),
    "allow_self_purchase": st.booleans(),
}).map(lambda f: f if f["rate_bps"] is not None else {**f, "tiers": ((1_000, 500), (None, 1_500))})

late_refunds = st.lists(st.tuples(st.sampled_from(["O1", "O2", "O3", "O4"]), st.integers(0, 3000)),
                        max_size=4)


def ledger(org, kinds=None):
    entries = Entry.objects.for_org(org).filter(live__isnull=False)
    if kinds:
        entries = entries.filter(kind__in=kinds)
    totals = {}
    for live, promoter, amount in entries.values_list("live_id", "promoter_id", "amount"):
        totals[(live, promoter)] = totals.get((live, promoter), 0) + amount
    return {k: v for k, v in totals.items() if v}


def expected_totals(org, live, fields):
    plan_rules = make_plan(override_levels=len(fields["override_bps"]), **fields)
    teams = inputs.teams_of(org)
    return {(live.pk, p): s.total_fen for p, s in
            settle(plan_rules, inputs.stored_figures(org, live), list(teams.values())).items()
            if s.total_fen}


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios, fields=plans, refunds=late_refunds, own=st.booleans())
def test_the_ledger_after_settlement_is_the_plan_on_the_figures(db, scenario, fields, refunds, own):
    tenant = Tenant("随机品牌")
    org = tenant.org
    lives = [tenant.live(title=f"第{i}场", announced_at=BASE + timedelta(days=i), promoters=codes)
             for i, codes in enumerate(ENROLLED)]
    a, b, c = (Promoter.objects.get(org=org, code=code) for code in "ABC")
    if own:
        Promoter.objects.filter(pk=a.pk).update(openid="V1")  # A's own purchases as V1
    top = Team.objects.create(org=org, name="总店", leader=a)
    below = Team.objects.create(org=org, name="分店", leader=c, parent=top)
    Promoter.objects.filter(pk__in=[a.pk, b.pk]).update(team=top)
    Promoter.objects.filter(pk=c.pk).update(team=below)
    levels = len(fields["override_bps"])
    save_plan(org, None, name="方案", fields=fields, make_default=True, override_levels=levels)
    in_db(org, lives, scenario)

    ended = BASE + timedelta(days=61)
    for live in Live.objects.for_org(org):
        for step in (start_live, end_live):
            try:
                step(live, at=ended)
            except TransitionError:
                pass
    settled_at = ended + timedelta(days=8)
    settled = {}
    for live in Live.objects.for_org(org).filter(state="ended"):
        expected = expected_totals(org, live, fields)
        settle_live(org, live, now=settled_at)
        on_live = {k: v for k, v in ledger(org).items() if k[0] == live.pk}
        assert on_live == expected  # the ledger after settlement is the plan on the figures
        settled.update(expected)
    before = list(Entry.objects.for_org(org).order_by("pk").values_list("pk", "kind", "amount", "promoter_id", "live_id"))

    ingest(org, [{"id": f"late-{i}", "type": "order_refund", "live": lives[0].public_id, "viewer": "V9",
                  "order": order, "amount": amount, "at": (settled_at + timedelta(minutes=i)).isoformat()}
                 for i, (order, amount) in enumerate(refunds)], now=settled_at)

    after = list(Entry.objects.for_org(org).order_by("pk").values_list("pk", "kind", "amount", "promoter_id", "live_id"))
    assert after[:len(before)] == before  # no entry is ever changed
    for live in Live.objects.for_org(org).filter(state="ended"):
        final = expected_totals(org, live, fields)
        for key in set(final) | {k for k in settled if k[0] == live.pk}:
            assert ledger(org).get(key, 0) == min(settled.get(key, 0), final.get(key, 0))

    snapshots = check.Snapshots(org)
    attribution, problems = replay(org, stops=snapshots.stops)
    assert problems == []
    assert check.differences(org, attribution, snapshots) == []
    # In parts, the settled figures are the parts' added up (money.inputs.figures_of_parts).
    snapshots = check.Snapshots(org)
    replayed, problems = rebuild_check(org, stops=snapshots.stops, parts=3)
    assert problems == []
    assert check.differences(org, replayed, snapshots) == []
