"""Issue 14: a malformed or hostile spreadsheet given to an import is refused with the reason
(ImportFileError, which the CLI prints) before anything is written — never a traceback, never a
sheet expanded into memory."""
import time
from pathlib import Path

import pytest

from liveloop.events.models import Event
from liveloop.importers import readers
from liveloop.importers.readers import MAX_ROWS, ReadError, check_xlsx, open_csv, open_xlsx
from liveloop.importers.run import ImportFileError, import_file
from tests.hostile_files import MALFORMED, endless_rows, lying_zip_bomb, workbook, zip_bomb


def write(tmp_path, name, data: bytes) -> Path:
    path = Path(tmp_path) / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_workbook_is_refused_with_the_reason(brand, tmp_path, name):
    live = brand.live()
    path = write(tmp_path, "orders.xlsx", MALFORMED[name])
    with pytest.raises(ImportFileError, match="XLSX"):
        import_file(brand.org, path, "orders", live=live.public_id)
    assert not Event.objects.filter(org=brand.org, source="import").exists()


def test_a_zip_bomb_is_refused_from_its_directory_before_openpyxl_opens_it(brand, tmp_path, monkeypatch):
    import openpyxl

    def must_not_open(*args, **kwargs):
        raise AssertionError("openpyxl opened a workbook the size check should have refused")

    monkeypatch.setattr(openpyxl, "load_workbook", must_not_open)
    data = zip_bomb(readers.XLSX_MAX_EXPANDED + 1024)
    assert len(data) < readers.XLSX_MAX_EXPANDED // 500  # small on the wire
    path = write(tmp_path, "bomb.xlsx", data)
    with pytest.raises(ReadError, match="expands to") as caught:
        check_xlsx(path)
    assert caught.value.code == "too_large"
    with pytest.raises(ImportFileError, match="expands to .* more than the 268,435,456 allowed"):
        import_file(brand.org, path, "orders", live=brand.live().public_id)


def test_a_zip_that_lies_about_its_sizes_is_stopped_at_the_declared_size(tmp_path):
    # The directory says 2,000 bytes; zipfile inflates no further and fails the CRC.
    path = write(tmp_path, "liar.xlsx", lying_zip_bomb(50 * 1024 * 1024))
    check_xlsx(path)  # the directory alone looks fine
    with pytest.raises(ReadError, match="not a readable XLSX workbook"):
        with open_xlsx(path, progress=False) as table:
            list(table.rows)


def test_a_sheet_claiming_endless_rows_and_columns_stops_at_excels_limits(tmp_path):
    path = write(tmp_path, "endless.xlsx", endless_rows())
    with open_xlsx(path, progress=False) as table:
        assert table.header == ["reference", "status"]  # not 16,384 columns
        with pytest.raises(ReadError, match=f"more than {MAX_ROWS:,} rows") as caught:
            list(table.rows)
    assert caught.value.code == "too_large"


def test_rows_are_read_only_as_wide_as_the_header(tmp_path):
    path = write(tmp_path, "wide.xlsx", workbook([["订单号", "支付时间", None, None],
                                                   ["A1", "2026-11-20 20:00", None, None],
                                                   [None, None, None, None],
                                                   ["A2", "2026-11-20 20:01"] + [None] * 300 + ["far"]]))
    with open_xlsx(path, progress=False) as table:
        assert table.header == ["订单号", "支付时间"]
        assert list(table.rows) == [(2, ["A1", "2026-11-20 20:00"]), (4, ["A2", "2026-11-20 20:01"])]


@pytest.mark.parametrize("data, reason", [
    (b"\xff\xfe" + "订单号,支付时间\n".encode("utf-16-le"), "not valid"),
    ("订单号,支付时间\n\"A1,2026".encode() + b"x" * 200_000, "row 2"),
], ids=["utf-16", "an unclosed quote past the field limit"])
def test_a_broken_csv_names_the_row(tmp_path, data, reason):
    path = write(tmp_path, "orders.csv", data)
    with pytest.raises(ReadError, match=reason):
        with open_csv(path, progress=False) as table:
            list(table.rows)
