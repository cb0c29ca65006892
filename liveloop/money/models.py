"""Commission plans, the promoter ledger, settlement runs, statements and payout batches.

Amounts are integer fen. The ledger is append-only: nothing updates or deletes an entry, a
correction is a new entry (docs/decisions.md "Money: ledger and settlement").
"""
from django.conf import settings
from django.db import models

from liveloop.at_rest import EncryptedTextField
from liveloop.orgs.models import TenantModel


class Plan(TenantModel):
    """A commission plan (rules.commission.Plan) under a name. `rules` holds the Plan's fields;
    a live uses its programme's plan, else the organisation's default."""
    name = models.CharField(max_length=80)
    rules = models.JSONField()
    is_default = models.BooleanField(default=False)
    # Archived: no longer offered for lives, still paid by the lives that chose it (issue 19).
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="plan_org_name"),
            # The default is what a live without a choice pays by: it cannot be archived.
            models.CheckConstraint(condition=~models.Q(is_default=True, archived=True),
                                   name="plan_default_not_archived"),
            models.UniqueConstraint(fields=["org"], condition=models.Q(is_default=True),
                                    name="plan_org_one_default"),
        ]

    def __str__(self):
        return self.name


class ProgrammePlan(TenantModel):
    """The plan a live's programme pays by, when not the organisation's default."""
    live = models.OneToOneField("lives.Live", on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")


class AppendOnlyQuerySet(models.QuerySet):
    def for_org(self, org):
        return self.filter(org=org)

    def update(self, **kwargs):
        raise TypeError("ledger entries are never changed: add a correcting entry")

    def delete(self):
        raise TypeError("ledger entries are never deleted: add a correcting entry")


class Entry(TenantModel):
    """One line of a promoter's ledger for one live (live NULL: an adjustment or carry not
    tied to a live)."""
    ACCRUAL, REVERSAL, SETTLEMENT, CLAWBACK, ADJUSTMENT, CARRY = (
        "accrual", "reversal", "settlement", "clawback", "adjustment", "carry")
    KINDS = [(k, k) for k in (ACCRUAL, REVERSAL, SETTLEMENT, CLAWBACK, ADJUSTMENT, CARRY)]
    # Estimates while a live is open to change; settlement trues them up to the final figure.
    ESTIMATES = (ACCRUAL, REVERSAL)
    # Lines that wait for the promoter's next statement.
    CARRIED = (CLAWBACK, ADJUSTMENT, CARRY)

    promoter = models.ForeignKey("promoters.Promoter", on_delete=models.PROTECT, related_name="+")
    live = models.ForeignKey("lives.Live", null=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=KINDS)
    amount = models.BigIntegerField()  # fen, signed
    at = models.DateTimeField(auto_now_add=True)
    # What it follows from: the log position it was computed at (the events up to it), the
    # settlement run, the member who made an adjustment and why.
    upto_seq = models.BigIntegerField(null=True)
    run = models.ForeignKey("SettlementRun", null=True, on_delete=models.PROTECT, related_name="entries")
    statement = models.ForeignKey("Statement", null=True, on_delete=models.PROTECT,
                                  related_name="carry_entries")  # a carry: from which statement
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                             related_name="+")
    reason = models.CharField(max_length=200, blank=True, default="")
    # An adjustment's form sends a key made when the form was shown: sent twice (a double tap,
    # a resend, two tabs racing), the second insert breaks the unique constraint instead of
    # adding the money again.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "idempotency_key"],
                                               condition=models.Q(idempotency_key__isnull=False),
                                               name="entry_org_idempotency_key")]
        indexes = [models.Index(fields=["org", "live", "promoter"], name="entry_org_live_promoter"),
                   models.Index(fields=["org", "promoter", "kind"], name="entry_org_promoter_kind")]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("ledger entries are never changed: add a correcting entry")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("ledger entries are never deleted: add a correcting entry")


class Estimate(TenantModel):
    """What a promoter's estimates (accrual and reversal entries) for one live add up to: a
    running total the ledger keeps beside its entries, in the same transaction, so an ingest
    batch reads one row per earner instead of summing every estimate the live's earlier batches
    wrote (that sum grew with the live: docs/performance.md "Held estimates"). Derived from the
    entries: `liveloop rebuild --check` compares the two, `liveloop rebuild` rewrites it."""
    live = models.ForeignKey("lives.Live", on_delete=models.CASCADE, related_name="+")
    promoter = models.ForeignKey("promoters.Promoter", on_delete=models.CASCADE, related_name="+")
    amount = models.BigIntegerField(default=0)  # fen, signed

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "live", "promoter"],
                                               name="estimate_org_live_promoter")]


class SettlementRun(TenantModel):
    """The recorded decision to settle a live: the log position, plan and teams it used.
    `liveloop rebuild --check` replays the log to `upto_seq` and must find the same figures
    and the same amounts."""
    live = models.OneToOneField("lives.Live", on_delete=models.PROTECT, related_name="+")
    upto_seq = models.BigIntegerField()
    plan_name = models.CharField(max_length=80)
    plan_rules = models.JSONField()
    teams = models.JSONField()  # [[team id, leader, parent, [members]], ...] as they were
    own_ids = models.JSONField(default=dict)  # {promoter id: [own viewer ids]} as they were
    withhold_tax = models.BooleanField(default=False)  # the organisation's setting then
    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                             related_name="+")


class Statement(TenantModel):
    """What a settlement run pays one promoter. frozen (amounts fixed, awaiting finance's
    approval) → settled (approved, in the next payout batch) → paid, or failed (the payment
    channel refused it; finance can settle it again)."""
    FROZEN, SETTLED, PAID, FAILED = "frozen", "settled", "paid", "failed"
    STATES = [(s, s) for s in (FROZEN, SETTLED, PAID, FAILED)]

    run = models.ForeignKey(SettlementRun, on_delete=models.PROTECT, related_name="statements")
    promoter = models.ForeignKey("promoters.Promoter", on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=40)  # the payout reference, e.g. S20261126-0001-00042
    month = models.CharField(max_length=7)  # YYYY-MM in the organisation's zone: one tax "payment"
    gross = models.BigIntegerField()  # the lines' sum; may be < 0 (then carried, payable 0)
    tax = models.BigIntegerField(default=0)
    payable = models.BigIntegerField()
    state = models.CharField(max_length=8, choices=STATES, default=FROZEN)
    # The openid or bank account paid, copied when settled; sealed at rest (liveloop.at_rest),
    # in full only in finance's files (masked_payee elsewhere).
    payee = EncryptedTextField(max_length=128, blank=True, default="")
    paid_reference = models.CharField(max_length=64, blank=True, default="")
    failure = models.CharField(max_length=200, blank=True, default="")
    paid_at = models.DateTimeField(null=True, blank=True)
    # The payout batch the statement waits in (its file handed to the payment channel), until
    # that batch's results say paid or failed. One column, set only by a conditional UPDATE
    # (… WHERE batch IS NULL): a statement is in at most one open payout (liveloop/money/payouts.py).
    batch = models.ForeignKey("PayoutBatch", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="waiting")
    # Finance let it through the organisation's payout ceiling (money.payouts.release): the next
    # batch takes it whatever its amount.
    released = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "run", "promoter"], name="statement_org_run_promoter"),
            models.UniqueConstraint(fields=["org", "number"], name="statement_org_number"),
        ]
        indexes = [models.Index(fields=["org", "promoter", "month"], name="statement_org_promoter_month")]

    @property
    def masked_payee(self) -> str:
        from liveloop.promoters.models import mask_account

        return mask_account(self.payee)


class StatementLine(TenantModel):
    """A line of a statement: the live's commission (with its breakdown), or a carried entry."""
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines")
    entry = models.OneToOneField(Entry, null=True, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=120)
    amount = models.BigIntegerField()
    # For the live's commission: the figures the plan was applied to and the breakdown lines.
    figures = models.JSONField(null=True)
    breakdown = models.JSONField(null=True)


class PayoutBatch(TenantModel):
    """A file of settled statements handed to the brand's payment channel."""
    number = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                             related_name="+")
    total = models.BigIntegerField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "number"], name="payoutbatch_org_number")]


class PayoutItem(TenantModel):
    """A statement in a batch. A failed statement, settled again, goes into a later batch."""
    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="items")
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="items")
    amount = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "batch", "statement"],
                                               name="payoutitem_org_batch_statement")]


class Transfer(TenantModel):
    """A WeChat Pay merchant transfer (商家转账) of one statement: the bill WeChat Pay holds under
    `out_bill_no`. A statement whose bill fails, is cancelled or expires goes back to settled
    and is paid by a new attempt, a new bill (docs/decisions.md "WeChat Pay transfers").

    out_bill_no is derived from the statement's number and the attempt, and unique: a run
    retried or raced cannot make a second bill for the same attempt (the insert fails), and
    at most one bill per statement is open at a time (the partial unique index)."""
    NEW = "NEW"  # recorded here, not yet accepted by WeChat Pay (or its answer was lost)
    ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING = "ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING"
    SUCCESS, FAIL, CANCELING, CANCELLED = "SUCCESS", "FAIL", "CANCELING", "CANCELLED"
    STATES = [(s, s) for s in (NEW, ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, SUCCESS, FAIL,
                               CANCELING, CANCELLED)]
    FINAL = (SUCCESS, FAIL, CANCELLED)

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="transfers")
    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="transfers")
    attempt = models.PositiveIntegerField()
    out_bill_no = models.CharField(max_length=32)
    openid = EncryptedTextField(max_length=64)
    amount = models.BigIntegerField()  # fen
    # The day (organisation's zone) the transfer counts against the daily limits.
    day = models.DateField()
    state = models.CharField(max_length=20, choices=STATES, default=NEW)
    transfer_bill_no = models.CharField(max_length=64, blank=True, default="")
    package_info = models.TextField(blank=True, default="")  # for requestMerchantTransfer
    fail_reason = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "out_bill_no"], name="transfer_org_out_bill_no"),
            models.UniqueConstraint(fields=["org", "statement", "attempt"], name="transfer_org_statement_attempt"),
            models.UniqueConstraint(fields=["org", "statement"], name="transfer_org_statement_open",
                                    condition=~models.Q(state__in=["SUCCESS", "FAIL", "CANCELLED"])),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="transfer_amount_positive"),
        ]
        indexes = [models.Index(fields=["org", "day"], name="transfer_org_day"),
                   models.Index(fields=["state", "updated_at"], name="transfer_state_updated")]
