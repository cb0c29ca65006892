"""One row of a file → one event in the contract's shape (docs/EVENTS.md), or a NewPromoter.

Every problem raises `RowError` naming the file's column, so a dry run can list row, column
and reason. Money goes from text to fen through Decimal only: a float never touches it.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from liveloop.importers.columns import HeaderMap
from liveloop.actions.promoters import NewPromoter
from liveloop.rules.dates import DateRangeError, to_utc
from liveloop.rules.events import MAX_ID
from liveloop.rules.phones import canonical_phone

CENT = Decimal("0.01")
MAX_EXACT_FLOAT = 2**53  # above this a spreadsheet number has already lost digits
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?e\+?\d+$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?\d{5,20}$")


class RowError(ValueError):
    def __init__(self, column: str, reason: str):
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


@dataclass
class Context:
    """What converting a row needs besides the row: the organisation's zone, the live for the
    whole file, and the shop sharer openids of the organisation's promoters (openid → code)."""
    zone: ZoneInfo
    live: str | None = None
    sharers: dict[str, str] | None = None


class Row:
    def __init__(self, columns: HeaderMap, cells: list):
        self.columns = columns
        self.cells = cells

    def raw(self, name: str):
        index = self.columns.fields.get(name)
        if index is None or index >= len(self.cells):
            return None
        value = self.cells[index]
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def column(self, name: str) -> str:
        return self.columns.column(name)

    def fail(self, name: str, reason: str):
        raise RowError(self.column(name), reason)

    def text(self, name: str, required: bool = False, limit: int = MAX_ID) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, "不能为空 (required)")
            return None
        if isinstance(value, bool):
            self.fail(name, "expected text, not TRUE/FALSE")
        if isinstance(value, float):
            # A long id typed into Excel is stored as a float and keeps ~15 digits.
            if not value.is_integer() or abs(value) >= MAX_EXACT_FLOAT:
                self.fail(name, "a number in the spreadsheet has lost digits: format the column as text")
            value = int(value)
        if isinstance(value, (datetime, date, time)):
            self.fail(name, "expected text, found a date")
        value = str(value)
        if _SCIENTIFIC.match(value):
            self.fail(name, f"{value!r} is in scientific notation (Excel shortened the id): "
                            "export the column as text")
        if len(value) > limit:
            self.fail(name, f"longer than {limit} characters")
        if not value.isprintable():
            self.fail(name, "contains control characters")
        return value


def parse_amount(value, fen: bool = False) -> int:
    """Yuan with up to two decimals ("¥1,299.50", "129", 12.5) → fen; a 分 column as is.
    Raises ValueError with the reason."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("不能为空 (required)")
    if isinstance(value, bool):
        raise ValueError("expected an amount, not TRUE/FALSE")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # A spreadsheet number: its shortest repr is what the cell shows ("129.5").
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    else:
        text = re.sub(r"[\s,，¥￥]|元$|^rmb|^cny", "", str(value), flags=re.IGNORECASE)
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    if number < 0:
        raise ValueError(f"{value!r}: must not be negative")
    if fen:
        if number != number.to_integral_value():
            raise ValueError(f"{value!r}: a 分 (fen) column takes whole numbers")
        return int(number)
    if number.quantize(CENT) != number:
        raise ValueError(f"{value!r}: more than two decimals (yuan are counted to the 分)")
    return int(number * 100)


def parse_at(value, zone: ZoneInfo) -> datetime:
    """A time as exports write it: "2026-11-26 20:01:02" or "2026/11/26 20:01" in the
    organisation's zone, ISO 8601 with an offset, or an Excel date cell (local time, no zone)."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, date):
        at = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace("/", "-")
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a time like 2026-11-26 20:01:02") from None
    else:
        raise ValueError("不能为空 (required)" if value in (None, "") else f"{value!r} is not a time")
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    try:
        to_utc(at)  # year 1 or 9999 is a bad row with its reason, not a crash of the import
    except DateRangeError as error:
        raise ValueError(f"{value!r}: {error}") from None
    return at


def _amount(row: Row, name: str) -> int:
    try:
        return parse_amount(row.raw(name), fen=name in row.columns.fen)
    except ValueError as error:
        row.fail(name, str(error))


def _at(row: Row, context: Context) -> str:
    try:
        return parse_at(row.raw("at"), context.zone).isoformat()
    except ValueError as error:
        row.fail("at", str(error))


def _live(row: Row, context: Context) -> str:
    live = row.text("live") or context.live
    if live is None:
        row.fail("live", "不能为空: give the column or --live")
    return live


def _promoter(row: Row, context: Context) -> str | None:
    value = row.text("promoter")
    if value is None:
        return None
    # The shop's sharer column holds an openid; the contract wants the promoter's code.
    code = (context.sharers or {}).get(value, value)
    if len(code) > 32:
        row.fail("promoter", f"{value!r} is neither a promoter code nor a known sharer openid")
    return code


def _short(text: str, room: int) -> str:
    return text if len(text) <= room else hashlib.sha256(text.encode()).hexdigest()[:32]


def order_event(row: Row, context: Context) -> dict:
    order = row.text("order", required=True, limit=64)
    event = {"id": f"import:pay:{order}", "type": "order_paid", "live": _live(row, context),
             "viewer": row.text("viewer", required=True), "order": order,
             "amount": _amount(row, "amount"), "at": _at(row, context)}
    promoter = _promoter(row, context)
    if promoter is not None:
        event["promoter"] = promoter
    return event


def refund_event(row: Row, context: Context) -> dict:
    order = row.text("order", required=True, limit=64)
    amount = _amount(row, "amount")
    at = _at(row, context)
    aftersale = row.text("aftersale", limit=MAX_ID - len("import:refund:"))
    # Without an after-sale id, the order, amount and time together name one refund.
    key = aftersale or _short(f"{order}:{amount}:{parse_at(at, context.zone).timestamp():.0f}", 100)
    return {"id": f"import:refund:{key}", "type": "order_refund", "live": _live(row, context),
            "viewer": row.text("viewer", required=True), "order": order, "amount": amount, "at": at}


def reservation_event(row: Row, context: Context) -> dict:
    live = _live(row, context)
    viewer = row.text("viewer", required=True)
    event = {"id": f"import:reservation:{live}:{_short(viewer, MAX_ID - 20 - len(live))}",
             "type": "reservation", "live": live, "viewer": viewer, "at": _at(row, context)}
    promoter = _promoter(row, context)
    if promoter is not None:
        event["promoter"] = promoter
    return event


def promoter_row(row: Row, context: Context) -> tuple[NewPromoter, str]:
    """The person to enrol, and their shop sharer openid ("" when the file has none)."""
    name = row.text("name", required=True, limit=80)
    phone = canonical_phone(row.text("phone", limit=40) or "")
    if phone and not _PHONE.match(phone):
        row.fail("phone", f"{phone!r} is not a phone number")
    code = row.text("code", limit=32) or ""
    team = row.text("team", limit=80) or ""
    openid = row.text("openid") or ""
    return NewPromoter(name=name, phone=phone, team=team, code=code), openid


CONVERTERS = {"orders": order_event, "refunds": refund_event, "reservations": reservation_event,
              "promoters": promoter_row}
