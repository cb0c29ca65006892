"""Every file a person downloads from a page, in Chinese and in English (issue 19, item 1).

Each export route of the web app is downloaded in both languages and read back: headers come
from the translation catalogue, money is yuan with two decimals (text in CSV, a yuan-formatted
number in Excel), times are in the organisation's zone, a CSV starts with a BOM, the organic row
is named, the payout method is in words, and each sum in a file equals the figure the page
shows. The organisation's zone is Asia/Urumqi (UTC+6), so neither UTC nor a hard-coded
Shanghai could pass.
"""
import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.translation import trans_real
from openpyxl import load_workbook

from liveloop.lib.sheets import YUAN_FORMAT
from liveloop.lives.models import Live
from liveloop.money.models import PayoutBatch, SettlementRun
from liveloop.orgs.models import Member, Organisation
from liveloop.orgs.services import add_member, create_org
from tests.actors import event
from tests.security.routes import ROUTES
from tests.security.world import mine  # noqa: F401

ZONE = "Asia/Urumqi"
LANGUAGES = ("zh-hans", "en")
YUAN_TEXT = re.compile(r"^-?\d+\.\d{2}$")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _catalogue(language: str) -> list[re.Pattern]:
    """Every string a header may be in this language: the catalogue's translations (Chinese)
    or its source strings (English), a %(name)s placeholder matching any text."""
    catalog = trans_real.translation("zh-hans")._catalog  # English is its source strings
    texts = set()
    for key, value in catalog.items():
        if isinstance(key, tuple):  # plural forms
            continue
        texts.add(value if language != "en" else key.split("\x04")[-1])
    return [re.compile("^" + re.sub(r"%\\\(\w+\\\)[sd]", ".+", re.escape(text)) + "$") for text in texts if text]


def _from_catalogue(header: str, patterns) -> bool:
    return any(p.match(header) for p in patterns)


def _is_money(header: str) -> bool:
    words = {translation.gettext(w) for w in ("GMV", "Refunded", "Net", "UV value")}
    return header in words or "（元）" in header or "(yuan)" in header


def _yuan_page(amount: Decimal) -> str:
    """The pages' figure: ¥1,234.56."""
    return f"{'-' if amount < 0 else ''}¥{abs(amount):,.2f}"


@pytest.fixture
def world(mine, brand):
    Organisation.objects.filter(pk=brand.org.pk).update(timezone=ZONE)
    brand.org.refresh_from_db()
    # An order nobody brought: the organic row of the live's table.
    answer = brand.send([event("organic1", "room_enter", mine.live.public_id, "VIEWER0099"),
                         event("organic2", "order_paid", mine.live.public_id, "VIEWER0099", order="ORGANIC",
                               amount=70007)]).json()
    assert answer["accepted"] == 2, answer
    agency, _key = create_org("星河代运营", kind=Organisation.AGENCY)
    Organisation.objects.filter(pk=brand.org.pk).update(agency=agency)
    add_member(agency, "agent-exports", Member.FINANCE)
    agent = Client()
    agent.force_login(Member.objects.get(org=agency, user__username="agent-exports").user)
    mine.agent = agent
    mine.money_live = Live.objects.get(org=brand.org, title="自家结算直播")
    return mine


def _exports(world) -> dict[str, tuple[str, Client]]:
    finance = world.members[Member.FINANCE]
    live, money_live = world.live.public_id, world.money_live.public_id
    run, batch = world.objects["run"], world.objects["batch"]
    return {
        "live_promoters_csv": (f"/lives/{live}/promoters.csv", finance),
        "live_promoters_xlsx": (f"/lives/{live}/promoters.xlsx", finance),
        "report_xlsx": (f"/lives/{money_live}/report.xlsx", finance),
        "trends_csv": ("/trends/trends.csv", finance),
        "trends_xlsx": ("/trends/trends.xlsx", finance),
        "matrix_csv": (f"/matrix/matrix.csv?date={world.money_live.started_at:%Y-%m-%d}", finance),
        "matrix_xlsx": (f"/matrix/matrix.xlsx?date={world.money_live.started_at:%Y-%m-%d}", finance),
        "scorecards_csv": ("/agency/scorecards/scorecard.csv", world.agent),
        "scorecards_xlsx": ("/agency/scorecards/scorecard.xlsx", world.agent),
        "money_run_csv": (f"/money/runs/{run}/statements.csv", finance),
        "money_run_xlsx": (f"/money/runs/{run}/statements.xlsx", finance),
        "money_batch_csv": (f"/money/batches/{batch}/batch.csv", finance),
        "money_batch_xlsx": (f"/money/batches/{batch}/batch.xlsx", finance),
        "tuike_reconcile_csv": (f"/lives/{live}/tuike.csv", finance),
        "tuike_reconcile_xlsx": (f"/lives/{live}/tuike.xlsx", finance),
    }


def test_every_page_download_is_listed_here():
    """A new .csv/.xlsx route of the pages must join the sweep below."""
    downloads = {r.name.split(":")[1] for r in ROUTES
                 if r.name.startswith("web:") and re.search(r"\.(csv|xlsx)$", r.pattern)}
    listed = {"live_promoters_csv", "live_promoters_xlsx", "report_xlsx", "trends_csv", "trends_xlsx",
              "matrix_csv", "matrix_xlsx", "scorecards_csv", "scorecards_xlsx", "money_run_csv",
              "money_run_xlsx", "money_batch_csv", "money_batch_xlsx", "tuike_reconcile_csv", "tuike_reconcile_xlsx"}
    # Files in another's layout, not ours: the bank's batch file (its Chinese headers, amounts as
    # text: tests/money/test_bank_files.py compares it with the bank's sample) and the tax
    # report (the report's own Chinese columns in any language: tests/money/test_tax_report.py).
    in_their_layout = {"money_batch_cmb_xlsx", "money_tax_csv", "money_tax_xlsx"}
    assert downloads == listed | in_their_layout


def _csv_tables(body: bytes) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows) of each table; the matrix writes several, each under a one-cell title."""
    lines = list(csv.reader(io.StringIO(body.decode("utf-8")[1:])))
    tables, index = [], 0
    while index < len(lines):
        if not lines[index]:
            index += 1
            continue
        if len(lines[index]) == 1 and index + 1 < len(lines) and len(lines[index + 1]) > 1:
            index += 1  # a table's title; checked with the headers below
        header, rows = lines[index], []
        index += 1
        while index < len(lines) and lines[index]:
            rows.append(lines[index])
            index += 1
        tables.append((header, rows))
    return tables


def _xlsx_tables(body: bytes):
    book = load_workbook(io.BytesIO(body))
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows())
        yield sheet.title, [c.value for c in rows[0]], rows[1:]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_export_is_for_people(world, language):
    patterns = _catalogue(language)
    files = {}
    for name, (url, client) in _exports(world).items():
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        answer = client.get(url)
        assert answer.status_code == 200, (name, answer.status_code)
        assert answer["Content-Disposition"].startswith("attachment")
        files[name] = answer.content
    checked = 0
    with translation.override(language):
        for name, body in files.items():
            if name.endswith("_csv"):
                assert body.startswith("\ufeff".encode("utf-8")), name  # Excel reads UTF-8 only with a BOM
                text = body.decode("utf-8")
                assert not ISO_TIME.search(text), name
                for header, rows in _csv_tables(body):
                    for label in header:
                        assert _from_catalogue(label, patterns), (name, language, label)
                    for column, label in enumerate(header):
                        if _is_money(label):
                            for row in rows:
                                assert row[column] == "" or YUAN_TEXT.match(row[column]), (name, label, row)
                                checked += 1
            else:
                for title, header, rows in _xlsx_tables(body):
                    for label in header:
                        assert _from_catalogue(str(label), patterns), (name, language, title, label)
                    for column, label in enumerate(header):
                        if _is_money(str(label)):
                            for row in rows:
                                cell = row[column]
                                if cell.value in (None, ""):
                                    continue
                                assert isinstance(cell.value, (int, float)), (name, label, cell.value)
                                assert cell.number_format == YUAN_FORMAT, (name, label, cell.number_format)
                                assert round(cell.value * 100) == pytest.approx(cell.value * 100)
                                checked += 1
    assert checked > 30  # the sweep saw money in every kind of file, not just headers
    _organic_and_methods(world, files, language)
    _times_in_the_orgs_zone(world, files, language)
    _sums_equal_the_pages(world, files, language)


def _organic_and_methods(world, files, language):
    with translation.override(language):
        organic = translation.gettext("Natural traffic (unattributed)")
        wechat, bank = translation.gettext("WeChat change"), translation.gettext("Bank card")
    header, rows = _csv_tables(files["live_promoters_csv"])[0]
    by_code = {row[0]: row for row in rows}
    assert by_code[""][1] == organic and by_code[""][header.index(_with(language, "GMV"))] == "700.07"
    _title, _header, xrows = next(_xlsx_tables(files["live_promoters_xlsx"]))
    assert organic in [row[1].value for row in xrows]
    header, rows = _csv_tables(files["money_batch_csv"])[0]
    method = header.index(_with(language, "Payment method"))
    assert {row[method] for row in rows} <= {wechat, bank} and rows
    assert "wechat_openid" not in files["money_batch_csv"].decode() and ",bank," not in files["money_batch_csv"].decode()


def _with(language, text):
    with translation.override(language):
        return translation.gettext(text)


def _times_in_the_orgs_zone(world, files, language):
    started = world.money_live.started_at
    expected = started.astimezone(ZoneInfo(ZONE))
    assert expected.utcoffset() == timedelta(hours=6)
    header, rows = _csv_tables(files["trends_csv"])[0]
    at = next(i for i, label in enumerate(header) if ZONE in label)
    row = next(r for r in rows if r[0] == world.money_live.public_id)
    assert row[at] == expected.strftime("%Y-%m-%d %H:%M")
    _title, header, xrows = next(_xlsx_tables(files["trends_xlsx"]))
    at = next(i for i, label in enumerate(header) if ZONE in label)
    cell = next(r for r in xrows if r[0].value == world.money_live.public_id)[at]
    assert cell.value == expected.replace(tzinfo=None, second=0, microsecond=0) or \
        cell.value.strftime("%Y-%m-%d %H:%M") == expected.strftime("%Y-%m-%d %H:%M")


def _column_sum(table, label) -> Decimal:
    header, rows = table
    column = header.index(label)
    return sum((Decimal(row[column]) for row in rows if row[column]), Decimal(0))


def _page(client, url, language) -> str:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    answer = client.get(url)
    assert answer.status_code == 200, url
    return answer.content.decode()


def _sums_equal_the_pages(world, files, language):
    finance = world.members[Member.FINANCE]
    gmv, net = _with(language, "GMV"), _with(language, "Net")
    # The live's table: the page's total is every row's GMV, the organic row included.
    live_gmv = _column_sum(_csv_tables(files["live_promoters_csv"])[0], gmv)
    assert live_gmv == Decimal("712.07")  # ¥12.00 through P1 + ¥700.07 organic
    assert _yuan_page(live_gmv) in _page(finance, f"/lives/{world.live.public_id}/", language)
    # Statements: what the run page says is payable.
    run = SettlementRun.objects.get(pk=world.objects["run"])
    payable = _column_sum(_csv_tables(files["money_run_csv"])[0], _with(language, "Payable (yuan)"))
    assert payable == Decimal(sum(s.payable for s in run.statements.all())) / 100
    assert _yuan_page(payable) in _page(finance, f"/money/runs/{run.pk}/", language)
    # The batch file: the batch's total.
    batch = PayoutBatch.objects.get(pk=world.objects["batch"])
    amount = _column_sum(_csv_tables(files["money_batch_csv"])[0], _with(language, "Amount (yuan)"))
    assert amount == Decimal(batch.total) / 100 and amount > 0
    assert _yuan_page(amount) in _page(finance, f"/money/batches/{batch.pk}/", language)
    # Trends: each live's GMV as on the page.
    trends_page = _page(finance, "/trends/", language)
    header, rows = _csv_tables(files["trends_csv"])[0]
    for row in rows:
        assert _yuan_page(Decimal(row[header.index(gmv)])) in trends_page
    # Scorecards: the total row is the sum of the account rows, and the page's total.
    header, rows = _csv_tables(files["scorecards_csv"])[0]
    total_word = _with(language, "Total")
    total = next(r for r in rows if r[1] == total_word)
    brand_word = _with(language, "Subtotal")
    accounts = [r for r in rows if r[1] not in (total_word, brand_word)]
    assert Decimal(total[header.index(gmv)]) == sum(Decimal(r[header.index(gmv)]) for r in accounts)
    assert Decimal(total[header.index(net)]) == sum(Decimal(r[header.index(net)]) for r in accounts)
    assert _yuan_page(Decimal(total[header.index(gmv)])) in _page(world.agent, "/agency/scorecards/", language)
    # The matrix: each table's rows sum to its total row, which is the page's figure.
    matrix_page = _page(finance, f"/matrix/?date={world.money_live.started_at:%Y-%m-%d}", language)
    for header, rows in _csv_tables(files["matrix_csv"]):
        totals = [r for r in rows if r[0] == total_word]
        parts = [r for r in rows if r[0] != total_word]
        assert len(totals) == 1 and parts
        assert _column_sum((header, parts), gmv) == Decimal(totals[0][header.index(gmv)]) > 0
        assert _yuan_page(Decimal(totals[0][header.index(gmv)])) in matrix_page
