"""The demo brand's commission set-up: a default plan, store leaders, tax withholding, and the
weekly lives before last night's settled and (the oldest) paid, but the newest, left to settle.

The set-up is created before the events are fed, so the ledger accrues estimates through ingest
exactly as it would for a real brand; the settlements come after, each at the moment its refund
window closed, through the same services finance uses."""
from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta

from liveloop.events.models import Order
from liveloop.integrations.models import WechatPayMerchant
from liveloop.integrations.wechatpay import protocol
from liveloop.integrations.wechatpay.emulator import PayStore, new_merchant
from liveloop.money import payouts, wechatpay
from liveloop.money.models import Statement, Transfer
from liveloop.money.plans import save_plan
from liveloop.money.settlement import settle_live, settleable_from
from liveloop.promoters.models import Promoter, Team

DEMO_PLAN = "门店标准方案"
DEMO_RULES = {
    # 6% on the first ¥3,000 a promoter brings in a live, 10% on the rest.
    "tiers": ((300_000, 600), (None, 1_000)),
    "reservation_bounty_fen": 10,  # ¥0.10 a reservation
    "new_buyer_bounty_fen": 200,  # ¥2 for a buyer new to the brand
    "cap_fen": 500_000,  # at most ¥5,000 a promoter a live
    "override_bps": (100,),  # the store's leader earns 1% on the store's other sales
}


# Card prefixes of banks store staff are commonly paid through (工行, 建行, 招行, 农行).
BANKS = [("622202", "中国工商银行"), ("621700", "中国建设银行"), ("622588", "招商银行"),
         ("622848", "中国农业银行")]


def setup_money(org) -> None:
    org.withhold_tax = True
    org.save(update_fields=["withhold_tax"])
    # The card is sealed at rest (not filterable): the ones without one are picked here.
    promoters = [p for p in Promoter.objects.for_org(org) if not p.bank_account]
    for promoter in promoters:
        promoter.bank_account, promoter.bank_name = bank_card(promoter.code)
    Promoter.objects.bulk_update(promoters, ["bank_account", "bank_name"], batch_size=500)
    for team in Team.objects.for_org(org):
        # The store's first promoter (its guide, 导购) leads it.
        leader = Promoter.objects.for_org(org).filter(team=team).order_by("pk").first()
        if leader is not None:
            Team.objects.for_org(org).filter(pk=team.pk).update(leader=leader)
    save_plan(org, None, name=DEMO_PLAN, fields=dict(DEMO_RULES), make_default=True, override_levels=1)


def bank_card(code: str) -> tuple[str, str]:
    """A made-up 19-digit debit card for the promoter (the same for the same code), with a
    valid Luhn check digit so it looks like what a payout file holds."""
    digest = hashlib.sha256(code.encode()).digest()
    prefix, bank = BANKS[digest[0] % len(BANKS)]
    body = prefix + "".join(str(b % 10) for b in digest[1:13])
    total = 0
    for position, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str(-total % 10), bank


def settle_past(org, lives) -> None:
    """Settle every live but the newest (oldest first) when its refund window closed, approve
    them, and pay the oldest through a payout batch whose results came back with one failed
    transfer. The newest is left for whoever tries the demo: its refund window has passed, so
    they press 结算 on /money/ themselves and see its statements appear, frozen, to approve."""
    receivers = _wechat_receivers(lives[1]) if len(lives) > 2 else []
    runs = [settle_live(org, live, now=settleable_from(org, live) + timedelta(minutes=1)) for live in lives[:-1]]
    for number, run in enumerate(runs):
        payouts.approve(org, None, Statement.objects.for_org(org).filter(run=run))
        if number == 0:
            batch = payouts.create_batch(org, None, now=settleable_from(org, lives[0]) + timedelta(days=1))
            payouts.apply_results(org, None, batch, _results(batch))
    if receivers:
        pay_by_wechat(org, receivers, now=settleable_from(org, lives[1]) + timedelta(days=1))


# Three promoters of the second live are paid to their WeChat openid, through the WeChat Pay
# emulator: one confirms (paid), one lets the bill expire (settled again, with the reason), one
# has not confirmed yet (their own page shows 确认收款).
WECHAT_RECEIVERS = 3


def _wechat_receivers(live) -> list[Promoter]:
    """Give the first few promoters who sold in `live` without one (the shop's sharers have theirs) a
    WeChat openid under the demo merchant's AppID, before settlement copies the payee."""
    sold = Order.objects.for_org(live.org).filter(live=live, promoter__isnull=False).values("promoter")
    promoters = list(Promoter.objects.for_org(live.org).filter(pk__in=sold, openid="")
                     .order_by("code")[:WECHAT_RECEIVERS])
    for promoter in promoters:
        promoter.openid = "oDEMO" + hashlib.sha256(promoter.code.encode()).hexdigest()[:23]
    Promoter.objects.bulk_update(promoters, ["openid"])
    return promoters


def pay_by_wechat(org, receivers, now) -> None:
    """The same code a WeChat Pay run on /money/batches/ runs, against an in-process emulator;
    the emulator's callbacks go straight to the callback handler (no server listens while the
    demo seeds)."""
    from liveloop.integrations.wechat.emulator import EmulatorServer, Store

    store = PayStore(clock=lambda: now.timestamp())
    server = EmulatorServer(Store(appid="", secret="", pay_store=store)).start()
    try:
        merchant = connect_in_process(org, store, server.base_url)
        store.deliver = lambda url, headers, body: _deliver(merchant, headers, body, now)
        try:
            only = Statement.objects.for_org(org).filter(promoter__in=receivers, state=payouts.SETTLED)
            batch, _planned = wechatpay.start_run(org, None, merchant, now=now,
                                                  only=set(only.values_list("pk", flat=True)))
        except payouts.PayoutError:  # the receivers had nothing payable in this live
            return
        client = wechatpay.client_for(merchant, clock=lambda: now.timestamp())
        wechatpay.send(org, merchant, batch.transfers.select_related("statement__promoter").order_by("pk"),
                       client, now=now)
        transfers = list(Transfer.objects.for_org(org).filter(batch=batch).order_by("statement__number"))
        if transfers:
            store.confirm(transfers[0].package_info)
        if len(transfers) > 1:
            store.settle_waiting(transfers[1].out_bill_no, "expire")
    finally:
        server.stop()


def _deliver(merchant, headers, body, now) -> int:
    try:
        wechatpay.receive_callback(merchant.notify_key, headers, body, now=now)
    except wechatpay.CallbackRefused as refused:
        return refused.status
    return 204


def connect_in_process(org, store: PayStore, base_url: str) -> WechatPayMerchant:
    fields = new_merchant(store)
    merchant, _created = WechatPayMerchant.objects.update_or_create(
        org=org, defaults={**fields, "api_base_url": base_url})
    return merchant


def connect_emulator_merchant(org, emulator_url: str, site_url: str, appid: str) -> WechatPayMerchant:
    """`liveloop wechatpay-emulator-merchant`: register a fresh merchant with a running emulator
    over HTTP and save it as the organisation's."""
    import json
    import secrets
    import urllib.request

    private, public = protocol.new_key_pair()
    api_v3_key, mchid = secrets.token_hex(16), "1900000109"
    request = urllib.request.Request(emulator_url.rstrip("/") + "/emulator/pay/merchant", method="POST",
                                     data=json.dumps({"mchid": mchid, "public_key": public,
                                                      "api_v3_key": api_v3_key}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    merchant, _created = WechatPayMerchant.objects.update_or_create(org=org, defaults={
        "mchid": mchid, "appid": appid, "cert_serial": secrets.token_hex(20).upper(), "private_key": private,
        "api_v3_key": api_v3_key, "public_key": answer["public_key"], "public_key_id": answer["public_key_id"],
        "api_base_url": emulator_url.rstrip("/"), "site_url": site_url})
    return merchant


def _results(batch) -> bytes:
    """The payment channel's answer: every transfer paid but the last, whose account was closed."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["付款参考号", "状态", "流水号", "失败原因"])
    rows = list(payouts.batch_rows(batch))
    for number, row in enumerate(rows):
        if number < len(rows) - 1:
            writer.writerow([row[0], "成功", f"1000{batch.pk:04d}{number:08d}", ""])
        else:
            writer.writerow([row[0], "失败", "", "收款账户已注销"])
    return out.getvalue().encode()
