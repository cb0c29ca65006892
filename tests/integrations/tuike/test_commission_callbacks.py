"""WeChat's commission-order callback against the emulator: stored once per version, fetched
from WeChat (order/get) by the worker and written as a `commission_order` event, so the brand's
plan leaves out what WeChat commissions and takes it back when WeChat cancels; a forged,
repeated or early callback changes nothing it should not."""
import copy
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from django.test import Client

from liveloop.actions.lives import start_live
from liveloop.cli import main
from liveloop.events.ingest import ingest
from liveloop.events.models import Event
from liveloop.integrations.models import TuikeCommissionUpdate
from liveloop.integrations.tuike import commissions
from liveloop.money.models import Entry
from liveloop.money.plans import save_plan
from tests.actors import NO_SLEEP, event, post_tuike_bind, sample

NOW = datetime(2026, 12, 10, 12, 30, tzinfo=timezone.utc)
ORDER, SKU = "3705115058471208704", "12345"
FAST = {**NO_SLEEP, "retries": 1, "timeout": 0.5}


@pytest.fixture
def sold(brand, tuike_account, tuike_world):
    live = brand.live(announced_at=NOW - timedelta(hours=1), promoters=("PA",))
    save_plan(brand.org, None, name="标准", make_default=True, fields={"rate_bps": 1000})
    start_live(live, NOW - timedelta(hours=1))
    ingest(brand.org, [event("pay-1", "order_paid", live.public_id, "buyer-1", at=NOW - timedelta(minutes=30),
                             order=ORDER, amount=12_900, promoter="PA")], now=NOW)
    tuike_world.commission_orders[(ORDER, SKU)] = copy.deepcopy(sample("tuike_commission_order")["commssion_order"])
    return live


def callback(account, version="1796905260", **info):
    message = sample("tuike_commission_callback")
    message["order_info"].update(version=version, **info)
    return post_tuike_bind(Client(), account, message)


def held(org):
    return sum(Entry.objects.for_org(org).values_list("amount", flat=True))


def test_a_commission_from_wechat_and_the_brand_s_plan_on_the_same_order(sold, brand, tuike_account, tuike_world):
    assert held(brand.org) == 1_290  # 10% of ¥129 under the brand's plan
    assert callback(tuike_account).content == b"success"
    assert callback(tuike_account).content == b"success"  # WeChat repeats itself
    assert TuikeCommissionUpdate.objects.for_org(brand.org).count() == 1
    outcome = commissions.process(now=NOW, client_options=FAST)
    assert (outcome.recorded, outcome.waiting) == (1, 0)
    written = Event.objects.for_org(brand.org).get(type="commission_order")
    assert (written.eid, written.amount, written.attrs, written.source) == (
        f"wxc:{ORDER}:{SKU}:unsettled", 1_290,
        {"sku": SKU, "state": "unsettled", "paid": 12_900, "sharer_appid": "wxsharer0000000a01"}, "wechat")
    assert held(brand.org) == 0  # WeChat pays its 推客 on all of it: the plan does not pay again
    # WeChat cancels the commission: the order is the brand's to pay again.
    tuike_world.commission_orders[(ORDER, SKU)]["status"] = 200
    assert callback(tuike_account, version="1796999999").content == b"success"
    assert commissions.process(now=NOW, client_options=FAST).recorded == 1
    assert held(brand.org) == 1_290
    assert CliRunner().invoke(main, ["rebuild", "--check", "--org", brand.org.slug]).exit_code == 0


def test_forged_early_and_unknown_callbacks(sold, brand, tuike_account, tuike_world):
    # Signed with the wrong Token: refused, nothing stored.
    message = sample("tuike_commission_callback")
    assert post_tuike_bind(Client(), tuike_account, message, token="not-the-token").status_code == 401
    assert callback(tuike_account, order_id={"x": 1}).status_code == 400  # not an id
    assert not TuikeCommissionUpdate.objects.exists()
    # An order the shop has not reported yet: it waits, says why, and is tried again later.
    assert callback(tuike_account, order_id="3705115058471200000").content == b"success"
    outcome = commissions.process(now=NOW, client_options=FAST)
    assert (outcome.recorded, outcome.waiting) == (0, 1)
    waiting = TuikeCommissionUpdate.objects.get(order_id="3705115058471200000")
    assert (waiting.attempts, waiting.done_at, waiting.last_error) == (1, None, "the order is not in Liveloop yet")
    assert waiting.due_at > NOW and commissions.process(now=NOW, client_options=FAST).waiting == 0
    # A callback about a commission order WeChat does not have: WeChat's error, retried.
    assert callback(tuike_account, sku_id="999").content == b"success"
    outcome = commissions.process(now=NOW, client_options=FAST)
    refused = TuikeCommissionUpdate.objects.get(sku_id="999")
    assert outcome.waiting == 1 and "10024006" in refused.last_error
    assert not Event.objects.for_org(brand.org).filter(type="commission_order").exists()
    assert held(brand.org) == 1_290
    # The command runs the same pass (nothing is due before the backoff ends).
    assert CliRunner().invoke(main, ["tuike-commissions", "--once"], catch_exceptions=False).exit_code == 0


def test_two_workers_never_take_the_same_update(sold, brand, tuike_account):
    callback(tuike_account)
    update = TuikeCommissionUpdate.objects.get()
    TuikeCommissionUpdate.objects.filter(pk=update.pk).update(claimed_at=NOW)  # another worker has it
    assert commissions.process(now=NOW, client_options=FAST).recorded == 0
    # …until its claim goes stale (a dead worker).
    assert commissions.process(now=NOW + commissions.STALE + timedelta(seconds=1), client_options=FAST).recorded == 1
