"""Streaming readers: one row at a time, whatever the file's size.

CSV is read through the csv module over a text stream; XLSX through openpyxl's read-only mode,
which parses the sheet's XML as it goes instead of building the workbook in memory, after the
zip's declared sizes are checked (a zip bomb is refused before anything is inflated).
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SAMPLE_BYTES = 1 << 20
CHUNK_BYTES = 1 << 16
PROGRESS_EVERY = 1000


class ReadError(ValueError):
    """The file cannot be read. `code` says why, for a page to put in the user's language:
    "unreadable" (not the format, damaged, truncated) or "too_large" (expands beyond a limit)."""

    def __init__(self, message: str, code: str = "unreadable"):
        super().__init__(message)
        self.code = code


@dataclass
class Table:
    header: list
    rows: Iterator[tuple[int, list]]  # (row number in the file, the header being row 1; cells)


def detect_encoding(path) -> str:
    """UTF-8 (with or without BOM) when the first megabyte decodes as such, else GB18030: Excel
    on a Chinese Windows saves CSV in GBK, and GB18030 is its superset."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    with open(path, "rb") as handle:
        # In chunks, decoding and dropping: the check costs no more memory than a chunk.
        for _ in range(SAMPLE_BYTES // CHUNK_BYTES):
            chunk = handle.read(CHUNK_BYTES)
            if not chunk:
                break
            try:
                decoder.decode(chunk, final=False)  # a chunk may end inside a character
            except UnicodeDecodeError:
                return "gb18030"
    return "utf-8-sig"


def _bar(total: int | None, unit: str, progress: bool | None):
    from tqdm import tqdm

    enabled = sys.stderr.isatty() if progress is None else progress
    return tqdm(total=total, unit=unit, unit_scale=True, disable=not enabled, file=sys.stderr,
                desc="导入 import")


def _blank(cells) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


@contextmanager
def open_csv(path, progress: bool | None = None, encoding: str | None = None):
    encoding = encoding or detect_encoding(path)
    raw = open(path, "rb")
    bar = _bar(os.path.getsize(path), "B", progress)
    try:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text)
        try:
            header = next(reader, None)
        except UnicodeDecodeError:
            raise ReadError(f"row 1: not valid {encoding} text (save the file as UTF-8 CSV)") from None
        except csv.Error as error:
            raise ReadError(f"row 1: {error}") from None
        if header is None:
            raise ReadError("the file is empty")

        def rows():
            number = 1
            try:
                for number, cells in enumerate(reader, start=2):
                    if number % PROGRESS_EVERY == 0:
                        bar.update(raw.tell() - bar.n)
                    if not _blank(cells):
                        yield number, cells
            except UnicodeDecodeError:
                raise ReadError(f"row {number + 1}: not valid {encoding} text") from None
            except csv.Error as error:
                raise ReadError(f"row {number + 1}: {error}") from None
            bar.update(raw.tell() - bar.n)

        yield Table(header, rows())
    finally:
        bar.close()
        raw.close()


# An XLSX file is a zip of XML parts, and what it expands to is not what it weighs: a 5 MB upload
# can declare gigabytes. Before openpyxl opens it, the zip's own directory is checked; zipfile
# never inflates a part past its declared size (it stops there and fails the CRC), so these
# limits hold even when the directory lies.
XLSX_MAX_EXPANDED = 256 * 1024 * 1024  # all parts together, as declared
XLSX_MAX_PARTS = 10_000
# Shared strings are the one part openpyxl's read-only mode keeps whole in memory.
XLSX_MAX_SHARED_STRINGS = 64 * 1024 * 1024
# A sheet's <dimension> (and a cell at column XFD) can claim 16,384 columns and any row number:
# rows are read at most this wide and stop at Excel's own last row.
MAX_COLUMNS = 256
MAX_ROWS = 1_048_576


def check_xlsx(source, max_expanded: int = XLSX_MAX_EXPANDED) -> None:
    """Raise ReadError unless `source` (a path or a binary file) is a zip with an XLSX's
    content-types part whose declared sizes stay within the limits. Reads only the directory."""
    try:
        with zipfile.ZipFile(source) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ReadError("not an XLSX file: not a readable zip archive (damaged, truncated or another "
                        "format; an .xls or a password-protected workbook must be saved as .xlsx)") from None
    if len(parts) > XLSX_MAX_PARTS:
        raise ReadError(f"not an XLSX file: {len(parts):,} parts in the archive (at most {XLSX_MAX_PARTS:,})",
                        "too_large")
    names = {part.filename for part in parts}
    if "[Content_Types].xml" not in names:
        raise ReadError("not an XLSX file: the archive has no [Content_Types].xml")
    expanded = sum(part.file_size for part in parts)
    if expanded > max_expanded:
        raise ReadError(f"the workbook expands to {expanded:,} bytes, more than the {max_expanded:,} "
                        "allowed: split it or save it as CSV", "too_large")
    strings = sum(part.file_size for part in parts if part.filename.lower().endswith("sharedstrings.xml"))
    if strings > XLSX_MAX_SHARED_STRINGS:
        raise ReadError(f"the workbook's text table expands to {strings:,} bytes, more than the "
                        f"{XLSX_MAX_SHARED_STRINGS:,} allowed: save it as CSV", "too_large")


def _unreadable(where: str, error: Exception) -> ReadError:
    # openpyxl over hostile input raises whatever its parser or zipfile raises (ParseError,
    # BadZipFile for a CRC, KeyError for a missing part, ValueError, defusedxml's refusals…):
    # all mean the same to the user, a file that is not a readable workbook.
    detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    return ReadError(f"{where}: not a readable XLSX workbook ({detail})")


@contextmanager
def open_xlsx(path, progress: bool | None = None, max_expanded: int = XLSX_MAX_EXPANDED):
    """The first sheet, streamed. `path` may also be a binary file object (an upload)."""
    import openpyxl

    check_xlsx(path, max_expanded)
    if hasattr(path, "seek"):
        path.seek(0)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 (see _unreadable)
        raise _unreadable("the workbook", error) from None
    try:
        if not workbook.worksheets:
            raise ReadError("the workbook has no sheet")
        sheet = workbook.worksheets[0]
        try:
            declared = sheet.max_row
            sheet.reset_dimensions()  # trust the rows present, not the <dimension> claimed
            first = next(sheet.iter_rows(max_row=1, max_col=MAX_COLUMNS, values_only=True), None)
        except ReadError:
            raise
        except Exception as error:  # noqa: BLE001
            raise _unreadable("row 1", error) from None
        header = list(first or ())
        while header and (header[-1] is None or (isinstance(header[-1], str) and not header[-1].strip())):
            header.pop()
        if not header:
            raise ReadError("the first sheet is empty")
        bar = _bar(declared - 1 if declared and declared <= MAX_ROWS else None, "行", progress)
        values = sheet.iter_rows(min_row=2, max_col=len(header), values_only=True)

        def rows():
            number = 1
            try:
                for number, cells in enumerate(values, start=2):
                    if number > MAX_ROWS:
                        raise ReadError(f"more than {MAX_ROWS:,} rows: split the file", "too_large")
                    bar.update(1)
                    if not _blank(cells):
                        yield number, list(cells)
            except ReadError:
                raise
            except Exception as error:  # noqa: BLE001
                raise _unreadable(f"row {number + 1}", error) from None

        try:
            yield Table(header, rows())
        finally:
            bar.close()
    finally:
        workbook.close()


def open_table(path, progress: bool | None = None):
    """The reader for the file's type, by extension: .xlsx/.xlsm, else CSV."""
    suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
    if suffix in ("xlsx", "xlsm"):
        return open_xlsx(path, progress)
    if suffix == "xls":
        raise ReadError("old .xls files are not supported: save as .xlsx or CSV")
    return open_csv(path, progress)
