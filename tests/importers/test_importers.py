"""File import (liveloop.importers): headers, values, dry run, real run, re-import, streaming."""
import csv
import tracemalloc
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from liveloop.analytics.queries import live_summary, promoter_rows
from liveloop.events.models import Event
from liveloop.importers.cli import run_import_command
from liveloop.importers.columns import HeaderError, map_headers, parse_overrides
from liveloop.importers.events import parse_amount, parse_at
from liveloop.importers.readers import detect_encoding, open_table
from liveloop.importers.run import ImportFileError, import_file
from liveloop.lives.models import Live
from liveloop.promoters.models import Enrolment, Promoter, phone_match

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def live(brand):
    live = brand.live(promoters=["PA0001", "PB0001"])
    Live.objects.filter(pk=live.pk).update(public_id="LIMPORT1")
    live.refresh_from_db()
    Promoter.objects.filter(org=brand.org, code="PA0001").update(openid="o-sharer-a")
    return live


def figures(live):
    summary = live_summary(live)
    return {k: summary[k] for k in ("reservations", "buyers", "orders", "gmv", "refunded", "net")}


def by_promoter(live):
    return {row["promoter"]: (row["orders"], row["gmv"], row["refunded"]) for row in promoter_rows(live)}


# Header mapping -------------------------------------------------------------------------------

def test_chinese_headers_map_to_fields_and_unknown_ones_are_listed():
    columns = map_headers(["订单号", "支付时间", "实付金额(分)", "买家openid", "分享员openid", "商品名称"],
                          "orders", live_given=True)
    assert columns.fields == {"order": 0, "at": 1, "amount": 2, "viewer": 3, "promoter": 4}
    assert columns.fen == {"amount"}
    assert columns.ignored == ["商品名称"]
    assert columns.missing == [] and columns.error() is None


def test_english_headers_with_bom_and_spaces_map_too():
    columns = map_headers(["\ufeffOrder", " Paid_At ", "Amount (元)", "viewer", "live"], "orders")
    assert columns.fields == {"order": 0, "at": 1, "amount": 2, "viewer": 3, "live": 4}
    assert columns.fen == set()


def test_missing_columns_name_the_expected_headers():
    columns = map_headers(["订单号", "备注"], "orders")
    assert columns.missing == ["at", "amount", "viewer", "live"]
    message = columns.error()
    assert "支付时间" in message and "实付金额" in message and "paid_at" in message
    assert "直播间ID".lower() in message.lower()


def test_an_explicit_mapping_wins_and_a_wrong_field_is_refused():
    columns = map_headers(["单号", "时间", "实付", "客户"], "orders",
                          parse_overrides(["单号=order", "时间=at", "实付=amount", "客户=viewer"]),
                          live_given=True)
    assert columns.fields == {"order": 0, "at": 1, "amount": 2, "viewer": 3}
    with pytest.raises(HeaderError, match="not a field of orders"):
        map_headers(["实付"], "orders", {"实付": "price"})
    with pytest.raises(HeaderError, match="HEADER=FIELD"):
        parse_overrides(["实付"])


# Values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, fen", [
    ("¥1,299.50", 129950), ("￥1,299.5", 129950), ("129.00", 12900), ("1299", 129900),
    ("0.01", 1), (" 59.9 元", 5990), (129.5, 12950), (1299, 129900), (Decimal("0.10"), 10),
    ("12.340", 1234),
])
def test_yuan_become_exact_fen(text, fen):
    assert parse_amount(text) == fen


@pytest.mark.parametrize("text, reason", [
    ("12.345", "more than two decimals"), ("-1", "must not be negative"), ("abc", "not an amount"),
    ("", "required"), ("NaN", "not an amount"), (True, "TRUE/FALSE"),
])
def test_bad_amounts_say_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_amount(text)


def test_a_fen_column_is_taken_as_is_and_must_be_whole():
    assert parse_amount("12900", fen=True) == 12900
    with pytest.raises(ValueError, match="whole numbers"):
        parse_amount("129.5", fen=True)


def test_times_without_offset_are_in_the_organisations_zone():
    assert parse_at("2026-11-26 20:01:02", SHANGHAI) == datetime(2026, 11, 26, 12, 1, 2, tzinfo=timezone.utc)
    assert parse_at("2026/11/26 20:01", SHANGHAI) == datetime(2026, 11, 26, 12, 1, tzinfo=timezone.utc)
    assert parse_at("2026-11-26T20:01:02+00:00", SHANGHAI) == datetime(2026, 11, 26, 20, 1, 2, tzinfo=timezone.utc)
    assert parse_at(datetime(2026, 11, 26, 20, 0), ZoneInfo("Europe/Paris")) == \
        datetime(2026, 11, 26, 19, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="not a time"):
        parse_at("昨天", SHANGHAI)


def test_an_organisation_in_another_zone_reads_local_times_in_its_own(brand, live):
    brand.org.timezone = "Europe/Paris"
    brand.org.save(update_fields=["timezone"])
    import_file(brand.org, FIXTURES / "orders_en.csv", "orders", now=NOW)
    at = Event.objects.for_org(brand.org).get(eid="import:pay:A-1").at
    assert at == datetime(2026, 11, 20, 19, 1, tzinfo=timezone.utc)


# Readers --------------------------------------------------------------------------------------

def test_gbk_csv_is_detected_and_read():
    assert detect_encoding(FIXTURES / "orders_gbk.csv") == "gb18030"
    assert detect_encoding(FIXTURES / "orders_en.csv") == "utf-8-sig"
    with open_table(FIXTURES / "orders_gbk.csv", progress=False) as table:
        assert table.header[0] == "订单号"
        rows = list(table.rows)
    assert rows[0] == (2, ["3704612354559743232", "2026-11-20 20:01:02", "￥1,299.50", "o-viewer-1",
                           "o-sharer-a", "山茶花精华"])
    assert [number for number, _ in rows] == [2, 3, 4]


def test_xlsx_rows_keep_their_spreadsheet_numbers_and_skip_blank_rows():
    with open_table(FIXTURES / "orders.xlsx", progress=False) as table:
        assert table.header == ["订单编号", "付款时间", "实付款", "用户ID", "推广员"]
        rows = list(table.rows)
    assert [number for number, _ in rows] == [2, 3, 5]
    assert rows[0][1][1] == datetime(2026, 11, 20, 20, 1, 2)


def _orders_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["订单号", "支付时间", "实付金额", "买家openid"])
        for n in range(rows):
            writer.writerow([f"37046123545597{n:05d}", "2026-11-20 20:01:02", "129.00", f"o-viewer-{n}"])


def _peak_reading(path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with open_table(path, progress=False) as table:
            count = sum(1 for _ in table.rows)
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_a_large_csv_keeps_memory_flat(tmp_path):
    _orders_csv(tmp_path / "small.csv", 5_000)
    _orders_csv(tmp_path / "big.csv", 50_000)
    assert (tmp_path / "big.csv").stat().st_size > 3_000_000
    _peak_reading(tmp_path / "small.csv")  # imports (tqdm, csv) are not what we measure
    small = _peak_reading(tmp_path / "small.csv")
    big = _peak_reading(tmp_path / "big.csv")
    assert (small[0], big[0]) == (5_000, 50_000)
    # Ten times the rows, the same peak: nothing is kept per row.
    assert big[1] < small[1] + 200_000
    assert big[1] < 1_000_000


# Dry run, real run, re-import -----------------------------------------------------------------

def test_dry_run_reports_every_bad_row_and_writes_nothing(brand, live):
    report = import_file(brand.org, FIXTURES / "orders_bad.csv", "orders", dry_run=True, now=NOW)
    assert Event.objects.for_org(brand.org).filter(source="import").count() == 0
    assert report.rows == 7 and report.accepted == 1 and report.rejected == 6
    problems = [(p.row, p.column) for p in report.problems]
    assert problems == [(2, "实付金额"), (3, "实付金额"), (4, "用户openid"), (5, "支付时间"),
                        (6, "直播间ID"), (8, "订单号")]
    reasons = {p.row: p.reason for p in report.problems}
    assert "more than two decimals" in reasons[2]
    assert "negative" in reasons[3]
    assert "LNOSUCH" in reasons[6]
    assert "scientific notation" in reasons[8]


def test_a_real_run_refuses_a_file_with_bad_rows_unless_told_to_skip_them(brand, live):
    refused = import_file(brand.org, FIXTURES / "orders_bad.csv", "orders", now=NOW)
    assert refused.refused and refused.rejected == 6
    assert Event.objects.for_org(brand.org).count() == Event.objects.for_org(brand.org).exclude(
        source="import").count()
    skipped = import_file(brand.org, FIXTURES / "orders_bad.csv", "orders", skip_bad=True, now=NOW)
    assert skipped.accepted == 1 and skipped.rejected == 6 and not skipped.refused
    assert list(Event.objects.for_org(brand.org).filter(source="import").values_list("eid", flat=True)) == \
        ["import:pay:B-6"]


def test_gbk_orders_import_with_sharer_openids_and_reimport_changes_nothing(brand, live):
    report = import_file(brand.org, FIXTURES / "orders_gbk.csv", "orders", live="LIMPORT1", now=NOW)
    assert (report.rows, report.accepted, report.duplicates, report.rejected) == (3, 3, 0, 0)
    assert report.ignored == ["商品名称"]
    assert figures(live) == {"reservations": 0, "buyers": 3, "orders": 3, "gmv": 129950 + 12900 + 5990,
                             "refunded": 0, "net": 148840}
    # o-sharer-a is PA0001's shop openid; PB0001 is named by code.
    assert by_promoter(live) == {None: (1, 12900, 0), "PA0001": (1, 129950, 0), "PB0001": (1, 5990, 0)}
    paid = Event.objects.for_org(brand.org).get(eid="import:pay:3704612354559743232")
    assert paid.at == datetime(2026, 11, 20, 12, 1, 2, tzinfo=timezone.utc) and paid.source == "import"

    before = figures(live), Event.objects.count()
    again = import_file(brand.org, FIXTURES / "orders_gbk.csv", "orders", live="LIMPORT1", now=NOW)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 3, 0)
    assert (figures(live), Event.objects.count()) == before


def test_xlsx_orders_import(brand, live):
    report = import_file(brand.org, FIXTURES / "orders.xlsx", "orders", live="LIMPORT1", now=NOW)
    assert (report.rows, report.accepted, report.rejected) == (3, 3, 0)
    assert figures(live)["gmv"] == 12950 + 129900 + 5990
    assert Event.objects.for_org(brand.org).filter(eid="import:pay:12345678").exists()


def test_refunds_after_orders_follow_the_orders_credit(brand, live):
    import_file(brand.org, FIXTURES / "orders_gbk.csv", "orders", live="LIMPORT1", now=NOW)
    report = import_file(brand.org, FIXTURES / "refunds.csv", "refunds", live="LIMPORT1", now=NOW)
    assert (report.accepted, report.rejected) == (2, 0)
    assert by_promoter(live)["PA0001"] == (1, 129950, 49950)
    assert by_promoter(live)[None] == (1, 12900, 2900)
    assert figures(live)["refunded"] == 52850
    ids = set(Event.objects.for_org(brand.org).filter(type="order_refund").values_list("eid", flat=True))
    assert "import:refund:RF-1" in ids and len(ids) == 2
    again = import_file(brand.org, FIXTURES / "refunds.csv", "refunds", live="LIMPORT1", now=NOW)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert figures(live)["refunded"] == 52850


def test_a_refund_on_an_unknown_order_is_a_bad_row_of_the_real_run(brand, live):
    report = import_file(brand.org, FIXTURES / "refunds.csv", "refunds", live="LIMPORT1", now=NOW)
    assert report.accepted == 0 and report.rejected == 2
    assert [p.row for p in report.problems] == [2, 3]
    assert all("order" in p.reason for p in report.problems)


def test_reservations_import(brand, live):
    report = import_file(brand.org, FIXTURES / "reservations.csv", "reservations", live="LIMPORT1", now=NOW)
    # r1 twice is one reservation, so one id: the second row is a duplicate.
    assert (report.rows, report.accepted, report.duplicates) == (4, 3, 1)
    rows = {row["promoter"]: row["reservations"] for row in promoter_rows(live)}
    assert rows == {None: 1, "PA0001": 1, "PB0001": 1}


def test_promoters_import_enrols_into_the_live(brand, live):
    dry = import_file(brand.org, FIXTURES / "promoters.csv", "promoters", live="LIMPORT1", dry_run=True)
    assert (dry.accepted, dry.rejected) == (2, 1) and dry.problems[0].column == "手机号"
    assert Enrolment.objects.for_org(brand.org).count() == 2
    report = import_file(brand.org, FIXTURES / "promoters.csv", "promoters", live="LIMPORT1", skip_bad=True)
    assert (report.accepted, report.duplicates, report.rejected) == (2, 0, 1)
    wang = Promoter.objects.for_org(brand.org).get(code="PW0001")
    assert (wang.name, wang.phone, wang.team.name, wang.openid) == ("王芳", "13800138000", "杭州湖滨店", "o-sharer-w")
    li = Promoter.objects.for_org(brand.org).get(phone_match(brand.org, "13900139000"))
    assert Enrolment.objects.for_org(brand.org).filter(programme=live.programme, promoter=li).exists()
    again = import_file(brand.org, FIXTURES / "promoters.csv", "promoters", live="LIMPORT1", skip_bad=True)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert Enrolment.objects.for_org(brand.org).count() == 4


def test_file_level_problems_stop_before_any_row(brand, live, tmp_path):
    with pytest.raises(ImportFileError, match="支付时间"):
        import_file(brand.org, FIXTURES / "refunds.csv", "orders", live="LIMPORT1")
    with pytest.raises(ImportFileError, match="no such live"):
        import_file(brand.org, FIXTURES / "orders_gbk.csv", "orders", live="LOTHER")
    with pytest.raises(ImportFileError, match="--live"):
        import_file(brand.org, FIXTURES / "promoters.csv", "promoters")
    other = brand.live(title="另一场")
    with pytest.raises(ImportFileError, match="no such live"):
        import_file(brand.org, FIXTURES / "orders_gbk.csv", "orders", live=other.public_id + "x")


def test_another_organisations_live_is_unknown(brand, outsider, live):
    with pytest.raises(ImportFileError, match="no such live"):
        import_file(outsider.org, FIXTURES / "orders_gbk.csv", "orders", live="LIMPORT1")
    report = import_file(outsider.org, FIXTURES / "orders_en.csv", "orders", dry_run=True, now=NOW)
    assert report.rejected == 2 and "unknown live" in report.problems[0].reason


def test_the_command_prints_the_summary_and_fails_a_dry_run_with_bad_rows(brand, live):
    lines = []
    status = run_import_command(brand.org, FIXTURES / "orders_bad.csv", "orders", dry_run=True,
                                echo=lines.append)
    assert status == 1
    assert lines[0].startswith("试运行") and "错误行 rejected: 6" in lines
    assert any("第 2 行" in line and "[实付金额]" in line for line in lines)
    lines.clear()
    status = run_import_command(brand.org, FIXTURES / "orders.xlsx", "orders", live="LIMPORT1",
                                maps=["实付款=amount"], echo=lines.append)
    assert status == 0 and "接受 accepted: 3" in lines and "重复 duplicates: 0" in lines


@pytest.mark.slow
def test_the_import_benchmark_runs_and_every_row_arrives():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, str(root / "bench" / "import_rows.py"), "--rows", "3000"],
                         capture_output=True, text=True, timeout=300, cwd=root)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "3,000" in run.stdout and "peak RSS MB" in run.stdout


def test_an_explicit_mapping_wins_over_the_usual_header():
    columns = map_headers(["订单号", "平台订单号", "支付时间", "实付金额", "openid"], "orders",
                          {"平台订单号": "order"}, live_given=True)
    assert columns.fields["order"] == 1 and columns.ignored == ["订单号"]


def test_the_import_command_checks_first_imports_then_counts_duplicates(brand, live):
    from click.testing import CliRunner

    from liveloop.cli import main

    def run(*args):
        return CliRunner().invoke(main, ["import", *map(str, args), "--org", brand.org.slug,
                                         "--kind", "orders", "--live", "LIMPORT1"])

    bad = run(FIXTURES / "orders_bad.csv", "--dry-run")
    assert bad.exit_code == 1
    assert Event.objects.for_org(brand.org).count() == 0
    good = run(FIXTURES / "orders_gbk.csv")
    assert good.exit_code == 0, good.output
    stored = Event.objects.for_org(brand.org).count()
    assert stored > 0
    again = run(FIXTURES / "orders_gbk.csv")
    assert again.exit_code == 0 and Event.objects.for_org(brand.org).count() == stored
