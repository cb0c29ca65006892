"""Paying settled statements by WeChat Pay merchant transfer (商家转账), with the receiver's
confirmation (docs/decisions.md "WeChat Pay transfers", docs/wechat.md "WeChat Pay").

A run claims the settled statements paid to an openid that fit today's limits into a payout
batch (one conditional UPDATE, as file batches do) and records one Transfer each, with an
out_bill_no made of the statement's number and the attempt; then it asks WeChat Pay for each
bill. WeChat Pay's answers — the create response, the signed callback, a status query — all
go through `apply`, which moves a transfer only forward (a conditional UPDATE on its state),
so a replayed callback or a late query changes nothing. The statement follows: SUCCESS →
paid; FAIL, CANCELLED (the merchant's cancel, or 24 hours unconfirmed) → settled again, out of
the batch, with the reason, for the next run's new attempt.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils.translation import gettext as _, pgettext_lazy

from liveloop.integrations.models import WechatPayMerchant
from liveloop.integrations.wechatpay import protocol
from liveloop.integrations.wechatpay.client import Merchant, PayApiError, PayClient, PayUnavailable
from liveloop.money import payouts
from liveloop.money.models import PayoutItem, Statement, Transfer
from liveloop.orgs import audit

log = logging.getLogger(__name__)
T = Transfer
# A state only moves to a later one: an answer that arrives late (a query's WAIT_USER_CONFIRM
# after the callback's SUCCESS) changes nothing.
RANK = {T.NEW: 0, T.ACCEPTED: 1, T.PROCESSING: 2, T.WAIT_USER_CONFIRM: 3, T.TRANSFERING: 4, T.CANCELING: 4,
        T.SUCCESS: 9, T.FAIL: 9, T.CANCELLED: 9}
# WeChat Pay's bill states in words (商家转账 单据状态).
STATE_LABELS = {
    T.NEW: pgettext_lazy("transfer", "Not yet accepted"), T.ACCEPTED: pgettext_lazy("transfer", "Accepted"),
    T.PROCESSING: pgettext_lazy("transfer", "Processing"),
    T.WAIT_USER_CONFIRM: pgettext_lazy("transfer", "Waiting for the receiver to confirm"),
    T.TRANSFERING: pgettext_lazy("transfer", "Transferring"), T.SUCCESS: pgettext_lazy("transfer", "Received"),
    T.FAIL: pgettext_lazy("transfer", "Failed"), T.CANCELING: pgettext_lazy("transfer", "Cancelling"),
    T.CANCELLED: pgettext_lazy("transfer", "Cancelled or expired"),
}
# Bills whose money is gone or may still go count against the day's limits; failed and
# cancelled ones returned it.
COUNTED = Q(state__in=[s for s in RANK if s not in (T.FAIL, T.CANCELLED)])
# The receiver's name is required from 2,000 yuan (WeChat Pay: 转账金额 >= 2,000元时必填).
NAME_FROM_FEN = 2000 * 100
MIN_FEN = 10  # WeChat Pay's smallest transfer: 0.1 yuan
# The statement's reason when a bill ends unpaid: WeChat Pay's fail_reason codes in words.
REASONS = {
    "TRANSFER_EXPIRED": "收款人24小时内未确认收款，转账已关闭",
    "MERCHANT_REVOCATION": "商户已撤销转账",
    "REAL_NAME_CHECK_FAIL": "收款人微信实名与姓名不一致",
    "PAYEE_ACCOUNT_ABNORMAL": "收款人微信账户异常",
    "NAME_NOT_CORRECT": "收款人姓名不正确",
    "OVERDUE_CLOSE": "超过系统重试期，转账已关闭",
    "TRANSFER_QUOTA_EXCEED": "超过收款人单日收款额度",
    "DAY_RECEIVED_QUOTA_EXCEED": "超过收款人单日收款额度",
    "NOT_ENOUGH": "商户运营账户余额不足",
}


def reason_words(state: str, code: str) -> str:
    if code in REASONS:
        return f"微信转账未成功：{REASONS[code]}（{code}）"
    if code:
        return f"微信转账未成功（{code}）"
    return "微信转账已撤销或超时未确认" if state == T.CANCELLED else "微信转账失败"


def merchant_of(org) -> WechatPayMerchant | None:
    return WechatPayMerchant.objects.for_org(org).first()


def client_for(merchant: WechatPayMerchant, **options) -> PayClient:
    return PayClient(Merchant(mchid=merchant.mchid, appid=merchant.appid, serial=merchant.cert_serial,
                              private_key=merchant.private_key, public_key=merchant.public_key,
                              public_key_id=merchant.public_key_id, base_url=merchant.api_base), **options)


def out_bill_no(statement: Statement, attempt: int) -> str:
    """Letters and digits only, at most 32 (WeChat Pay's rule): S20261126-0001-00042, attempt 2
    → S20261126000100042A2. Unique per organisation by the statement number's own uniqueness."""
    return f"{re.sub(r'[^A-Za-z0-9]', '', statement.number)}A{attempt}"[-32:]


def day_of(org, now: datetime) -> date:
    return now.astimezone(ZoneInfo(org.timezone)).date()


def wechat_payable(statement: Statement) -> bool:
    """Paid to the promoter's openid (the payee copied at settlement), not to a bank card."""
    return bool(statement.payee) and statement.payee == statement.promoter.openid


@dataclass
class RunPlan:
    chosen: list = field(default_factory=list)  # statements to pay today
    held: list = field(default_factory=list)  # over today's limits: paid by a run tomorrow
    too_large: list = field(default_factory=list)  # more than one receiver's daily limit: never fits

    @property
    def held_total(self) -> int:
        return sum(s.payable for s in self.held)


def plan(org, merchant: WechatPayMerchant, now: datetime, only=None) -> RunPlan:
    """Which waiting statements today's limits let through, in statement order (`only`: of
    these statement ids). Pure reading; the run repeats it under the batch lock."""
    day = day_of(org, now)
    counted = Transfer.objects.for_org(org).filter(COUNTED, day=day)
    merchant_used = counted.aggregate(total=Sum("amount"))["total"] or 0
    receiver_used: dict[int, int] = {}
    for promoter_id, amount in counted.values_list("statement__promoter_id", "amount"):
        receiver_used[promoter_id] = receiver_used.get(promoter_id, 0) + amount
    result = RunPlan()
    waiting = payouts.batchable(org)
    if only is not None:
        waiting = waiting.filter(pk__in=list(only))
    for statement in waiting:
        if not wechat_payable(statement) or statement.payable < MIN_FEN:
            continue
        amount, who = statement.payable, statement.promoter_id
        if amount > merchant.receiver_daily_fen or amount > merchant.merchant_daily_fen:
            result.too_large.append(statement)
        elif (receiver_used.get(who, 0) + amount > merchant.receiver_daily_fen
              or merchant_used + amount > merchant.merchant_daily_fen):
            result.held.append(statement)
        else:
            receiver_used[who] = receiver_used.get(who, 0) + amount
            merchant_used += amount
            result.chosen.append(statement)
    return result


@transaction.atomic
def start_run(org, user, merchant: WechatPayMerchant, now: datetime | None = None,
              expect: tuple[int, int] | None = None, only=None):
    """Claim today's payable statements into a batch and record their transfers (state NEW).
    Returns (batch, plan). Nothing is sent here: `send` does, after this commits, so a crash
    between leaves NEW transfers that `poll` sends with the same out_bill_no."""
    now = now or datetime.now(timezone.utc)
    batch = payouts.new_batch(org, user, now)  # takes the organisation's batch lock first
    planned = plan(org, merchant, now, only)  # read under the lock: two runs cannot both count today
    payouts.check_expected(expect, planned.chosen)
    if not planned.chosen:
        raise payouts.PayoutError(_("No statement paid to a WeChat openid fits today's limits."))
    claimed = (Statement.objects.for_org(org).filter(pk__in=[s.pk for s in planned.chosen],
                                                     state=payouts.SETTLED, batch__isnull=True)
               .update(batch=batch))
    if claimed != len(planned.chosen):
        raise payouts.Conflict(_("Someone else changed some of these statements at the same moment: nothing was "
                                 "done here. Look at them again."))
    day = day_of(org, now)
    made = []
    for statement in planned.chosen:
        attempt = Transfer.objects.for_org(org).filter(statement=statement).count() + 1
        made.append(Transfer(org=org, statement=statement, batch=batch, attempt=attempt,
                             out_bill_no=out_bill_no(statement, attempt), openid=statement.payee,
                             amount=statement.payable, day=day, created_at=now, updated_at=now))
    try:
        with transaction.atomic():
            Transfer.objects.bulk_create(made)
    except IntegrityError:  # the same attempt recorded by a run at the same moment
        raise payouts.Conflict(_("Another payout was being made at the same moment: look at the batches again.")) \
            from None
    PayoutItem.objects.bulk_create([PayoutItem(org=org, batch=batch, statement=s, amount=s.payable)
                                    for s in planned.chosen])
    batch.total, batch.count = sum(s.payable for s in planned.chosen), len(planned.chosen)
    batch.save(update_fields=["total", "count"])
    audit.record(org, user, "payout.batch", batch.number, count=batch.count, total=batch.total,
                 channel="wechatpay", held=len(planned.held), held_total=planned.held_total)
    audit.record_many(org, user, "transfer.state", [
        (t.statement.number, {"state": T.NEW, "amount": t.amount, "out_bill_no": t.out_bill_no}) for t in made])
    return batch, planned


def send(org, merchant: WechatPayMerchant, transfers, client: PayClient | None = None,
         now: datetime | None = None, notify_base: str = "") -> None:
    """Ask WeChat Pay for each NEW bill. Unreachable: it stays NEW and `poll` asks again with
    the same out_bill_no (WeChat Pay answers the bill it already has)."""
    client = client or client_for(merchant)
    for transfer in transfers:
        if transfer.state != T.NEW:
            continue
        statement = transfer.statement
        # WeChat Pay checks the name against the openid's real-name account: the legal name
        # finance recorded for the tax report when there is one, else the promoter's name.
        promoter = statement.promoter
        name = (promoter.legal_name or promoter.name) if transfer.amount >= NAME_FROM_FEN else ""
        try:
            answer = client.create(out_bill_no=transfer.out_bill_no, scene_id=merchant.scene_id,
                                   openid=transfer.openid, amount=transfer.amount, remark=merchant.remark,
                                   report_infos=merchant.report_infos, user_name=name,
                                   notify_url=merchant.notify_url(notify_base))
        except PayUnavailable as error:
            log.warning("transfer %s not sent: %s", transfer.out_bill_no, error)
            continue
        except PayApiError as error:
            apply(org, transfer, T.FAIL, fail_reason=error.code[:64], now=now)
            continue
        apply_bill(org, answer, now=now)


def apply(org, transfer: Transfer, state: str, *, fail_reason: str = "", transfer_bill_no: str = "",
          package_info: str = "", now: datetime | None = None) -> bool:
    """Move one transfer to `state` if that is forward; its statement follows. False: nothing
    changed (a replay, a late or unknown state)."""
    if state not in RANK:
        return False
    now = now or datetime.now(timezone.utc)
    earlier = [s for s, rank in RANK.items() if rank < RANK[state]]
    with transaction.atomic():
        changes = {"state": state, "updated_at": now}
        if transfer_bill_no:
            changes["transfer_bill_no"] = transfer_bill_no[:64]
        if package_info:
            changes["package_info"] = package_info
        if fail_reason:
            changes["fail_reason"] = fail_reason[:64]
        moved = Transfer.objects.for_org(org).filter(pk=transfer.pk, state__in=earlier).update(**changes)
        if not moved:
            return False
        for name, value in changes.items():
            setattr(transfer, name, value)
        statement = Statement.objects.for_org(org).select_related("promoter").get(pk=transfer.statement_id)
        detail = {"state": state, "amount": transfer.amount, "out_bill_no": transfer.out_bill_no}
        if state in (T.FAIL, T.CANCELLED):
            detail["reason"] = reason_words(state, fail_reason)
        audit.record(org, None, "transfer.state", statement.number, **detail)
        if state == T.SUCCESS:
            payouts.leave_batch(org, None, statement, transfer.batch, paid=True,
                                reference=transfer.transfer_bill_no or transfer.out_bill_no,
                                action="statement.paid", now=now)
        elif state in (T.FAIL, T.CANCELLED):
            payouts.leave_batch(org, None, statement, transfer.batch, paid=False,
                                reason=reason_words(state, fail_reason), action="statement.unpaid")
    return True


def apply_bill(org, bill: dict, now: datetime | None = None) -> bool:
    """A bill as WeChat Pay describes it (create answer, query answer, callback resource)."""
    if not isinstance(bill, dict):
        return False
    transfer = (Transfer.objects.for_org(org).select_related("batch")
                .filter(out_bill_no=str(bill.get("out_bill_no") or "")).first())
    if transfer is None:
        return False
    if "transfer_amount" in bill and bill["transfer_amount"] != transfer.amount:
        log.error("bill %s: WeChat Pay says %s fen, we sent %s", transfer.out_bill_no, bill["transfer_amount"],
                  transfer.amount)
        return False
    return apply(org, transfer, str(bill.get("state") or ""), fail_reason=str(bill.get("fail_reason") or ""),
                 transfer_bill_no=str(bill.get("transfer_bill_no") or ""),
                 package_info=str(bill.get("package_info") or ""), now=now)


class CallbackRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def receive_callback(notify_key: str, headers, body: str, now: datetime | None = None) -> bool:
    """A result callback for the merchant behind `notify_key`: signature (WeChat Pay public
    key, 5 minutes), then the AES-256-GCM resource, then `apply`. Raises CallbackRefused with
    nothing changed; True if it moved a transfer, False for a replay."""
    merchant = WechatPayMerchant.objects.select_related("org").filter(notify_key=notify_key).first()
    if merchant is None:
        raise CallbackRefused(404, "unknown notify url")
    now = now or datetime.now(timezone.utc)
    try:
        protocol.check_signed(headers, body, merchant.public_key, merchant.public_key_id, int(now.timestamp()))
    except protocol.SignatureError as error:
        raise CallbackRefused(401, str(error)) from None
    try:
        envelope = json.loads(body)
        resource = json.loads(protocol.decrypt(merchant.api_v3_key, envelope["resource"]))
    except (ValueError, KeyError, TypeError, protocol.SignatureError) as error:
        raise CallbackRefused(400, f"unreadable resource: {error}") from None
    if str(resource.get("mch_id") or merchant.mchid) != merchant.mchid:
        raise CallbackRefused(400, "another merchant's bill")
    return apply_bill(merchant.org, resource, now=now)


def poll(org, merchant: WechatPayMerchant, client: PayClient | None = None, now: datetime | None = None,
         older_than: timedelta = timedelta(minutes=10), limit: int = 200, notify_base: str = "") -> int:
    """The fallback when a callback is lost: ask WeChat Pay about bills not final and not heard
    of for `older_than`; send the ones never accepted. Returns how many changed."""
    now = now or datetime.now(timezone.utc)
    client = client or client_for(merchant)
    due = list(Transfer.objects.for_org(org).select_related("statement__promoter", "batch")
               .exclude(state__in=T.FINAL).filter(updated_at__lte=now - older_than).order_by("updated_at")[:limit])
    changed = 0
    for transfer in due:
        if transfer.state == T.NEW:
            send(org, merchant, [transfer], client, now=now, notify_base=notify_base)
            changed += transfer.state != T.NEW
            continue
        try:
            changed += apply_bill(org, client.query(transfer.out_bill_no), now=now)
        except (PayUnavailable, PayApiError) as error:
            log.warning("transfer %s not queried: %s", transfer.out_bill_no, error)
    return changed


def poll_all(now: datetime | None = None, older_than: timedelta = timedelta(minutes=10)) -> int:
    """`liveloop wechatpay-poll`: every organisation's merchant, one after another."""
    changed = 0
    for merchant in WechatPayMerchant.objects.select_related("org").order_by("pk"):
        changed += poll(merchant.org, merchant, now=now, older_than=older_than)
    return changed


def waiting_for(org, promoter) -> list[Transfer]:
    """The promoter's bills waiting for their confirmation in WeChat (their own page)."""
    return list(Transfer.objects.for_org(org).filter(statement__promoter=promoter, state=T.WAIT_USER_CONFIRM)
                .exclude(package_info="").select_related("statement").order_by("created_at"))
