"""Integration secrets are encrypted at rest: what the database holds, rotation, an unreadable
value, the data migration of rows written before, and pages and errors that never show them."""
import pytest
from click.testing import CliRunner
from django.core.exceptions import FieldError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from liveloop.cli import main
from liveloop.at_rest import PREFIX, SecretUnreadable, sealed_fields
from liveloop.integrations.models import Shop, TuikeAccount, WecomApp
from liveloop.notify.models import Channel
from liveloop.notify.services import add_webhook
from tests.actors import AES_KEY, SECRET, TOKEN, post_push, sample


def raw(model, pk, column):
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_the_database_holds_only_sealed_values(shop, brand):
    hook = add_webhook(brand.org, name="CRM", url="https://crm.example.com/in", secret="hook-signing-secret")
    for model, pk, column, plain in ((Shop, shop.pk, "token", TOKEN), (Shop, shop.pk, "encoding_aes_key", AES_KEY),
                                     (Shop, shop.pk, "app_secret", SECRET),
                                     (Channel, hook.pk, "secret", "hook-signing-secret")):
        stored = raw(model, pk, column)
        assert stored.startswith(PREFIX) and plain not in stored
    again = Shop.objects.get(pk=shop.pk)
    assert (again.token, again.encoding_aes_key, again.app_secret) == (TOKEN, AES_KEY, SECRET)
    assert raw(Channel, hook.pk, "corp_secret") == ""  # nothing to hide in an empty value


def test_the_push_endpoint_still_verifies_with_the_sealed_keys(client, shop):
    assert post_push(client, shop, sample("push_order_pay")).content == b"success"


def test_sealed_fields_cannot_be_looked_up_by_value(shop):
    with pytest.raises(FieldError):
        Shop.objects.filter(token=TOKEN).exists()


def test_a_rotated_key_still_reads_and_reseal_moves_every_value_to_it(shop, settings):
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-secret-key-for-tests", [old]
    assert Shop.objects.get(pk=shop.pk).token == TOKEN
    result = CliRunner().invoke(main, ["reseal-secrets"], catch_exceptions=False)
    assert "integrations.Shop: 1 rows resealed (token, encoding_aes_key, app_secret)" in result.output
    settings.SECRET_KEY_FALLBACKS = []
    assert Shop.objects.get(pk=shop.pk).app_secret == SECRET


def test_a_value_no_key_can_read_fails_loudly_without_showing_it(shop, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "someone-changed-the-key", []
    with pytest.raises(SecretUnreadable) as raised:
        Shop.objects.get(pk=shop.pk)
    assert "LIVELOOP_SECRET_KEY_FALLBACKS" in str(raised.value)
    assert TOKEN not in str(raised.value) and PREFIX not in str(raised.value)


def test_the_official_account_and_mini_program_secrets_are_sealed(brand):
    from liveloop.integrations.models import WechatApps
    apps = WechatApps.objects.create(org=brand.org, oa_appid="wx0fa11ce5e0a1b2c3", oa_secret="oa-plain-secret",
                                     mp_appid="wx6d1n1a4p9c0d3e4f", mp_secret="mp-plain-secret")
    with connection.cursor() as cursor:
        cursor.execute("SELECT oa_secret, mp_secret FROM integrations_wechatapps WHERE id = %s", [apps.pk])
        stored = cursor.fetchone()
    assert all(value.startswith(PREFIX) and "plain" not in value for value in stored)
    assert WechatApps.objects.get(pk=apps.pk).mp_secret == "mp-plain-secret"


def test_the_tuike_account_secrets_are_sealed(tuike_account):
    with connection.cursor() as cursor:
        cursor.execute("SELECT app_secret, token, encoding_aes_key FROM integrations_tuikeaccount WHERE id = %s",
                       [tuike_account.pk])
        stored = cursor.fetchone()
    assert all(value.startswith(PREFIX) for value in stored)
    assert "tuike-secret" not in "".join(stored)
    assert TuikeAccount.objects.get(pk=tuike_account.pk).app_secret == "tuike-secret"


def test_every_secret_field_is_sealed():
    assert {(model.__name__, tuple(fields)) for model, fields in sealed_fields()} == {
        ("Shop", ("token", "encoding_aes_key", "app_secret")), ("WecomApp", ("token", "encoding_aes_key")),
        ("Channel", ("secret", "corp_secret", "access_token")),
        ("WechatApps", ("oa_secret", "mp_secret")),
        ("TuikeAccount", ("app_secret", "token", "encoding_aes_key")),
        ("WechatPayMerchant", ("private_key", "api_v3_key")),
        # Personal data (tests/security/test_pii.py).
        ("Promoter", ("phone", "bank_account", "legal_name", "id_number")), ("Statement", ("payee",)), ("Transfer", ("openid",))}


def test_the_shop_page_masks_the_secrets(owner, shop):
    page = owner.get(f"/settings/shops/{shop.pk}/").content.decode()
    assert TOKEN not in page and AES_KEY not in page and SECRET not in page
    assert AES_KEY[-4:] in page


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_rows_written_before_it_and_reverses(brand):
    executor = MigrationExecutor(connection)
    before = [("integrations", "0002_contactway_wecomapp"),
              ("notify", "0002_channel_notice_claimed_at_notice_delivered_to_and_more")]
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO integrations_wecomapp (org_id, corp_id, token, encoding_aes_key, "
                           "callback_key, created_at) VALUES (%s, 'ww-corp', 'plainToken', %s, 'k1', %s)",
                           [brand.org.pk, AES_KEY, "2026-11-26 00:00:00"])
            cursor.execute("INSERT INTO notify_channel (org_id, kind, name, url, secret, corp_id, agent_id, "
                           "corp_secret, access_token, enabled, created_at) VALUES (%s, 'webhook', 'CRM', "
                           "'https://crm.example.com/in', 'plain-hook-secret', '', '', '', '', %s, %s)",
                           [brand.org.pk, True, "2026-11-26 00:00:00"])
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
        app = WecomApp.objects.get(corp_id="ww-corp")
        hook = Channel.objects.get(name="CRM")
        assert (app.token, app.encoding_aes_key, hook.secret) == ("plainToken", AES_KEY, "plain-hook-secret")
        assert raw(WecomApp, app.pk, "token").startswith(PREFIX)
        assert raw(Channel, hook.pk, "secret").startswith(PREFIX)

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        assert raw(WecomApp, app.pk, "token") == "plainToken"
        assert raw(Channel, hook.pk, "secret") == "plain-hook-secret"
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)


@pytest.fixture
def client():
    from django.test import Client

    return Client()
