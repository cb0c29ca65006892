"""`liveloop wechatpay-emulator-merchant` connects an organisation to a running emulator over
HTTP; `liveloop wechatpay-poll --once` queries what is due and exits."""
import pytest
from click.testing import CliRunner

from liveloop.cli import main
from liveloop.integrations.models import WechatPayMerchant
from liveloop.integrations.wechatpay import protocol

pytestmark = pytest.mark.django_db


def test_an_organisation_connects_to_the_emulator_and_the_poll_runs_once(brand, emulator):
    runner = CliRunner()
    result = runner.invoke(main, ["wechatpay-emulator-merchant", "--org", brand.org.slug, "--emulator",
                                  emulator.base_url, "--site", "http://127.0.0.1:8000"])
    assert result.exit_code == 0, result.output
    merchant = WechatPayMerchant.objects.get(org=brand.org)
    store = emulator.store.pay
    assert (merchant.public_key, merchant.public_key_id) == (store.public_key, store.public_key_id)
    assert store.merchants[merchant.mchid].api_v3_key == merchant.api_v3_key
    assert protocol.private_key(merchant.private_key) and merchant.notify_url().startswith("http://127.0.0.1:8000/")
    assert "callbacks to http://127.0.0.1:8000/wechatpay/notify/" in result.output
    assert runner.invoke(main, ["wechatpay-poll", "--once"]).exit_code == 0
    nobody = runner.invoke(main, ["wechatpay-emulator-merchant", "--org", brand.org.slug, "--emulator",
                                  "http://127.0.0.1:9"])
    assert nobody.exit_code == 1 and "did not answer" in nobody.output
