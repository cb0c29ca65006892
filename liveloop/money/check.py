"""`liveloop rebuild --check` for money: the ledger recomputed from a replay of the log and
the recorded settlement decisions (plan, teams and own ids of each run, and where in the log
it stood) must equal the ledger as written.

- a settled live: the replay stopped at the run's log position gives the figures; the run's
  plan on them gives each promoter's settled amount (estimates + settlement entries) and the
  figures stored on the statement; the plan on the final figures gives the clawbacks;
- an open live: the current plan on the final figures gives the estimates;
- a statement adds up: lines → gross → tax (a month is one payment) → payable.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from django.db.models import Sum

from liveloop.events.rebuild import END
from liveloop.lives.models import Live
from liveloop.money import inputs
from liveloop.money.models import Entry, Estimate, SettlementRun, Statement, StatementLine
from liveloop.money.plans import plans_for, rules_of
from liveloop.promoters.models import Promoter
from liveloop.rules.commission import settle
from liveloop.money.settlement import month_tax as month_tax_of


class Snapshots:
    """Figures of each settled live taken while a replay passes its run's log position, and of
    every live at the end of the log: a replay in parts (events.rebuild) stops there once per
    part, and the parts' ingredients add up (money.inputs.figures_of_parts). Kept by (number of
    parts, part): a replay started again in one part supersedes what its parts took."""

    def __init__(self, org):
        self.runs = list(SettlementRun.objects.for_org(org).select_related("live"))
        self.announced = dict(Live.objects.for_org(org).values_list("pk", "announced_at"))
        settled = {run.live_id for run in self.runs}
        self.open_lives = list(Live.objects.for_org(org).exclude(pk__in=list(settled)))
        self.own_now = inputs.own_ids(org, Promoter.objects.for_org(org).values_list("pk", flat=True))
        self.parts = 1  # of the replay that called last
        self.at_runs: dict[int, dict] = defaultdict(dict)    # run id -> {(parts, part): at its position}
        self.final_runs: dict[int, dict] = defaultdict(dict)  # run id -> {(parts, part): at the log's end}
        self.final_lives: dict[int, dict] = defaultdict(dict)  # open live id -> the same

    @property
    def stops(self) -> dict:
        stops = defaultdict(list)
        for run in self.runs:
            stops[run.upto_seq].append(run)
        taken = {seq: (lambda attribution, part, parts, runs=runs: self.take(attribution, part, parts, runs))
                 for seq, runs in stops.items()}
        return {**taken, END: self.take_final}

    def take(self, attribution, part: int, parts: int, runs) -> None:
        self.parts = parts
        for run in runs:
            self.at_runs[run.pk][(parts, part)] = inputs.replayed_part(
                attribution, run.live, self.announced, inputs.own_ids_from_json(run.own_ids))

    def take_final(self, attribution, part: int, parts: int) -> None:
        self.parts = parts
        for run in self.runs:
            self.final_runs[run.pk][(parts, part)] = inputs.replayed_part(
                attribution, run.live, self.announced, inputs.own_ids_from_json(run.own_ids))
        for live in self.open_lives:
            self.final_lives[live.pk][(parts, part)] = inputs.replayed_part(
                attribution, live, self.announced, self.own_now)

    def _latest(self, taken: dict) -> list:
        return [found for (parts, _), found in taken.items() if parts == self.parts]

    def at_run(self, run) -> dict:
        parts = self._latest(self.at_runs.get(run.pk, {}))
        return inputs.figures_of_parts(parts, inputs.own_ids_from_json(run.own_ids)) if parts else {}

    def final_of_run(self, run) -> dict:
        return inputs.figures_of_parts(self._latest(self.final_runs[run.pk]), inputs.own_ids_from_json(run.own_ids))

    def final_of_live(self, live) -> dict:
        return inputs.figures_of_parts(self._latest(self.final_lives[live.pk]), self.own_now)


def _totals(rules, figures, teams) -> dict[int, int]:
    return {p: s.total_fen for p, s in settle(rules, figures, list(teams.values())).items()}


def _sums(org, kinds) -> dict:
    return {(live, p): total for live, p, total in
            Entry.objects.for_org(org).filter(kind__in=kinds, live__isnull=False)
            .values("live_id", "promoter_id").annotate(total=Sum("amount"))
            .values_list("live_id", "promoter_id", "total")}


def _compare(found, what, expected: dict, recorded: dict, codes, title) -> None:
    for promoter in sorted(set(expected) | set(recorded)):
        a, b = recorded.get(promoter, 0), expected.get(promoter, 0)
        if a != b:
            found.append(f"live {title}: promoter {codes.get(promoter, promoter)} {what}: "
                         f"ledger {a}, recomputed {b}")


def differences(org, replay, snapshots: Snapshots) -> list[str]:
    """`replay`: events.rebuild's, run with `snapshots.stops`."""
    found: list[str] = []
    codes = dict(Promoter.objects.for_org(org).values_list("pk", "code"))
    estimates = _sums(org, Entry.ESTIMATES)
    settled_sums = _sums(org, (*Entry.ESTIMATES, Entry.SETTLEMENT))
    clawbacks = _sums(org, (Entry.CLAWBACK,))

    def recorded(sums, live_id):
        return {p: v for (l, p), v in sums.items() if l == live_id}

    runs = {run.live_id: run for run in snapshots.runs}
    for run in snapshots.runs:
        rules, teams = rules_of(run.plan_rules), inputs.teams_from_json(run.teams)
        at_run = snapshots.at_run(run)
        settled = _totals(rules, at_run, teams)
        _compare(found, "settled amount", settled, recorded(settled_sums, run.live_id), codes,
                 run.live.public_id)
        final = _totals(rules, snapshots.final_of_run(run), teams)
        expected = {p: min(0, final.get(p, 0) - settled.get(p, 0)) for p in set(final) | set(settled)}
        _compare(found, "clawback", expected, recorded(clawbacks, run.live_id), codes, run.live.public_id)
        for line in (StatementLine.objects.for_org(org).filter(statement__run=run, figures__isnull=False)
                     .select_related("statement")):
            promoter = line.statement.promoter_id
            replayed = asdict(at_run[promoter]) if promoter in at_run else None
            # A figure added since (wechat_net_fen) is 0 on statements written before it.
            stored = {**dict.fromkeys(replayed or (), 0), **line.figures} if line.figures else line.figures
            if stored != replayed and any((line.figures or {}).values()):
                found.append(f"statement {line.statement.number}: figures {line.figures}, "
                             f"replay {replayed}")
    open_lives = snapshots.open_lives
    plans = plans_for(org, [live.pk for live in open_lives])
    teams = inputs.teams_of(org)
    for live in open_lives:
        plan = plans[live.pk]
        expected = {}
        if plan is not None:
            figures = snapshots.final_of_live(live)
            expected = _totals(rules_of(plan.rules), figures, teams)
        _compare(found, "estimate", expected, recorded(estimates, live.pk), codes, live.public_id)
    found += estimate_differences(org, estimates, codes)
    found += statement_differences(org)
    return found


def estimate_differences(org, estimates: dict, codes: dict) -> list[str]:
    """The running totals of the estimates (money.models.Estimate, which ingest reads) against
    the estimate entries they add up."""
    kept = {(live, p): amount for live, p, amount in
            Estimate.objects.for_org(org).values_list("live_id", "promoter_id", "amount")}
    titles = dict(Live.objects.for_org(org).values_list("pk", "public_id"))
    return [f"live {titles.get(live, live)}: promoter {codes.get(p, p)} estimates kept {kept.get((live, p), 0)}, "
            f"entries add up to {estimates.get((live, p), 0)}"
            for live, p in sorted(set(kept) | set(estimates)) if kept.get((live, p), 0) != estimates.get((live, p), 0)]


def statement_differences(org) -> list[str]:
    found = []
    lines = dict(StatementLine.objects.for_org(org).values("statement_id")
                 .annotate(total=Sum("amount")).values_list("statement_id", "total"))
    month_gross: dict = defaultdict(int)
    month_tax: dict = defaultdict(int)
    for statement in Statement.objects.for_org(org).select_related("run").order_by("pk"):
        key = (statement.promoter_id, statement.month)
        if statement.gross < 0:
            expected = (0, 0)
            total = lines.get(statement.pk, 0) - (-statement.gross)  # the carry line evens it
        else:
            tax = 0
            if statement.run.withhold_tax and statement.gross > 0:
                tax = month_tax_of(month_gross[key], month_tax[key], statement.gross)
                month_gross[key] += statement.gross
                month_tax[key] += statement.tax
            expected = (tax, statement.gross - tax)
            total = lines.get(statement.pk, 0)
        if total != statement.gross:
            found.append(f"statement {statement.number}: lines add up to {total}, gross {statement.gross}")
        if (statement.tax, statement.payable) != expected:
            found.append(f"statement {statement.number}: tax, payable {(statement.tax, statement.payable)}, "
                         f"recomputed {expected}")
    return found
