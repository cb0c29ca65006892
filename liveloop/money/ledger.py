"""The promoter ledger: estimates while a live is open, clawbacks after it is settled.

`accrue` runs inside ingest's transaction for the (live, promoter) pairs a batch moved, and
after anything else that moves pay (a plan, a team's leader). It recomputes the plan on the
current figures for everyone whose pay those pairs can move (the promoter, their team's
leader, the leader above) and appends the difference from what the ledger already holds:

- an open live: `accrual` (+) or `reversal` (−) until the estimates equal the plan's amount;
- a settled live: `clawback` lines until they equal min(0, amount now − amount settled),
  so refunds after settlement come back on the next statement and late orders never raise a
  settled amount (docs/decisions.md "Money: ledger and settlement").

Nothing is updated or deleted: the sum of a promoter's entries for a live is what they are
owed for it.
"""
from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.db.models import Sum
from django.utils.translation import gettext as _

from liveloop.analytics.models import PromoterStats
from liveloop.events.models import Order
from liveloop.events.projections import Projection, register
from liveloop.lib.bulk import (add_rows, adapt_time, insert_rows, json_value, lock_org, select, select_in, sql_ids,
                               table, time_reader)
from liveloop.lives.models import Live
from liveloop.money import inputs
from liveloop.money.models import Entry, Estimate, Plan, ProgrammePlan, SettlementRun, Statement, StatementLine
from liveloop.money.stored_plans import rules_of
from liveloop.orgs import audit
from liveloop.rules.commission import settle
from liveloop.rules.earnings import earners_touched, figures_paid_on, teams_paying

ALL = None  # every promoter of the live


def is_settled(org, live) -> bool:
    return SettlementRun.objects.for_org(org).filter(live=live).exists()


def amounts_for(org, live, rules, teams: dict, promoters=ALL, own=None, current=False) -> dict[int, int]:
    """What the plan pays each earner whose pay `promoters` can move (everyone: ALL).
    `current`: `teams` and own ids are the organisation's as they are now (an open live)."""
    if promoters is ALL:
        figures = inputs.stored_figures(org, live, own=own, new_buyers=bool(rules.new_buyer_bounty_fen))
        earners = set(figures) | {t.leader for t in teams.values() if t.leader is not None}
        paying = list(teams.values())
        totals = None
    else:
        earners = earners_touched(promoters, inputs.team_of(teams), teams)
        paying = teams_paying(earners, teams)
        new_buyers = earners if rules.new_buyer_bounty_fen else False
        if current:
            # A member who earns nothing here counts only by their net, which the database sums
            # by team: the earners' figures are all that is read one by one.
            paying_ids = [t.id for t in paying]
            own = inputs.own_ids(org, earners, paying_ids) if own is None else own
            figures = inputs.stored_figures(org, live, earners, own, new_buyers=new_buyers)
            totals = inputs.team_totals(org, live, paying_ids, rules.allow_self_purchase, own,
                                        rules.pay_wechat_commissioned)
        else:
            # A settled live's teams are those it was settled with, not the ones in the tables.
            figures = inputs.stored_figures(org, live, earners | {m for t in paying for m in t.members},
                                            own, new_buyers=new_buyers)
            totals = None
    result = settle(rules, figures, paying, totals)
    return {p: result[p].total_fen if p in result else 0 for p in earners}


def sums(org, live_id, promoters, kinds) -> dict[int, int]:
    """{promoter: the sum of their entries of `kinds` for the live}. Plain SQL: ingest asks
    every batch into a paying live (money.inputs says why)."""
    sql = (f"SELECT promoter_id, SUM(amount) FROM {table(Entry)} WHERE org_id = %s AND live_id = %s "
           f"AND kind IN ({', '.join(['%s'] * len(kinds))})")
    if promoters is not ALL:
        promoters = list(promoters)
        if not promoters:
            return {}
        sql += f" AND promoter_id IN ({sql_ids(promoters)})"
    # int(): PostgreSQL's SUM of bigints is numeric.
    return {p: int(total) for p, total in select(f"{sql} GROUP BY promoter_id", org.pk, [live_id, *kinds])}


class Accrued(NamedTuple):
    """An entry `accrue` appended: plain values, not an Entry instance (building those for up
    to one earner each every ingest batch cost more than inserting them)."""
    promoter_id: int
    live_id: int
    kind: str
    amount: int
    upto_seq: int
    run_id: int | None = None


class Paying:
    """What pays on some lives: the rules of each one's plan (`rules`; None: no plan), and the
    settlement run of those settled (a settled live stays on the plan it was settled by), and
    when each was announced (`lives`: inputs.LiveAt). Read once a batch and shared by the
    accrual's steps."""

    def __init__(self, org):
        self.org, self.rules, self.runs, self.lives = org, {}, {}, {}

    def read(self, live_ids) -> Paying:
        """Adds the lives of `live_ids` not read yet: one statement (a round trip each was
        most of what the paying path added per batch on PostgreSQL), the runs themselves only
        for a live that has one. A live not the organisation's pays nothing."""
        missing = [live_id for live_id in live_ids if live_id not in self.rules]
        if not missing:
            return self
        self.rules.update(dict.fromkeys(missing))
        read, settled = time_reader(), []
        for live_id, announced, stored, has_run in select(
                f"SELECT l.id, l.announced_at, COALESCE(c.rules, d.rules), "
                f"EXISTS (SELECT 1 FROM {table(SettlementRun)} r WHERE r.org_id = l.org_id AND r.live_id = l.id) "
                f"FROM {table(Live)} l "
                f"LEFT JOIN {table(ProgrammePlan)} pp ON pp.org_id = l.org_id AND pp.live_id = l.id "
                f"LEFT JOIN {table(Plan)} c ON c.org_id = l.org_id AND c.id = pp.plan_id "
                # One default at most (plan_org_one_default).
                f"LEFT JOIN {table(Plan)} d ON d.org_id = l.org_id AND d.is_default "
                f"WHERE l.org_id = %s AND l.id IN ({sql_ids(missing)})", self.org.pk):
            self.lives[live_id] = inputs.LiveAt(live_id, read(announced))
            self.rules[live_id] = None if stored is None else rules_of(json_value(stored))
            if has_run:
                settled.append(live_id)
        if settled:
            self.runs.update((run.live_id, run) for run in
                             SettlementRun.objects.for_org(self.org).filter(live_id__in=settled))
        return self

    def figures(self, live_id) -> frozenset | None:
        """The counted figures whose moving can move what the live pays (rules.earnings), or
        None for every figure: a settled live's clawbacks follow its run's plan."""
        if live_id in self.runs:
            return None
        rules = self.rules[live_id]
        return frozenset() if rules is None else figures_paid_on(rules)


def accrue(org, touched, paying: Paying | None = None, locked: bool = False) -> list[Accrued]:
    """Bring the ledger up to date for `touched`: {live id: promoter ids, or ALL}, or an
    iterable of live ids (all their promoters). `paying`: what pays on some of the lives, read
    already. `locked`: the caller holds the organisation's lock (ingest's projections do)."""
    if not isinstance(touched, dict):
        touched = dict.fromkeys(touched, ALL)
    if not touched:
        return []
    # Read, then append the difference: two accruals of one organisation at once (a plan saved
    # while a batch comes in) would both append it.
    if not locked:
        lock_org(org.pk)
    paying = (paying or Paying(org)).read(touched)
    rules, runs = paying.rules, paying.runs
    wanted = [live_id for live_id in touched if rules[live_id] is not None or live_id in runs]
    if not wanted:
        return []  # no plan pays on these lives: nothing to estimate
    asked = [touched[live_id] for live_id in wanted if live_id not in runs]
    if asked:
        # Open lives pay on the teams as they are now; promoters asked about one by one need
        # only their own teams' members (teams_of), all of them only when a live asks for ALL.
        teams = inputs.teams_of(org, None if any(a is ALL for a in asked) else set().union(*asked))
    seq = inputs.last_seq(org)
    entries = []
    for live in sorted((paying.lives[live_id] for live_id in wanted), key=lambda live: live.pk):
        run = runs.get(live.pk)
        if run is not None:
            # A settled live stays on the plan, teams and own ids it was settled with.
            amounts = amounts_for(org, live, rules_of(run.plan_rules), inputs.teams_from_json(run.teams),
                                  touched[live.pk], inputs.own_ids_from_json(run.own_ids))
            entries += _clawbacks(org, live, run, amounts, _asked(amounts, touched[live.pk]), seq)
        else:
            amounts = amounts_for(org, live, rules[live.pk], teams, touched[live.pk],
                                  current=True)
            held = held_estimates(org, live.pk, _asked(amounts, touched[live.pk]))
            for promoter in set(amounts) | set(held):
                delta = amounts.get(promoter, 0) - held.get(promoter, 0)
                if delta:
                    entries.append(Accrued(promoter, live.pk, Entry.ACCRUAL if delta > 0 else Entry.REVERSAL,
                                           delta, seq))
    _write(org, entries)
    return entries


ENTRY_COLUMNS = ("org_id", "promoter_id", "live_id", "kind", "amount", "at", "upto_seq", "run_id", "reason")


def _write(org, entries: list[Accrued]) -> None:
    """Insert the entries, as bulk_create would: ingest writes up to one per earner every
    batch, and bulk_create's preparation of each field of each row cost more than the INSERT
    (COPY on PostgreSQL)."""
    if not entries:
        return
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    insert_rows(Entry, ENTRY_COLUMNS, [(org.pk, e.promoter_id, e.live_id, e.kind, e.amount, at, e.upto_seq,
                                        e.run_id, "") for e in entries])
    estimates = defaultdict(int)
    for e in entries:
        if e.kind in Entry.ESTIMATES:
            estimates[e.live_id, e.promoter_id] += e.amount
    add_rows(org.pk, Estimate, ("live_id", "promoter_id"), ("bigint", "bigint"), ("amount",),
             [(live, promoter, amount) for (live, promoter), amount in estimates.items()])


def held_estimates(org, live_id, promoters) -> dict[int, int]:
    """{promoter: what their estimates for the live add up to} for `promoters` (or ALL), from
    the running totals `_write` keeps (money.models.Estimate): one row an earner, however many
    batches the live has had."""
    sql = f"SELECT promoter_id, amount FROM {table(Estimate)} WHERE org_id = %s AND live_id = %s"
    if promoters is not ALL:
        promoters = list(promoters)
        if not promoters:
            return {}
        sql += f" AND promoter_id IN ({sql_ids(promoters)})"
    return dict(select(sql, org.pk, [live_id]))


def restore_estimates(org) -> None:
    """Rewrite the running totals of the estimates from the entries (`liveloop rebuild`)."""
    lock_org(org.pk)  # no accrual in between
    Estimate.objects.for_org(org).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table(Estimate)} (org_id, live_id, promoter_id, amount) "
                       f"SELECT org_id, live_id, promoter_id, SUM(amount) FROM {table(Entry)} "
                       "WHERE org_id = %s AND live_id IS NOT NULL AND kind IN (%s, %s) "
                       "GROUP BY org_id, live_id, promoter_id", [org.pk, *Entry.ESTIMATES])


def _asked(amounts: dict, promoters):
    # Asked about everyone, also reach those who hold entries but earn nothing now (a
    # leader replaced, say): their estimates go back to 0.
    return ALL if promoters is ALL else set(amounts)


def _clawbacks(org, live, run, amounts: dict, asked, seq: int) -> list[Accrued]:
    settled = sums(org, live.pk, asked, (*Entry.ESTIMATES, Entry.SETTLEMENT))
    clawed = sums(org, live.pk, asked, (Entry.CLAWBACK,))
    entries = []
    for promoter in set(amounts) | set(settled):
        target = min(0, amounts.get(promoter, 0) - settled.get(promoter, 0))
        delta = target - clawed.get(promoter, 0)
        if delta:
            entries.append(Accrued(promoter, live.pk, Entry.CLAWBACK, delta, seq, run.pk))
    return entries


def accrue_open_lives(org) -> list[Accrued]:
    """After a plan or a team changes: every live, all promoters. (A cancelled live keeps what
    its figures still pay: its reservations were reset, orders it somehow took still count.)"""
    return accrue(org, Live.objects.for_org(org).values_list("pk", flat=True))


def touched_by_batch(org, promoters: dict, attribution, known_orders: dict, paying: Paying) -> dict:
    """The (live, promoter) pairs an ingest batch moved, for `accrue`: `promoters`, live →
    the promoters some figure change was counted for. A buyer's first order
    in a live also decides whether they are a new buyer (新客) in the organisation's later
    lives, so those lives' promoters credited with that buyer are touched too. `paying`: the
    batch's lives read already (more are read if the orders name others)."""
    touched: dict = defaultdict(set)
    for live_id, moved in promoters.items():
        touched[live_id] |= moved
    for live_id in attribution.reset_lives:
        touched[live_id] = ALL
    new_buyers = defaultdict(set)
    for order_id in attribution.changed_orders:
        if order_id not in known_orders:
            order = attribution.orders[order_id]
            new_buyers[order.live].add(order.viewer)
    if not new_buyers:
        return dict(touched)
    # Plain SQL, as the accrual's other reads (money.inputs says why): a batch with orders asks.
    lives = paying.read(new_buyers).lives
    announced = {live_id: lives[live_id].announced_at for live_id in new_buyers}
    candidates = select(f"SELECT id, announced_at FROM {table(Live)} WHERE org_id = %s AND announced_at > %s",
                        org.pk, [adapt_time(min(announced.values()))])
    read = time_reader()
    candidates = [(pk, read(at)) for pk, at in candidates]
    for live_id, viewers in new_buyers.items():
        later_lives = {pk for pk, at in candidates if at > announced[live_id]}
        if not later_lives:  # the newest live, as when its own orders arrive: nothing to look up
            continue
        # By the buyers alone, filtered here: given the promoter and live conditions too, SQLite
        # walked every order of the organisation by its (org, live, promoter) index instead of
        # seeking the buyers by (org, viewer) — a 1M-row import slowed to a third on it.
        for later, promoter in select_in(f"SELECT live_id, promoter_id FROM {table(Order)} WHERE org_id = %s "
                                         "AND viewer", org.pk, viewers):
            if later in later_lives and promoter is not None and touched.get(later, set()) is not ALL:
                touched[later].add(promoter)
    return dict(touched)


def touched_by_own_ids(org, touched: dict, promoters: set[int]) -> dict:
    """Add to `touched` every live of `promoters` whose own ids moved: their own reservation,
    entry or purchase may be in any of their lives, and no figure of theirs moved to say so."""
    for live_id, promoter_id in (PromoterStats.objects.for_org(org).filter(promoter_id__in=list(promoters))
                                 .values_list("live_id", "promoter_id")):
        if live_id not in touched:
            touched[live_id] = set()
        if touched[live_id] is not ALL:
            touched[live_id].add(promoter_id)
    return touched


class _Moved(defaultdict):
    orders: dict


WECHAT_COMMISSION = "commission_order"  # beside the figures' indexes: WeChat commissioned an order


class Accrual(Projection):
    """The ledger as a projection of ingest (events.projections): the promoters a batch's
    counted facts moved are re-estimated on the stored figures, in the same transaction. After
    the figures (it reads them). A rebuild leaves the ledger alone: it is append-only, and
    `liveloop rebuild --check` recomputes it from a replay instead (money.check)."""
    name = "money_accrual"
    order = 20

    def load(self, batch):
        # live -> figure -> the promoters a change of it was counted for; the batch's orders
        # beside it (the projection is shared by concurrent requests: nothing is kept on it).
        moved = _Moved(lambda: defaultdict(set))
        moved.orders = batch.attribution.orders
        return moved

    def fact(self, state, fact, counted) -> None:
        for promoter, figure, amount in counted:
            if promoter is not None and amount:
                state[fact.live][figure].add(promoter)
        if fact.type == "commission_order":
            # No figure moves, but what the plan pays the order's promoter may (rules.earnings).
            promoter = state.orders[fact.order].promoter
            if promoter is not None:
                state[fact.live][WECHAT_COMMISSION].add(promoter)

    def write(self, batch, state) -> None:
        org = batch.org
        paying = Paying(org).read(state)
        # Only the figures the live's plan pays on: an entry on a plan without a view bounty,
        # a follow on any plan, moves no one's pay (rules.earnings.figures_paid_on).
        moved = {}
        for live_id, by_figure in state.items():
            paid = paying.figures(live_id)
            promoters = set().union(*(promoters for figure, promoters in by_figure.items()
                                      if paid is None or figure in paid or figure == WECHAT_COMMISSION))
            if promoters:
                moved[live_id] = promoters
        touched = touched_by_batch(org, moved, batch.attribution, batch.known_orders, paying)
        own_moved = batch.own_ids_moved()
        accrue(org, touched_by_own_ids(org, touched, own_moved) if own_moved else touched, paying, locked=True)


projection = register(Accrual())


class AdjustmentError(ValueError):
    """A refused adjustment: the field at fault and why, in the request's language."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class AlreadyRecorded(ValueError):
    """The adjustment's idempotency key is on an entry already: it was sent before."""

    def __init__(self, entry):
        super().__init__(f"adjustment {entry.idempotency_key} is entry {entry.pk}")
        self.entry = entry


def adjust(org, user, promoter, amount: int, reason: str, key: str | None = None):
    """A correction by a member: a new entry (never an edit), on the promoter's next statement.
    `key`, from the form that sent it: the same key twice adds nothing the second time
    (AlreadyRecorded), by the unique constraint on (org, key) — also when both arrive at once."""
    reason = (reason or "").strip()
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise AdjustmentError("amount", _("a whole number of fen other than 0"))
    if abs(amount) > 100_000_000:
        raise AdjustmentError("amount", _("at most ¥1,000,000 either way"))
    if not reason or len(reason) > 200:
        raise AdjustmentError("reason", _("say why (1–200 characters)"))
    if key is not None and not (isinstance(key, str) and 1 <= len(key) <= 64):
        raise AdjustmentError("key", _("the form is out of date: reload the page"))
    try:
        with transaction.atomic():
            entry = Entry.objects.create(org=org, promoter=promoter, kind=Entry.ADJUSTMENT,
                                         amount=amount, user=user, reason=reason, idempotency_key=key)
            audit.record(org, user, "ledger.adjust", f"promoter {promoter.code}", amount=amount,
                         reason=reason, entry=entry.pk)
    except IntegrityError:
        if key is None:
            raise
        raise AlreadyRecorded(Entry.objects.for_org(org).get(idempotency_key=key)) from None
    return entry


def carried_entries(org, promoter_ids):
    """Clawbacks, adjustments and carries not yet on any statement, oldest first."""
    if isinstance(promoter_ids, int):
        promoter_ids = [promoter_ids]
    return (Entry.objects.for_org(org).filter(promoter_id__in=list(promoter_ids), kind__in=Entry.CARRIED)
            .exclude(pk__in=StatementLine.objects.for_org(org).filter(entry__isnull=False)
                     .values("entry_id"))
            .order_by("pk"))


def balances(org, promoter) -> dict[str, int]:
    """What the promoter's page shows, in fen: pending (estimates on lives not settled, and
    lines waiting for the next statement), frozen, settled (approved, not yet paid, incl.
    failed payments to retry) and paid."""
    settled_lives = SettlementRun.objects.for_org(org).values("live_id")
    estimates = (Entry.objects.for_org(org).filter(promoter=promoter, kind__in=Entry.ESTIMATES)
                 .exclude(live_id__in=settled_lives).aggregate(total=Sum("amount"))["total"] or 0)
    waiting = carried_entries(org, promoter.pk).aggregate(total=Sum("amount"))["total"] or 0
    by_state = dict(Statement.objects.for_org(org).filter(promoter=promoter)
                    .values("state").annotate(total=Sum("payable")).values_list("state", "total"))
    return {"pending": estimates + waiting, "frozen": by_state.get(Statement.FROZEN, 0),
            "settled": by_state.get(Statement.SETTLED, 0) + by_state.get(Statement.FAILED, 0),
            "paid": by_state.get(Statement.PAID, 0)}
