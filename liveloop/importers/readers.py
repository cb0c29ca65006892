"""Streaming readers: one row at a time, whatever the file's size.

CSV is read through the csv module over a text stream; XLSX through openpyxl's read-only mode,
which parses the sheet's XML as it goes instead of building the workbook in memory.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SAMPLE_BYTES = 1 << 20
CHUNK_BYTES = 1 << 16
PROGRESS_EVERY = 1000


class ReadError(ValueError):
    pass


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
        except (UnicodeDecodeError, csv.Error) as error:
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


@contextmanager
def open_xlsx(path, progress: bool | None = None):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError and its own errors alike
        raise ReadError(f"not a readable XLSX file: {error}") from None
    try:
        sheet = workbook.worksheets[0]
        total = sheet.max_row - 1 if sheet.max_row else None
        bar = _bar(total, "行", progress)
        values = sheet.iter_rows(values_only=True)
        header = next(values, None)
        if header is None:
            raise ReadError("the first sheet is empty")

        def rows():
            for number, cells in enumerate(values, start=2):
                bar.update(1)
                if not _blank(cells):
                    yield number, list(cells)

        try:
            yield Table(list(header), rows())
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
