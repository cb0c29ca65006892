"""End to end over real HTTP: the emulator pushes to a running Liveloop, `liveloop
wechat-worker --once` ingests; and `liveloop wechat-emulator` serving as its own process."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from liveloop.cli import main
from liveloop.events.models import Event
from liveloop.integrations.models import PushMessage
from tests.actors import AES_KEY, APPID, BUYER, CHANNELS_LIVE, SECRET, SHARER, TOKEN

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_emulator_pay_and_refund_reach_liveloop_and_the_worker(live_server, emulator, shop,
                                                               live_with_sharer):
    emulator.store.push_url = f"{live_server.url}{shop.push_path}"
    answer = post_json(f"{emulator.base_url}/emulator/pay",
                       {"order_id": "3721459812034568192", "openid": BUYER, "amount": 12900,
                        "live_id": CHANNELS_LIVE, "sharer_openid": SHARER, "pay_time": 1764158461})
    assert answer == {"push_status": 200, "push_answer": "success"}
    answer = post_json(f"{emulator.base_url}/emulator/refund",
                       {"after_sale_order_id": "1930478251", "order_id": "3721459812034568192",
                        "amount": 3000, "at": 1764331200})
    assert answer["push_answer"] == "success"
    assert PushMessage.objects.for_org(shop.org).count() == 2

    result = CliRunner().invoke(main, ["wechat-worker", "--once"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "done 2" in result.output
    events = {e.type: e for e in Event.objects.for_org(shop.org)}
    assert events["order_paid"].promoter.code == "A"
    assert events["order_refund"].amount == 3000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_emulator_command_serves_tokens(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "liveloop.cli", "wechat-emulator", "--port", str(port),
         "--appid", APPID, "--secret", SECRET, "--token", TOKEN, "--aes-key", AES_KEY,
         "--push-url", "http://127.0.0.1:9/wechat/push/x/", "--app", "wx6d1n1a4p9c0d3e4f:mp-secret"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "LIVELOOP_DATA_DIR": str(tmp_path)})
    try:
        url = f"http://127.0.0.1:{port}/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    answer = json.loads(response.read())
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert answer["expires_in"] == 7200 and answer["access_token"].startswith("emu-")
        # The mini-program given by --app is known too (URL Links need its token).
        mp = f"http://127.0.0.1:{port}/cgi-bin/token?grant_type=client_credential&appid=wx6d1n1a4p9c0d3e4f&secret=mp-secret"
        with urllib.request.urlopen(mp, timeout=5) as response:
            assert json.loads(response.read())["access_token"].startswith("emu-")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_emulator_command_refuses_an_app_without_its_secret():
    result = CliRunner().invoke(main, ["wechat-emulator", "--appid", APPID, "--secret", SECRET, "--token", TOKEN,
                                       "--aes-key", AES_KEY, "--push-url", "http://x/", "--app", "wxNoSecret"])
    assert result.exit_code != 0 and "APPID:SECRET" in result.output


def test_the_emulator_command_refuses_a_bad_key():
    result = CliRunner().invoke(main, ["wechat-emulator", "--appid", APPID, "--secret", SECRET,
                                       "--token", TOKEN, "--aes-key", "short", "--push-url", "http://x/"])
    assert result.exit_code != 0
    assert "43 characters" in result.output
