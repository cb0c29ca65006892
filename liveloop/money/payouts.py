"""After settlement: finance approves statements, pays them through the brand's payment
channel (a batch file out, a results file back), or marks one paid by hand. Every change is
in the audit log; a statement only moves forward (failed → settled again is a retry)."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils.translation import get_language, gettext as _, pgettext_lazy

from liveloop.lib.numbers import yuan, yuan_amount
from liveloop.lib.seq import chunks
from liveloop.money.models import PayoutBatch, PayoutItem, Statement
from liveloop.orgs import audit
from liveloop.orgs.models import Organisation

FROZEN, SETTLED, PAID, FAILED = Statement.FROZEN, Statement.SETTLED, Statement.PAID, Statement.FAILED
NOTHING_TO_PAY = "nothing to pay"
# What a failure without a reason was stored as before: shown as no reason (the state says it).
NO_REASON = "failed"
STATE_LABELS = {
    FROZEN: pgettext_lazy("statement", "Frozen"),
    SETTLED: pgettext_lazy("statement", "Settled"),
    PAID: pgettext_lazy("statement", "Paid"),
    FAILED: pgettext_lazy("statement", "Payment failed"),
}
CHUNK = 500
# pg_advisory_xact_lock(BATCH_LOCK, org id): one batch at a time per organisation, so batch
# numbers count up without a clash. Two int4 keys: never the same lock as ingest's one bigint.
BATCH_LOCK = 14


class PayoutError(ValueError):
    pass


class Conflict(PayoutError):
    """Someone else moved the statements at the same moment: nothing was done here."""


def _move(org, user, statements, allowed_from: set, to: str, action: str, where: dict | None = None,
          **changes) -> int:
    """Move statements to `to`, all or none, with one audit line each.

    The move is a conditional UPDATE … WHERE state IN allowed_from (and `where`), its row count
    checked: two clients moving the same statement at once — each having read it as movable —
    cannot both succeed, because the second UPDATE finds the row no longer matching (PostgreSQL
    re-checks the WHERE on the row's newest version after waiting for the first; SQLite runs
    one writer at a time). The loser's transaction is rolled back whole (Conflict)."""
    statements = list(statements)
    for statement in statements:
        if statement.state not in allowed_from:
            raise PayoutError(_("%(number)s cannot be changed this way: it is %(state)s.")
                              % {"number": statement.number, "state": STATE_LABELS[statement.state]})
    ids = [s.pk for s in statements]
    moved = 0
    for chunk in chunks(ids, CHUNK):
        moved += (Statement.objects.for_org(org).filter(pk__in=chunk, state__in=allowed_from,
                                                         **(where or {}))
                  .update(state=to, **changes))
    if moved != len(ids):
        if len(ids) == 1:
            raise Conflict(_("Someone else changed %(number)s at the same moment: nothing was done here. "
                             "Look at it again.") % {"number": statements[0].number})
        raise Conflict(_("Someone else changed some of these statements at the same moment: nothing was "
                         "done here. Look at them again."))
    for statement in statements:
        statement.state = to
        for name, value in changes.items():
            setattr(statement, name, value)
    shown = {k: str(v) for k, v in changes.items() if k != "batch"}
    audit.record_many(org, user, action, [(s.number, {"state": to, **shown}) for s in statements])
    return len(statements)


class StaleConfirmation(PayoutError):
    """The person confirmed a count and sum that are no longer what the action would move."""


def _confirm(expect, statements) -> None:
    """`expect`: the (count, sum in fen) the person confirmed on the page. Checked against the
    very statements moved, inside the same transaction, so a confirmation made before someone
    else's change (more statements settled, one approved singly) moves nothing."""
    if expect is None:
        return
    if (len(statements), sum(s.payable for s in statements)) != tuple(expect):
        raise StaleConfirmation(_("The statements changed since the page was shown: nothing was done. "
                                  "Check the count and sum again."))


@transaction.atomic
def approve(org, user, statements, expect: tuple[int, int] | None = None) -> int:
    """frozen → settled. A statement with nothing to pay is closed as paid at once."""
    statements = list(statements)
    _confirm(expect, statements)
    zero = [s for s in statements if s.payable == 0]
    moved = _move(org, user, [s for s in statements if s.payable != 0], {FROZEN}, SETTLED,
                  "statement.approve")
    return moved + _move(org, user, zero, {FROZEN}, PAID, "statement.approve",
                         paid_reference=NOTHING_TO_PAY, paid_at=datetime.now(timezone.utc))


@transaction.atomic
def mark_paid(org, user, statement: Statement, reference: str) -> None:
    """Paid by hand — only a statement in no open batch: one whose file is with the payment
    channel is paid (or not) by that batch's results, else it could be paid both ways."""
    reference = reference.strip()
    if not reference or len(reference) > 64:
        raise PayoutError(_("a payment reference (1–64 characters) is required"))
    if statement.batch_id is not None:
        raise PayoutError(_("%(number)s waits in a payout batch: its payment comes from that batch's results.")
                          % {"number": statement.number})
    _move(org, user, [statement], {SETTLED}, PAID, "statement.paid", where={"batch__isnull": True},
          paid_reference=reference, paid_at=datetime.now(timezone.utc), failure="")


@transaction.atomic
def retry(org, user, statement: Statement) -> None:
    """failed → settled: the next batch takes it again."""
    _move(org, user, [statement], {FAILED}, SETTLED, "statement.retry")


def _unbatched(org):
    return Statement.objects.for_org(org).filter(state=SETTLED, payable__gt=0, batch__isnull=True)


def ceiling_of(org) -> int | None:
    """The organisation's payout ceiling as stored now (not as the caller's copy has it): the
    batch that claims statements and the page that shows what it would claim read the same."""
    return Organisation.objects.filter(pk=org.pk).values_list("payout_ceiling", flat=True).first()


def _over_ceiling(org, ceiling: int | None):
    """The promoters whose statements waiting (not released) add up to more than the ceiling,
    as a subquery: evaluated inside the UPDATE that claims a batch's statements."""
    if ceiling is None:
        return None
    return (_unbatched(org).filter(released=False).values("promoter")
            .annotate(waiting=Sum("payable")).filter(waiting__gt=ceiling).values("promoter"))


def _claimable(org, ceiling: int | None):
    over = _over_ceiling(org, ceiling)
    statements = _unbatched(org)
    return statements if over is None else statements.filter(Q(released=True) | ~Q(promoter__in=over))


def batchable(org):
    """Settled statements the next batch takes: in no batch yet, and not held by the ceiling."""
    return _claimable(org, ceiling_of(org)).select_related("promoter", "run__live").order_by("number")


def held(org):
    """Settled statements the ceiling holds out of the next batch, until finance releases them."""
    over = _over_ceiling(org, ceiling_of(org))
    if over is None:
        return Statement.objects.none()
    return (_unbatched(org).filter(released=False, promoter__in=over)
            .select_related("promoter").order_by("promoter__code", "number"))


@transaction.atomic
def release(org, user, statement: Statement) -> None:
    """Let one held statement through the ceiling: the next batch takes it. Audited with the
    amount and the ceiling it was over; only a settled statement in no batch can be released."""
    ceiling = ceiling_of(org)
    moved = (_unbatched(org).filter(pk=statement.pk, released=False).update(released=True))
    if not moved:
        raise PayoutError(_("%(number)s is not held: nothing was released.") % {"number": statement.number})
    statement.released = True
    audit.record(org, user, "statement.release", statement.number, amount=statement.payable,
                 ceiling=ceiling)


def _lock_batches(org) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [BATCH_LOCK, org.pk])


def new_batch(org, user, now: datetime) -> PayoutBatch:
    """An empty batch numbered for the organisation's day; the caller claims its statements
    in the same transaction (a file batch here, a WeChat Pay run in money/wechatpay.py)."""
    _lock_batches(org)
    count = PayoutBatch.objects.for_org(org).count() + 1
    local = now.astimezone(ZoneInfo(org.timezone))  # the number's date is the organisation's day
    try:
        with transaction.atomic():
            return PayoutBatch.objects.create(org=org, number=f"P{local:%Y%m%d}-{count:04d}", user=user,
                                              total=0, count=0)
    except IntegrityError:  # the same number from a batch made at the same moment
        raise Conflict(_("Another payout batch was being made at the same moment: look at the batches again.")) \
            from None


@transaction.atomic
def create_batch(org, user, now: datetime | None = None, expect: tuple[int, int] | None = None) -> PayoutBatch:
    """A batch of every settled statement in no batch yet.

    The batch claims its statements with one conditional UPDATE (… SET batch = this WHERE
    state = settled AND batch IS NULL) and is built from what that UPDATE claimed, never from a
    list read before: of two batches made at once, the second finds nothing left to claim.
    (A list read first and locked with FOR UPDATE went stale while it waited: issue 14.)"""
    now = now or datetime.now(timezone.utc)
    batch = new_batch(org, user, now)
    # The ceiling is read and applied inside the one UPDATE (a subquery over the same rows), so
    # a statement approved or a ceiling lowered a moment before cannot slip a promoter over it.
    claimed = _claimable(org, ceiling_of(org)).update(batch=batch)
    if not claimed:
        raise PayoutError(_("no settled statements are waiting for payment"))
    statements = list(Statement.objects.for_org(org).filter(batch=batch).order_by("number"))
    _confirm(expect, statements)  # raised here, the claim and the batch are rolled back
    batch.total, batch.count = sum(s.payable for s in statements), len(statements)
    batch.save(update_fields=["total", "count"])
    PayoutItem.objects.bulk_create([PayoutItem(org=org, batch=batch, statement=s, amount=s.payable)
                                    for s in statements], batch_size=CHUNK)
    held_count = held(org).count()  # left for the next batch: said in the audit line
    audit.record(org, user, "payout.batch", batch.number, count=batch.count, total=batch.total,
                 **({"held": held_count} if held_count else {}))
    return batch


BATCH_HEADERS = ("付款参考号 reference", "推广员编号 code", "姓名 name", "收款方式 method",
                 "收款账号 account", "开户行 bank", "金额（元）amount", "金额（分）fen")


def batch_rows(batch: PayoutBatch):
    """The rows of the batch file, for the brand's payment channel (WeChat Pay to change by
    openid, or a bank transfer)."""
    for item in batch.items.select_related("statement__promoter").order_by("statement__number"):
        statement, promoter = item.statement, item.statement.promoter
        method = "wechat_openid" if statement.payee and statement.payee == promoter.openid else "bank"
        yield (statement.number, promoter.code, promoter.name, method, statement.payee,
               promoter.bank_name if method == "bank" else "", str(yuan_amount(item.amount)), item.amount)


# Results from the payment channel: which statements were paid, which failed and why. Header
# names and status words as Chinese payment channels write them (WeChat Pay's merchant
# transfer details, banks' batch payment results) besides our own (docs/decisions.md
# "Payment results in the channel's words").
RESULT_COLUMNS = {
    "reference": ("付款参考号", "参考号", "商户订单号", "商家明细单号", "商户明细单号", "业务参考号",
                  "reference", "付款参考号 reference"),
    "status": ("状态", "结果", "付款状态", "支付状态", "转账状态", "交易状态", "明细状态", "处理结果",
               "status", "result"),
    "transaction": ("流水号", "交易单号", "微信支付单号", "微信明细单号", "交易流水号", "银行流水号",
                    "transaction", "transaction id"),
    "reason": ("原因", "失败原因", "错误原因", "备注", "reason"),
    # A bank's result file (招商银行 代发: money.bank_files) has no reference column: the
    # statement number comes back inside the 注释 we wrote, with the purpose word before it.
    # Checked when present: the amount and the account must be the batch's.
    "note": ("注释", "摘要", "用途"),
    "amount": ("金额", "交易金额", "amount"),
    "account": ("账号", "收款账号", "收方账号", "account"),
}
# The column as the page names it (the results form's help), for the errors table.
RESULT_COLUMN_LABELS = {
    "reference": pgettext_lazy("results column", "Payment reference"),
    "status": pgettext_lazy("results column", "Status"),
    "transaction": pgettext_lazy("results column", "Transaction id"),
    "reason": pgettext_lazy("results column", "Reason"),
    "note": pgettext_lazy("results column", "Note"),
    "amount": pgettext_lazy("results column", "Amount"),
    "account": pgettext_lazy("results column", "Account"),
}
# A statement number inside a note: "佣金 S00012-P7K2M9Q" → S00012-P7K2M9Q.
NOTE_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
def _header_names(key: str) -> str:
    """The accepted headers of a column, as the error names them: in a Chinese page the Chinese
    ones (the English aliases are still accepted, only not listed among Chinese words)."""
    names = RESULT_COLUMNS[key]
    if (get_language() or "").startswith("zh"):
        names = [n for n in names if not n.isascii() and not any(c.isascii() and c.isalpha() for c in n)]
    else:
        names = [n for n in names if n.isascii()]
    return "、".join(names) if (get_language() or "").startswith("zh") else ", ".join(names)


# Compared after strip() and lower(): "SUCCESS" and "success" are one word.
PAID_WORDS = {"成功", "已完成", "完成", "支付成功", "付款成功", "转账成功", "打款成功", "交易成功", "代发成功",
              "已支付", "已付款",
              "已打款", "已转账", "已到账", "success", "succeeded", "paid", "ok", "completed"}
FAILED_WORDS = {"失败", "支付失败", "付款失败", "转账失败", "打款失败", "交易失败", "代发失败", "已退回", "退回",
                "退票", "已退票", "退汇", "已退汇", "已关闭", "failed", "fail", "refused", "returned"}
# Not an answer yet: the channel is still working on the row.
PENDING_WORDS = {"处理中", "转账中", "付款中", "支付中", "待确认", "待处理", "processing", "pending"}


def _words(words) -> str:
    """Chinese words first, then English, each group in a stable order."""
    return "、".join(sorted(words, key=lambda word: (word.isascii(), word)))


@dataclass
class ResultCheck:
    rows: list = field(default_factory=list)  # (statement, paid?, transaction, reason)
    errors: list = field(default_factory=list)  # (row number, column, reason)


def read_results(org, batch: PayoutBatch, data: bytes) -> ResultCheck:
    """Check a results file against the batch; nothing is written here."""
    check = ResultCheck()
    if batch.transfers.exists():  # WeChat Pay answers for its own bills (money/wechatpay.py)
        check.errors.append((1, "", _("This batch is paid through WeChat Pay: its results come from WeChat Pay.")))
        return check
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            check.errors.append((1, "", _("the file is neither UTF-8 nor GBK text")))
            return check
    if "\x00" in text:  # a binary file that happens to decode (UTF-16, an image…)
        check.errors.append((1, "", _("the file is not text: save it as CSV (UTF-8) or XLSX")))
        return check
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
    except csv.Error:
        check.errors.append((1, "", _("not readable as CSV: a field is too long or a quote is not closed")))
        return check
    if header is None:
        check.errors.append((1, "", _("the results file is empty")))
        return check
    names = [h.strip().lower() for h in header]
    where = {}
    for key, options in RESULT_COLUMNS.items():
        for option in options:
            if option.lower() in names:
                where[key] = names.index(option.lower())
                break
    if "reference" not in where and "note" in where:
        where["reference"] = where["note"]  # the bank's layout: the number inside the note
    for key in ("reference", "status"):
        if key not in where:
            check.errors.append((1, key, _("no %(column)s column (one of: %(names)s)")
                                 % {"column": RESULT_COLUMN_LABELS[key], "names": _header_names(key)}))
    if check.errors:
        return check
    items = {item.statement.number: item for item in
             batch.items.select_related("statement")}
    seen = set()
    number = 1
    try:
        for number, row in enumerate(reader, start=2):
            _check_row(check, batch, items, seen, where, number, row)
    except csv.Error:  # a field over the csv module's limit (128 KB), an unclosed quote at the end
        check.errors.append((number + 1, "", _("not readable as CSV: a field is too long or a quote is not closed")))
    return check


def _check_row(check: ResultCheck, batch, items, seen, where, number, row) -> None:
    if not any(cell.strip() for cell in row):
        return
    cell = lambda key: row[where[key]].strip() if key in where and where[key] < len(row) else ""  # noqa: E731
    reference, status = cell("reference"), cell("status").lower()
    item = items.get(reference)
    if item is None and "note" in where:
        found = [token for token in NOTE_TOKEN.findall(cell("note")) if token in items]
        if found:
            reference, item = found[0], items[found[0]]
    if item is None:
        check.errors.append((number, "reference", _("“%(reference)s” is not in batch %(batch)s")
                                                % {"reference": reference, "batch": batch.number}))
        return
    if reference in seen:
        check.errors.append((number, "reference", _("%(reference)s appears twice") % {"reference": reference}))
        return
    seen.add(reference)
    if status in PENDING_WORDS:
        check.errors.append((number, "status", _("“%(status)s”: the channel has not finished this payment. Upload "
                                                 "the results once every row is paid or failed.")
                             % {"status": cell("status")}))
        return
    if status not in PAID_WORDS | FAILED_WORDS:
        check.errors.append((number, "status", _("“%(status)s” is neither paid (%(paid)s) nor failed (%(failed)s)")
                            % {"status": cell("status"), "paid": _words(PAID_WORDS),
                               "failed": _words(FAILED_WORDS)}))
        return
    if item.statement.state != SETTLED:
        check.errors.append((number, "reference", _("%(reference)s is %(state)s, not waiting for payment")
                                                % {"reference": reference,
                                                   "state": STATE_LABELS[item.statement.state]}))
        return
    if item.statement.batch_id != batch.pk:  # failed here, settled again: waits in a later batch
        check.errors.append((number, "reference", _("%(reference)s no longer waits in batch %(batch)s")
                                                % {"reference": reference, "batch": batch.number}))
        return
    mismatch = _mismatch(item, cell("amount"), cell("account"))
    if mismatch:
        check.errors.append((number, *mismatch))
        return
    paid = status in PAID_WORDS
    # A bank's result file (the number found in its note) carries no transaction id of its own
    # per row: the batch it paid in is the reference (the bank's 业务参考号 is the whole batch's).
    # Any other file without one still has each paid row refused.
    bank_layout = "transaction" not in where and where.get("note") == where["reference"]
    transaction_id = batch.number if bank_layout else cell("transaction")[:64]
    if paid and not transaction_id:
        check.errors.append((number, "transaction", _("a paid row needs the channel's transaction id")))
        return
    check.rows.append((item.statement, paid, transaction_id, cell("reason")[:200]))


def _mismatch(item, amount: str, account: str):
    """(column, reason) when the row's amount or account is not what the batch paid: a result
    file for another batch, or edited by hand, marks nothing."""
    if amount:
        try:
            value = Decimal(amount.replace(",", "").replace("¥", "").replace("￥", ""))
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            return "amount", _("“%(amount)s” is not an amount in yuan") % {"amount": amount}
        if value * 100 != item.amount:
            return "amount", (_("the amount %(amount)s is not the %(paid)s this batch pays %(reference)s")
                              % {"amount": amount, "paid": yuan(item.amount), "reference": item.statement.number})
    digits = re.sub(r"\s", "", account)
    # A masked account (6222****1234) cannot be compared: the reference and amount decide.
    if digits and "*" not in digits and digits != re.sub(r"\s", "", item.statement.payee):
        return "account", _("the account is not the one this batch pays %(reference)s") % {
            "reference": item.statement.number}
    return None


@transaction.atomic
def apply_results(org, user, batch: PayoutBatch, data: bytes) -> ResultCheck:
    """All or nothing: any bad row and nothing is marked. Each row moves its statement only if
    it still waits in this batch (a conditional UPDATE): the same file uploaded twice at once
    pays nobody twice — the second upload finds the statements gone and raises Conflict."""
    check = read_results(org, batch, data)
    if check.errors:
        return check
    now = datetime.now(timezone.utc)
    for statement, paid, transaction_id, reason in check.rows:
        if paid:
            _move(org, user, [statement], {SETTLED}, PAID, "statement.paid", where={"batch": batch},
                  paid_reference=transaction_id, paid_at=now, failure="", batch=None)
        else:
            _move(org, user, [statement], {SETTLED}, FAILED, "statement.failed", where={"batch": batch},
                  failure=reason, batch=None)  # no reason given: the state says it failed
    audit.record(org, user, "payout.results", batch.number, paid=sum(1 for r in check.rows if r[1]),
                 failed=sum(1 for r in check.rows if not r[1]))
    return check


# The confirmed count and sum, checked the same way for a WeChat Pay run (money/wechatpay.py).
check_expected = _confirm


def leave_batch(org, user, statement: Statement, batch: PayoutBatch, *, paid: bool, reference: str = "",
                reason: str = "", action: str, now: datetime | None = None) -> None:
    """A channel's answer for one statement of `batch`: paid, or settled again (out of the
    batch, its reason kept) so that the next run pays it. Conditional on the statement still
    waiting in this batch, like apply_results: an answer applied twice moves it once."""
    if paid:
        _move(org, user, [statement], {SETTLED}, PAID, action, where={"batch": batch},
              paid_reference=reference[:64], paid_at=now or datetime.now(timezone.utc), failure="", batch=None)
    else:
        _move(org, user, [statement], {SETTLED}, SETTLED, action, where={"batch": batch},
              failure=reason[:200], batch=None)
