"""Paying statements by WeChat Pay merchant transfer, end to end against the in-process emulator
(issue 18): settle → approve → transfers → the promoter confirms on their page → signed callback
→ paid; an expired and a failed bill settle the statement again, with its reason, for the next
run; replayed and forged callbacks change nothing; the daily limits split a run across days;
a run retried or raced pays nobody twice; the money stays exact (`liveloop rebuild --check`)."""
import copy
import hashlib
import threading
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.test import Client

from liveloop.cli import main
from liveloop.integrations.models import WechatApps, WechatPayMerchant
from liveloop.integrations.wechat import oauth
from liveloop.integrations.wechatpay import protocol
from liveloop.integrations.wechatpay.emulator import new_merchant
from liveloop.lib.numbers import yuan
from liveloop.money import payouts, wechatpay
from liveloop.money.models import Statement, Transfer
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import AuditEntry, Member
from liveloop.promoters.links import own_page_url
from liveloop.promoters.models import Enrolment, Promoter
from tests.actors import APPID, DEMO_NOW, SECRET, deliver_to, ended_live, member_client

pytestmark = pytest.mark.django_db
SALES = [("o1", "v1", 10_000, "PA"), ("o2", "v2", 3_333, "PB"), ("o3", "v3", 5_000, "PC")]
WECHAT_UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"


@pytest.fixture
def pay(emulator, brand, plan):
    """The brand's merchant, known to the emulator; callbacks land in this test's Django."""
    store = emulator.store.pay
    store.deliver = deliver_to(Client())
    WechatPayMerchant.objects.create(org=brand.org, api_base_url=emulator.base_url, **new_merchant(store))
    return store


def settled(brand, title="上周专场", days=8):
    """A live whose three promoters (paid to their WeChat openids) are settled and approved."""
    live = ended_live(brand, title=title, days=days, promoters=("PA", "PB", "PC"),
                      sales=[(f"{title}{o}", v, a, c) for o, v, a, c in SALES])
    for code in ("PA", "PB", "PC"):
        Promoter.objects.for_org(brand.org).filter(code=code).update(openid=f"oPAY{code}openid")
    run = settle_live(brand.org, live)
    payouts.approve(brand.org, None, list(run.statements.all()))
    return {s.promoter.code: s for s in run.statements.select_related("promoter")}


def run_by_wechat(finance) -> int:
    """Finance pays by WeChat Pay, confirming the count and sum the page shows."""
    page = finance.get("/money/batches/").content.decode()
    confirm = page.split('action="/money/batches/wechatpay/"')[1].split('name="confirm" value="')[1].split('"')[0]
    response = finance.post("/money/batches/wechatpay/", {"confirm": confirm})
    assert response.status_code == 302, response.content
    assert "/batches/wechatpay" not in response["Location"] and response["Location"] != "/money/batches/", \
        [str(m) for m in response.wsgi_request._messages]
    return int(response["Location"].rstrip("/").rsplit("/", 1)[1])


def bill(store, statement, attempt=1):
    return next(b for (_m, no), b in store.bills.items() if no == wechatpay.out_bill_no(statement, attempt))


def own_page(brand, code) -> Client:
    phone = Client(HTTP_USER_AGENT=WECHAT_UA)
    enrolment = Enrolment.objects.for_org(brand.org).filter(promoter__code=code).first()
    assert phone.get(own_page_url(enrolment)).status_code == 200
    return phone


def state(statement):
    return Statement.objects.get(pk=statement.pk)


def test_paid_by_confirmation_settled_again_when_expired_or_failed_and_paid_next_run(brand, pay):
    statements = settled(brand)
    pa, pb, pc = statements["PA"], statements["PB"], statements["PC"]
    finance = member_client(brand.org, "finance-wx", Member.FINANCE)
    run_by_wechat(finance)
    assert {b["state"] for b in pay.bills.values()} == {"WAIT_USER_CONFIRM"}
    assert all(state(s).batch_id for s in (pa, pb, pc)) and state(pa).state == "settled"

    # PA opens their own page inside WeChat: 确认收款 with the amount, then WeChat's confirmation.
    phone = own_page(brand, "PA")
    me = phone.get("/me/").content.decode()
    transfer = Transfer.objects.get(statement=pa)
    assert f"/me/receive/{transfer.out_bill_no}/" in me and yuan(transfer.amount) in me and "确认收款" in me
    page = phone.get(f"/me/receive/{transfer.out_bill_no}/").content.decode()
    assert f'data-transfer-package="{transfer.package_info}"' in page and pay.merchants
    assert 'data-mch-id="1900000109"' in page
    outside = Client()
    outside.cookies = phone.cookies
    assert "data-transfer-package" not in outside.get(f"/me/receive/{transfer.out_bill_no}/").content.decode()
    # Another promoter's bill is not theirs to see.
    other = Transfer.objects.get(statement=pb)
    assert phone.get(f"/me/receive/{other.out_bill_no}/").status_code == 404

    assert pay.confirm(transfer.package_info)[0] == 200  # the receiver confirms in WeChat
    assert pay.sent[-1][1] == 204  # the signed, encrypted callback was accepted
    pa = state(pa)
    assert (pa.state, pa.batch_id, pa.paid_reference) == ("paid", None, bill(pay, pa)["transfer_bill_no"])

    # PB lets it expire, PC's fails: both settled again, out of the batch, with the reason.
    pay.settle_waiting(wechatpay.out_bill_no(pb, 1), "expire")
    pay.settle_waiting(wechatpay.out_bill_no(pc, 1), "fail")
    pb, pc = state(pb), state(pc)
    assert (pb.state, pb.batch_id) == ("settled", None) and "24小时内未确认收款" in pb.failure
    assert (pc.state, pc.batch_id) == ("settled", None) and "实名" in pc.failure

    # A replayed callback (PA's, signed again now) and forged ones change nothing.
    audit_lines = AuditEntry.objects.for_org(brand.org).count()
    headers, body = pay.callback(bill(pay, pa))
    notify = WechatPayMerchant.objects.get(org=brand.org).notify_path
    assert Client().post(notify, body, content_type="application/json", headers=headers).status_code == 204
    forged = body.replace('"MCHTRANSFER.BILL.FINISHED"', '"MCHTRANSFER.BILL.FINISHED" ')
    assert Client().post(notify, forged, content_type="application/json", headers=headers).status_code == 401
    stale = protocol.signed_headers(pay.private_key, pay.public_key_id, body, int(pay.clock()) - 600)
    assert Client().post(notify, body, content_type="application/json", headers=stale).status_code == 401
    other_key, _public = protocol.new_key_pair()  # someone else's key under WeChat Pay's key id
    fake = protocol.signed_headers(other_key, pay.public_key_id, body, int(pay.clock()))
    assert Client().post(notify, body, content_type="application/json", headers=fake).status_code == 401
    assert Client().post("/wechatpay/notify/nobody/", body, content_type="application/json",
                         headers=headers).status_code == 404
    assert AuditEntry.objects.for_org(brand.org).count() == audit_lines
    assert state(pa).state == "paid" and state(pb).state == state(pc).state == "settled"

    # The next run pays the two again, with new bills (attempt 2); both confirm.
    run_by_wechat(finance)
    for statement in (pb, pc):
        again = Transfer.objects.get(statement=statement, attempt=2)
        assert again.out_bill_no.endswith("A2") and again.state == "WAIT_USER_CONFIRM"
        pay.confirm(again.package_info)
        assert state(statement).state == "paid"
    assert Transfer.objects.for_org(brand.org).filter(state="SUCCESS").count() == 3

    # Every state change is an audit line in words and yuan.
    owner = member_client(brand.org, "owner-wx", Member.OWNER)
    owner.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    log = owner.get("/money/audit/").content.decode()
    assert log.count("微信支付转账") >= 6 and yuan(pa.payable) in log and "24小时内未确认收款" in log
    result = CliRunner().invoke(main, ["rebuild", "--check", "--org", brand.org.slug])
    assert result.exit_code == 0, result.output


def test_the_daily_limits_split_a_run_across_days_and_a_retry_pays_nobody_twice(brand, pay):
    first = settled(brand, title="周一专场")
    second = settled(brand, title="周二专场", days=9)
    merchant = WechatPayMerchant.objects.get(org=brand.org)
    pa = first["PA"].payable
    # One receiver may take one PA statement a day; the merchant a little more than that.
    merchant.receiver_daily_fen = pa + 100
    merchant.merchant_daily_fen = pa + first["PB"].payable + 100
    merchant.save()
    day1 = datetime.now(timezone.utc)  # the page reads the real clock
    batch, planned = wechatpay.start_run(brand.org, None, merchant, now=day1)
    chosen = {s.pk for s in planned.chosen}
    assert len(chosen) == 2 and len(planned.held) == 4 and planned.held_total > 0
    # The page says how many and how much are held for the next day.
    finance = member_client(brand.org, "finance-lim", Member.FINANCE)
    page = finance.get("/money/batches/").content.decode()
    assert (f"4 statements ({yuan(planned.held_total)}) are held by today's WeChat Pay daily limits: the next "
            "day's run pays them.") in page
    # Retried an hour apart the same day (in the organisation's zone; earlier when the run was
    # late in its day): nothing more fits, nothing is paid twice.
    retry = day1 + timedelta(hours=1)
    if wechatpay.day_of(brand.org, retry) != wechatpay.day_of(brand.org, day1):
        retry = day1 - timedelta(hours=1)
    assert wechatpay.day_of(brand.org, retry) == wechatpay.day_of(brand.org, day1)
    with pytest.raises(payouts.PayoutError):
        wechatpay.start_run(brand.org, None, merchant, now=retry)
    transfers = list(batch.transfers.select_related("statement__promoter"))
    stale = [copy.copy(t) for t in transfers]  # what a second worker read before the first sent
    wechatpay.send(brand.org, merchant, transfers, now=day1)
    wechatpay.send(brand.org, merchant, stale, now=day1)  # sent again: WeChat Pay answers the same bill
    assert len(pay.bills) == 2
    # The next day, in the organisation's zone, the held ones fit.
    day2 = day1 + timedelta(days=1)
    _batch2, planned2 = wechatpay.start_run(brand.org, None, merchant, now=day2)
    assert {s.pk for s in planned2.chosen}.isdisjoint(chosen) and len(planned2.chosen) == 2
    for package in [b["package_info"] for b in pay.bills.values()]:
        pay.confirm(package)
    totals = {}
    for transfer in Transfer.objects.for_org(brand.org):
        totals.setdefault((transfer.day, transfer.statement.promoter_id), 0)
        totals[(transfer.day, transfer.statement.promoter_id)] += transfer.amount
    assert max(totals.values()) <= merchant.receiver_daily_fen
    assert Statement.objects.for_org(brand.org).filter(state="paid").count() == 2  # day 2's wait for send


def test_the_database_refuses_a_second_bill_for_the_same_attempt_or_a_second_open_one(brand, pay):
    statements = settled(brand)
    merchant = WechatPayMerchant.objects.get(org=brand.org)
    batch, _planned = wechatpay.start_run(brand.org, None, merchant, now=DEMO_NOW)
    transfer = Transfer.objects.get(statement=statements["PA"])
    twin = dict(org=brand.org, statement=transfer.statement, batch=batch, openid="x", amount=1, day=transfer.day,
                created_at=DEMO_NOW, updated_at=DEMO_NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(attempt=1, out_bill_no="OTHER1", **twin)  # the same attempt, raced
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(attempt=2, out_bill_no="OTHER2", **twin)  # a second open bill
    # A run racing this one finds the statements claimed: nothing to pay.
    with pytest.raises(payouts.PayoutError):
        wechatpay.start_run(brand.org, None, merchant, now=DEMO_NOW)


def test_an_answer_only_moves_a_bill_forward_and_the_page_is_scoped(brand, outsider, pay):
    statements = settled(brand)
    merchant = WechatPayMerchant.objects.get(org=brand.org)
    batch, _planned = wechatpay.start_run(brand.org, None, merchant, now=DEMO_NOW)
    wechatpay.send(brand.org, merchant, batch.transfers.all(), now=DEMO_NOW)
    transfer = Transfer.objects.get(statement=statements["PA"])
    pay.confirm(transfer.package_info)
    transfer.refresh_from_db()
    # A late query answer (still waiting) cannot take the paid bill back.
    assert not wechatpay.apply(brand.org, transfer, "WAIT_USER_CONFIRM")
    assert not wechatpay.apply(brand.org, transfer, "FAIL", fail_reason="X")
    assert state(statements["PA"]).state == "paid"
    # Another organisation's members never see this batch.
    stranger = member_client(outsider.org, "stranger", Member.OWNER)
    assert stranger.get(f"/money/batches/{batch.pk}/").status_code == 404


def test_the_status_query_finds_what_a_lost_callback_said(brand, pay):
    statements = settled(brand)
    merchant = WechatPayMerchant.objects.get(org=brand.org)
    batch, _planned = wechatpay.start_run(brand.org, None, merchant, now=DEMO_NOW)
    pay.deliver = lambda url, headers, body: 0  # callbacks lost
    wechatpay.poll(brand.org, merchant, now=DEMO_NOW + timedelta(minutes=11))  # NEW ones are sent
    assert len(pay.bills) == 3
    pay.confirm(Transfer.objects.get(statement=statements["PA"]).package_info)
    assert state(statements["PA"]).state == "settled"  # not heard of yet
    assert wechatpay.poll(brand.org, merchant, now=DEMO_NOW + timedelta(minutes=11)) == 0  # not due yet
    assert wechatpay.poll(brand.org, merchant, now=DEMO_NOW + timedelta(minutes=30)) == 1
    assert state(statements["PA"]).state == "paid"


def test_the_settings_are_the_owners_and_the_secrets_never_shown_back(brand, pay):
    merchant = WechatPayMerchant.objects.get(org=brand.org)
    owner = member_client(brand.org, "owner-set", Member.OWNER)
    page = owner.get("/settings/wechatpay/").content.decode()
    assert merchant.private_key.splitlines()[1] not in page and merchant.api_v3_key not in page
    assert merchant.notify_path in page
    finance = member_client(brand.org, "finance-set", Member.FINANCE)
    assert finance.post("/settings/wechatpay/", {"mchid": "1"}).status_code == 403
    bad = owner.post("/settings/wechatpay/", {"mchid": "12", "appid": "wx1", "cert_serial": "x",
                                              "public_key": "no", "public_key_id": "PUB", "scene_id": "10",
                                              "report_infos": "", "remark": "佣金", "receiver_daily": "0",
                                              "merchant_daily": "1", "api_base_url": "x"})
    assert bad.status_code == 400
    WechatPayMerchant.objects.filter(pk=merchant.pk).update(mchid="1900000109")
    form = {"mchid": "1900000111", "appid": merchant.appid, "cert_serial": merchant.cert_serial,
            "public_key": merchant.public_key, "public_key_id": merchant.public_key_id, "scene_id": "1005",
            "report_infos": "岗位类型=主播助理\n报酬说明=十一月佣金", "remark": "十一月佣金",
            "receiver_daily": "500.50", "merchant_daily": "100000", "api_base_url": merchant.api_base_url}
    assert owner.post("/settings/wechatpay/", form).status_code == 302  # keys left empty: kept
    merchant.refresh_from_db()
    assert (merchant.mchid, merchant.receiver_daily_fen) == ("1900000111", 50_050)
    assert merchant.report_infos[0] == {"info_type": "岗位类型", "info_content": "主播助理"}
    assert protocol.private_key(merchant.private_key)  # still the saved one, sealed at rest
    with connection.cursor() as cursor:  # as a database dump holds them
        cursor.execute(f"SELECT private_key, api_v3_key FROM {WechatPayMerchant._meta.db_table} WHERE id = %s",
                       [merchant.pk])
        assert all(value.startswith("enc1:") for value in cursor.fetchone())
    log = owner.get("/money/audit/").content.decode()
    assert "Change WeChat Pay merchant" in log and "1900000111" in log and "¥500.50" in log


@pytest.mark.django_db(transaction=True)
def test_runs_raced_from_four_connections_claim_each_statement_once(brand, pay):
    """Four runs at the same moment, each in its own connection and transaction: one claims the
    statements, the others find nothing left (PostgreSQL, where the transactions overlap; SQLite
    runs one writer at a time, covered by the retry above)."""
    if connection.vendor != "postgresql":
        pytest.skip("overlapping transactions need PostgreSQL (LIVELOOP_DATABASE_URL)")
    settled(brand)
    merchant = WechatPayMerchant.objects.get(org=brand.org)
    barrier, outcomes = threading.Barrier(4), []

    def run():
        try:
            barrier.wait()
            _batch, planned = wechatpay.start_run(brand.org, None, merchant, now=DEMO_NOW)
            outcomes.append(len(planned.chosen))
        except payouts.PayoutError as error:
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == ["3", "PayoutError", "PayoutError", "PayoutError"]
    assert Transfer.objects.for_org(brand.org).count() == 3
    assert Transfer.objects.for_org(brand.org).values("statement").distinct().count() == 3


def test_the_confirmation_page_signs_wx_config_with_the_official_accounts_ticket(brand, pay, emulator):
    statements = settled(brand)
    apps = WechatApps.objects.create(org=brand.org, oa_appid=APPID, oa_secret=SECRET)
    merchant = WechatPayMerchant.objects.get(org=brand.org)
    batch, _planned = wechatpay.start_run(brand.org, None, merchant, now=DEMO_NOW)
    wechatpay.send(brand.org, merchant, batch.transfers.select_related("statement__promoter"), now=DEMO_NOW)
    transfer = Transfer.objects.get(statement=statements["PA"])
    phone = own_page(brand, "PA")
    answer = phone.get(f"/me/receive/{transfer.out_bill_no}/")
    page = answer.content.decode()
    field = lambda name: page.split(f'data-wx-{name}="')[1].split('"')[0]  # noqa: E731
    ticket = oauth.jsapi_ticket(apps)  # the one the page used: cached for two hours
    signed = (f"jsapi_ticket={ticket}&noncestr={field('nonce')}&timestamp={field('timestamp')}"
              f"&url=http://testserver/me/receive/{transfer.out_bill_no}/")
    assert field("signature") == hashlib.sha1(signed.encode()).hexdigest() and field("app-id") == APPID
    assert "https://res.wx.qq.com/open/js/jweixin-1.6.0.js" in page
    assert "script-src 'self' https://res.wx.qq.com" in answer["Content-Security-Policy"]
    # Elsewhere the policy stays as it is: no third-party script.
    assert "res.wx.qq.com" not in phone.get("/me/")["Content-Security-Policy"]
