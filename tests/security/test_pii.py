"""Promoters' personal data at rest (issue 14): phones and bank accounts, and the payee copied
onto each statement, are sealed in the database whichever way they were written (join page,
API, import, enrol, finance's pages), found again by phone through a keyed hash, shown masked
on every operator page, the API and every figures export, and in full only in finance's files
to owner and finance. A rotated key with `liveloop reseal-secrets` keeps all of it readable and
findable; the migration seals rows written before it and gives them back when reversed."""
import csv
import io

import pytest
from click.testing import CliRunner
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from openpyxl import load_workbook

from liveloop.cli import main
from liveloop.importers.run import import_file
from liveloop.at_rest import PREFIX, keyed_hash
from liveloop.money import payouts
from liveloop.money.models import Statement
from liveloop.money.plans import save_plan
from liveloop.money.settlement import settle_live
from liveloop.orgs.models import Member
from liveloop.promoters.models import Promoter, mask_account, mask_phone, phone_match
from liveloop.actions.promoters import NewPromoter, enrol, recruit_code
from tests.actors import ended_live

pytestmark = pytest.mark.django_db

OWNER, OPERATOR, FINANCE, VIEWER = Member.OWNER, Member.OPERATOR, Member.FINANCE, Member.VIEWER
PHONE_A, PHONE_B = "13800138000", "13912345678"
CARD_A, CARD_B = "6222020000000017", "6217001234567890123"


def raw_rows(table: str) -> list[str]:
    """Every row of `table` as one string of all its columns, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
        return [" | ".join(str(value) for value in row) for row in cursor.fetchall()]


def raw(table: str, column: str, pk: int):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {connection.ops.quote_name(table)} "
                       "WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def assert_nowhere_plain(*secrets):
    for table in ("promoters_promoter", "money_statement"):
        for row in raw_rows(table):
            for secret in secrets:
                assert secret not in row, (table, secret)


@pytest.fixture
def paid_by_bank(brand, live):
    """PA paid to a shop openid, PB to a bank card; both have phones; the live settled, approved
    and put in a payout batch."""
    pa = Promoter.objects.for_org(brand.org).get(code="PA")
    pa.phone, pa.openid, pa.bank_account = PHONE_A, "o-PA-openid", CARD_A
    pa.save()
    pb = Promoter.objects.for_org(brand.org).get(code="PB")
    pb.phone, pb.bank_account, pb.bank_name = PHONE_B, CARD_B, "中国建设银行"
    pb.save()
    run = settle_live(brand.org, live)
    payouts.approve(brand.org, None, Statement.objects.for_org(brand.org).filter(run=run))
    return run, payouts.create_batch(brand.org, None)


# --- what the database holds ---------------------------------------------------------------------

def test_the_raw_rows_hold_no_plain_phone_or_account_whichever_way_they_were_written(brand, paid_by_bank):
    upcoming = brand.live(title="下周专场")
    from django.test import Client

    joined = Client().post(f"/join/{recruit_code(upcoming.programme).token}/",
                           {"name": "王小花", "phone": "+86 137-0000-1111"})
    assert joined.status_code == 302
    api = brand.api.post(f"/api/v1/lives/{upcoming.public_id}/promoters",
                         {"name": "李娜", "phone": "15100002222"}, content_type="application/json")
    assert api.status_code == 201 and api.json()[0]["phone"] == "151****2222"
    enrol(upcoming.programme, [NewPromoter(name="张伟", phone="18600003333")])

    assert_nowhere_plain(PHONE_A, PHONE_B, CARD_A, CARD_B, "13700001111", "15100002222", "18600003333",
                         # no run of the card's digits long enough to identify it either
                         CARD_B[-10:])
    pb = Promoter.objects.for_org(brand.org).get(code="PB")
    for column in ("phone", "bank_account"):
        assert raw("promoters_promoter", column, pb.pk).startswith(PREFIX)
    assert raw("promoters_promoter", "phone_hash", pb.pk) == keyed_hash(f"{brand.org.pk}:{PHONE_B}")
    statement = Statement.objects.for_org(brand.org).get(promoter=pb)
    assert raw("money_statement", "payee", statement.pk).startswith(PREFIX)
    # Read back through the model: the plain values, unchanged.
    assert (pb.phone, pb.bank_account, statement.payee) == (PHONE_B, CARD_B, CARD_B)
    joiner = Promoter.objects.for_org(brand.org).get(name="王小花")
    assert joiner.phone == "13700001111"  # normalised by the join form, then sealed


def test_the_import_writes_through_the_sealed_fields(brand):
    from pathlib import Path

    brand.live(title="导入专场", public_id="LIMPORTPII")
    report = import_file(brand.org, Path(__file__).parents[1] / "fixtures" / "import" / "promoters.csv",
                         "promoters", live="LIMPORTPII", skip_bad=True)
    assert report.accepted == 2
    assert_nowhere_plain("13800138000", "13900139000")
    li = Promoter.objects.for_org(brand.org).get(phone_match(brand.org, "13900139000"))
    assert li.name == "李娜"


def test_a_sealed_phone_or_account_cannot_be_filtered_on_by_mistake(brand):
    from django.core.exceptions import FieldError

    for lookup in ({"phone": PHONE_A}, {"bank_account": CARD_A}, {"phone__startswith": "138"}):
        with pytest.raises(FieldError):
            Promoter.objects.for_org(brand.org).filter(**lookup).exists()


# --- finding a promoter by phone ------------------------------------------------------------------

def test_a_phone_still_finds_its_promoter_and_stays_one_person_per_organisation(brand, outsider):
    upcoming = brand.live(title="下周专场")
    first, = enrol(upcoming.programme, [NewPromoter(name="王芳", phone=PHONE_A)])
    # The same phone again (as the join page does) is the same promoter, not a second one.
    again, = enrol(upcoming.programme, [NewPromoter(name="王芳", phone=PHONE_A)])
    assert again.pk == first.pk and Promoter.objects.for_org(brand.org).count() == 1
    assert Promoter.objects.for_org(brand.org).get(phone_match(brand.org, PHONE_A)).pk == first.pk
    assert not Promoter.objects.for_org(brand.org).filter(phone_match(brand.org, PHONE_B)).exists()
    # The database itself refuses a second row with the phone (a race past the lookup).
    with transaction.atomic(), pytest.raises(IntegrityError):
        Promoter.objects.create(org=brand.org, code="PDUP01", name="冒名", phone=PHONE_A)
    # Another organisation may know the same person: their own row, a hash unrelated to ours,
    # and neither organisation's lookup finds the other's.
    theirs = Promoter.objects.create(org=outsider.org, code="PX0001", name="王芳", phone=PHONE_A)
    assert raw("promoters_promoter", "phone_hash", theirs.pk) != raw("promoters_promoter", "phone_hash", first.pk)
    assert not Promoter.objects.for_org(outsider.org).filter(phone_match(brand.org, PHONE_A)).exists()
    assert list(Promoter.objects.for_org(outsider.org).filter(phone_match(outsider.org, PHONE_A))) == [theirs]


def test_changing_a_phone_moves_its_hash(brand):
    promoter = Promoter.objects.create(org=brand.org, code="PCHG01", name="改号", phone=PHONE_A)
    promoter.phone = PHONE_B
    promoter.save(update_fields=["phone"])
    assert Promoter.objects.for_org(brand.org).get(phone_match(brand.org, PHONE_B)).pk == promoter.pk
    assert not Promoter.objects.for_org(brand.org).filter(phone_match(brand.org, PHONE_A)).exists()
    promoter.phone = ""
    promoter.save()
    assert raw("promoters_promoter", "phone_hash", promoter.pk) == ""
    # Many promoters without a phone: the uniqueness is only among phones given.
    Promoter.objects.create(org=brand.org, code="PNONE2", name="无号")


def test_the_promoter_tables_find_a_promoter_by_the_exact_phone(owner, brand):
    upcoming = brand.live(title="下周专场")
    enrol(upcoming.programme, [NewPromoter(name="王芳", phone=PHONE_A, code="PWANG1"),
                               NewPromoter(name="李娜", phone=PHONE_B, code="PLINA1")])
    for url in (f"/lives/{upcoming.public_id}/programme/", f"/lives/{upcoming.public_id}/"):
        for typed in (PHONE_A, "138 0013 8000", "+86 138-0013-8000"):
            page = owner.get(url, {"q": typed}).content.decode()
            assert "PWANG1" in page and "PLINA1" not in page, (url, typed)
        # Only the exact number: a phone is sealed, so a fragment of it finds no one.
        page = owner.get(url, {"q": "0013800"}).content.decode()
        assert "PWANG1" not in page and "PLINA1" not in page
        # Code and name search as before.
        page = owner.get(url, {"q": "李娜"}).content.decode()
        assert "PLINA1" in page and "PWANG1" not in page


# --- masked everywhere but finance's files ------------------------------------------------------

def test_masks():
    assert mask_phone(PHONE_A) == "138****8000"
    assert mask_account(CARD_B) == "**** 0123" and mask_account("") == "" and mask_account("123") == "****"


def _xlsx_text(body: bytes) -> str:
    book = load_workbook(io.BytesIO(body))
    return " ".join(str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row)


def test_every_page_api_answer_and_figures_export_shows_them_masked(clients, brand, live, paid_by_bank):
    run, batch = paid_by_bank
    statement = Statement.objects.for_org(brand.org).get(run=run, promoter__code="PB")
    pages = ["/", f"/lives/{live.public_id}/", f"/lives/{live.public_id}/programme/", "/money/",
             f"/money/runs/{run.pk}/", f"/money/statements/{statement.number}/", "/money/promoters/PB/",
             "/money/promoters/PA/", f"/money/promoters/PB/lives/{live.public_id}/", "/money/batches/",
             f"/money/batches/{batch.pk}/"]
    seen = set()
    for role, client in clients.items():
        for url in pages:
            answer = client.get(url)
            assert answer.status_code == 200, (role, url)
            body = answer.content.decode()
            for secret in (PHONE_A, PHONE_B, CARD_A, CARD_B):
                assert secret not in body, (role, url, secret)
            seen |= {mask for mask in ("138****8000", "139****5678", "**** 0123") if mask in body}
        for url in (f"/lives/{live.public_id}/promoters.csv", f"/lives/{live.public_id}/promoters.xlsx",
                    f"/money/runs/{run.pk}/statements.csv", f"/money/runs/{run.pk}/statements.xlsx"):
            answer = client.get(url)
            if answer.status_code == 403:
                assert role == VIEWER
                continue
            if role in (OWNER, FINANCE) and "statements" in url:
                continue  # finance's export: in full (below)
            body = _xlsx_text(answer.content) if url.endswith("xlsx") else answer.content.decode("utf-8-sig")
            for secret in (PHONE_A, PHONE_B, CARD_A, CARD_B):
                assert secret not in body, (role, url, secret)
    # The operator's programme page and finance's ledger show the masks, so the test above
    # looked at pages that show these fields at all.
    assert seen == {"138****8000", "139****5678", "**** 0123"}
    operator_export = clients[OPERATOR].get(f"/money/runs/{run.pk}/statements.csv").content.decode("utf-8-sig")
    assert "**** 0123" in operator_export
    # The API: a key has no role, so masked.
    api = brand.api.get(f"/api/v1/statements/{statement.number}").json()
    assert api["payee"] == "**** 0123"
    listing = brand.api.get(f"/api/v1/lives/{live.public_id}/promoters").content.decode()
    assert PHONE_B not in listing and CARD_B not in listing


def test_the_payout_file_and_statements_export_are_in_full_for_owner_and_finance_only(clients, brand, paid_by_bank):
    run, batch = paid_by_bank
    for role in (OWNER, FINANCE):
        rows = list(csv.reader(io.StringIO(
            clients[role].get(f"/money/batches/{batch.pk}/batch.csv").content.decode("utf-8-sig"))))
        accounts = {r[1]: r[4] for r in rows[1:]}
        assert accounts == {"PA": "o-PA-openid", "PB": CARD_B}, role
        assert CARD_B in _xlsx_text(clients[role].get(f"/money/batches/{batch.pk}/batch.xlsx").content)
        statements = clients[role].get(f"/money/runs/{run.pk}/statements.csv").content.decode("utf-8-sig")
        assert CARD_B in statements
        assert "batch.csv" in clients[role].get(f"/money/batches/{batch.pk}/").content.decode()
    for role in (OPERATOR, VIEWER):
        for kind in ("csv", "xlsx"):
            answer = clients[role].get(f"/money/batches/{batch.pk}/batch.{kind}")
            assert answer.status_code == 403 and CARD_B not in answer.content.decode(errors="replace"), role
        assert "batch.csv" not in clients[role].get(f"/money/batches/{batch.pk}/").content.decode()


# --- key rotation --------------------------------------------------------------------------------

def test_a_rotated_key_and_reseal_keep_phones_and_accounts_readable_and_findable(brand, paid_by_bank, settings):
    pb = Promoter.objects.for_org(brand.org).get(code="PB")
    before = {column: raw("promoters_promoter", column, pb.pk) for column in ("phone", "bank_account", "phone_hash")}
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-secret-key-for-pii-tests", [old]
    # Between the rotation and the reseal: still read, still found (under the old key's hash),
    # and the same phone still refused a second time.
    assert Promoter.objects.for_org(brand.org).get(phone_match(brand.org, PHONE_B)).bank_account == CARD_B
    upcoming = brand.live(title="轮换后专场")
    again, = enrol(upcoming.programme, [NewPromoter(name="李娜", phone=PHONE_B)])
    assert again.pk == pb.pk

    result = CliRunner().invoke(main, ["reseal-secrets"], catch_exceptions=False)
    assert "promoters.Promoter: 2 rows resealed (phone, bank_account, legal_name, id_number)" in result.output
    assert "money.Statement: 2 rows resealed (payee)" in result.output
    settings.SECRET_KEY_FALLBACKS = []
    after = {column: raw("promoters_promoter", column, pb.pk) for column in ("phone", "bank_account", "phone_hash")}
    assert all(after[c] != before[c] for c in after)  # every value rewritten under the new key
    assert after["phone_hash"] == keyed_hash(f"{brand.org.pk}:{PHONE_B}")
    found = Promoter.objects.for_org(brand.org).get(phone_match(brand.org, PHONE_B))
    assert (found.pk, found.phone, found.bank_account) == (pb.pk, PHONE_B, CARD_B)
    assert Statement.objects.for_org(brand.org).get(promoter=pb).payee == CARD_B
    assert_nowhere_plain(PHONE_A, PHONE_B, CARD_A, CARD_B)


# --- the data migration ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_and_hashes_rows_written_before_it_and_reverses(brand):
    before = [("promoters", "0004_team_leader_parent_promoter_payee"), ("money", "0002_run_own_ids_withhold_tax")]
    save_plan(brand.org, None, name="标准方案", fields={"rate_bps": 1000}, make_default=True)
    ended = ended_live(brand)
    pb = Promoter.objects.for_org(brand.org).get(code="PB")
    pb.phone, pb.bank_account = PHONE_B, CARD_B
    pb.save()
    settle_live(brand.org, ended)
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        # Reversed: the values are plain again, as the old code wrote them.
        assert raw("promoters_promoter", "phone", pb.pk) == PHONE_B
        assert raw("promoters_promoter", "bank_account", pb.pk) == CARD_B
        payee_row = Statement.objects.for_org(brand.org).values_list("pk", flat=True).get(promoter_id=pb.pk)
        assert raw("money_statement", "payee", payee_row) == CARD_B
        # And a row written the old way, by the old schema.
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO promoters_promoter (org_id, code, name, phone, openid, wecom_userid, "
                           "bank_account, bank_name, created_at) VALUES (%s, 'POLD01', '老推广员', %s, '', '', "
                           "%s, '工商银行', %s)", [brand.org.pk, PHONE_A, CARD_A, "2026-11-26 00:00:00"])
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
        assert_nowhere_plain(PHONE_A, PHONE_B, CARD_A, CARD_B)
        old = Promoter.objects.for_org(brand.org).get(phone_match(brand.org, PHONE_A))
        assert (old.code, old.bank_account, old.bank_name) == ("POLD01", CARD_A, "工商银行")
        pb = Promoter.objects.for_org(brand.org).get(phone_match(brand.org, PHONE_B))
        assert (pb.code, pb.bank_account) == ("PB", CARD_B)
        assert Statement.objects.for_org(brand.org).get(promoter=pb).payee == CARD_B
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
