"""Malformed and hostile spreadsheets, built in memory, for the upload and import tests."""
import io
import struct
import zipfile

from openpyxl import Workbook


def workbook(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def with_part(data: bytes, name: str, content: bytes) -> bytes:
    """A real workbook with one part replaced (or added)."""
    return _zip({**_parts(data), name: content})


def without_part(data: bytes, name: str) -> bytes:
    return _zip({k: v for k, v in _parts(data).items() if k != name})


def content_types_not_xml() -> bytes:
    """The issue's reproduction: a zip whose [Content_Types].xml is not XML."""
    return with_part(workbook([["reference", "status"]]), "[Content_Types].xml", b"this is not < xml")


def truncated() -> bytes:
    data = workbook([["reference", "status"], *([f"S{i:05d}", "成功"] for i in range(200))])
    return data[: len(data) // 2]


def zip_bomb(expanded: int) -> bytes:
    """A workbook whose sheet inflates to `expanded` bytes of spaces (valid XML whitespace),
    a few kilobytes on the wire per 10 MB."""
    data = workbook([["reference", "status"]])
    sheet = _parts(data)["xl/worksheets/sheet1.xml"]
    return with_part(data, "xl/worksheets/sheet1.xml", sheet + b" " * expanded)


def lying_zip_bomb(expanded: int, declared: int = 2000) -> bytes:
    """A sheet that inflates to `expanded` bytes while the zip's directory (central and local
    headers) declares `declared`: the size check alone passes it."""
    data = bytearray(zip_bomb(expanded))
    target = b"xl/worksheets/sheet1.xml"
    for signature, size_at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        start = 0
        while (at := data.find(signature, start)) != -1:
            name_length = struct.unpack_from("<H", data, at + (28 if signature == b"PK\x01\x02" else 26))[0]
            name_at = at + (46 if signature == b"PK\x01\x02" else 30)
            if bytes(data[name_at:name_at + name_length]) == target:
                struct.pack_into("<I", data, at + size_at, declared)
            start = at + 4
    return bytes(data)


def billion_laughs() -> bytes:
    """Entities expanding exponentially (10⁹ "lol"s) in a cell of the sheet."""
    entities = b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10) for i in range(1, 10))
    sheet = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY lol0 "lol">' + entities + b']>'
             b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             b'<row r="1"><c r="A1" t="inlineStr"><is><t>reference</t></is></c></row>'
             b'<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>')
    return with_part(workbook([["reference"]]), "xl/worksheets/sheet1.xml", sheet)


def endless_rows() -> bytes:
    """A sheet claiming 16,384 columns and a cell on row 99,999,999: a few hundred bytes."""
    data = workbook([["reference", "status"]])
    sheet = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
             b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD99999999"/>'
             b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>reference</t></is></c>'
             b'<c r="B1" t="inlineStr"><is><t>status</t></is></c></row>'
             b'<row r="99999999"><c r="XFD99999999" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>')
    return with_part(data, "xl/worksheets/sheet1.xml", sheet)


def bad_sheet_xml() -> bytes:
    data = workbook([["reference", "status"], ["S1", "成功"]])
    return with_part(data, "xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row r='1'><c")


MALFORMED = {
    "not a zip": b"reference,status\nS1,ok\n",
    "empty": b"",
    "truncated": truncated(),
    "content types not XML": content_types_not_xml(),
    "no content types": without_part(workbook([["a"]]), "[Content_Types].xml"),
    "no workbook part": without_part(workbook([["a"]]), "xl/workbook.xml"),
    "sheet XML cut off": bad_sheet_xml(),
    "billion laughs": billion_laughs(),
    "lying zip bomb": lying_zip_bomb(60 * 1024 * 1024),
}
