"""The schedule from the command line (`liveloop tuike-worker --once`, `liveloop tuike-sync`),
and the emulator's bind control pushing a signed callback to a running Liveloop."""
import json
import urllib.request

import pytest
from click.testing import CliRunner

from liveloop.cli import main
from liveloop.integrations.models import TuikeLiveSharer, TuikeNotice, TuikeSharer
from liveloop.integrations.tuike import links
from liveloop.promoters.models import Promoter
from tests.actors import TUIKE_NOTICE, upcoming_live

A01 = "wxsharer0000000a01"


@pytest.fixture
def linked(brand, tuike_account, tuike_world, settings):
    settings.LIVELOOP_WECHAT_HTTP_BACKOFF = 0
    live = upcoming_live(brand)
    links.link_notice(live, TUIKE_NOTICE)
    links.record_sharers(brand.org, list(tuike_world.sharers.values()))
    promoter = Promoter.objects.create(org=brand.org, code="PA", name="小林")
    links.link_sharer(TuikeSharer.objects.get(sharer_appid=A01), promoter)
    tuike_world.reservations[(TUIKE_NOTICE, A01)] = 9
    return live


def test_the_worker_command_syncs_what_is_due(linked):
    result = CliRunner().invoke(main, ["tuike-worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "synced 1, failed 0" in result.output
    assert TuikeLiveSharer.objects.get(live=linked).reservation_count == 9
    # Synced: not due again before its interval.
    assert CliRunner().invoke(main, ["tuike-worker", "--once"]).output == ""


def test_the_sync_command_says_why_it_failed(linked, brand, tuike_world):
    tuike_world.closed = True
    result = CliRunner().invoke(main, ["tuike-sync", "--org", brand.org.slug, "--live", linked.public_id])
    assert result.exit_code != 0 and "10071049" in result.output
    tuike_world.closed = False
    TuikeNotice.objects.filter(live=linked).update(sync_state="ok")
    result = CliRunner().invoke(main, ["tuike-sync", "--org", brand.org.slug, "--live", linked.public_id])
    assert result.exit_code == 0 and "synced 1" in result.output
    other = CliRunner().invoke(main, ["tuike-sync", "--org", brand.org.slug, "--live", "Lnope"])
    assert other.exit_code != 0 and "not linked" in other.output


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_emulator_pushes_a_signed_bind_callback(live_server, emulator, brand, tuike_account, tuike_world):
    tuike_world.callback_url = f"{live_server.url}{tuike_account.callback_path}"
    request = urllib.request.Request(f"{emulator.base_url}/emulator/tuike/bind", method="POST",
                                     data=json.dumps({"sharer_appid": "wxsharer0000000a09", "nickname": "新推客",
                                                      "unionid": "owdq_new"}).encode())
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read()) == {"push_status": 200, "push_answer": "success"}
    sharer = TuikeSharer.objects.for_org(brand.org).get(sharer_appid="wxsharer0000000a09")
    assert sharer.bound and sharer.sharer_unionid == "owdq_new" and sharer.source == "callback"
    assert sharer.promoter is None  # no promoter's own login has that unionid
