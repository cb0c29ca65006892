"""The platform tax report (互联网平台企业涉税信息报送, State Council Decree 810 and the State
Taxation Administration's announcement 2025 No. 15): per month and per promoter, the income
paid through the platform, the individual income tax withheld and the payments made, with the
identity the report names the person by.

Computed from the statements (integer fen), never stored: a statement's month is the month its
settlement was made in, in the organisation's zone (one "payment", 每次, of labour
remuneration: money.settlement.month_tax). Which fields and what rounding:
docs/decisions.md "The platform tax report".

- income (收入额): the month's statements with a positive gross, summed. A statement whose
  clawbacks exceed its commission pays nothing and carries the shortfall into the next
  statement, which is smaller by it: counting negative grosses as well would subtract the
  shortfall twice.
- withheld (已扣缴税额): the tax of those statements.
- paid (已支付金额): what the month's statements paid out (paid state), and how many payments.

A promoter with income and no legal name or ID number is reported with those cells empty and
listed as missing: the report is incomplete until finance fills them in, never short of a person.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum

from liveloop.money.models import Statement
from liveloop.promoters.models import Promoter
from liveloop.rules.tax_identity import HK_MACAO_PERMIT, ID_TYPES, RESIDENT_ID, TAIWAN_PERMIT

PERIOD = re.compile(r"(?P<year>20\d\d)-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))")
INCOME_KIND = "劳务报酬所得"  # what commission paid to an individual promoter is, for the tax


@dataclass
class TaxRow:
    month: str
    promoter: Promoter
    income: int  # fen
    withheld: int
    paid: int
    payments: int
    statements: int

    @property
    def missing(self) -> bool:
        return not (self.promoter.legal_name and self.promoter.id_type and self.promoter.id_number)


@dataclass
class TaxReport:
    period: str
    months: list
    rows: list = field(default_factory=list)

    @property
    def missing(self) -> list[Promoter]:
        seen, out = set(), []
        for row in self.rows:
            if row.missing and row.promoter.pk not in seen:
                seen.add(row.promoter.pk)
                out.append(row.promoter)
        return out

    def total(self, name: str) -> int:
        return sum(getattr(row, name) for row in self.rows)


def months_of(period: str) -> list[str] | None:
    """"2026-11" → ["2026-11"]; "2026-Q4" → its three months; None when not a period."""
    match = PERIOD.fullmatch(period or "")
    if not match:
        return None
    if match["month"]:
        return [period]
    first = (int(match["quarter"]) - 1) * 3 + 1
    return [f"{match['year']}-{m:02d}" for m in range(first, first + 3)]


def report(org, period: str) -> TaxReport:
    months = months_of(period)
    if months is None:
        raise ValueError(period)
    figures = (Statement.objects.for_org(org).filter(month__in=months)
               .values("month", "promoter")
               .annotate(income=Sum("gross", filter=Q(gross__gt=0), default=0),
                         withheld=Sum("tax", default=0),
                         paid=Sum("payable", filter=Q(state=Statement.PAID), default=0),
                         payments=Count("pk", filter=Q(state=Statement.PAID, payable__gt=0)),
                         statements=Count("pk"))
               .order_by("month", "promoter"))
    figures = [f for f in figures if f["income"] or f["withheld"] or f["paid"]]
    promoters = Promoter.objects.for_org(org).in_bulk({f["promoter"] for f in figures})
    out = TaxReport(period=period, months=months)
    out.rows = [TaxRow(month=f["month"], promoter=promoters[f["promoter"]], income=f["income"],
                       withheld=f["withheld"], paid=f["paid"], payments=f["payments"],
                       statements=f["statements"]) for f in figures]
    out.rows.sort(key=lambda row: (row.month, row.promoter.code))
    return out


def _region(id_type: str, number: str) -> str:
    if id_type == RESIDENT_ID:
        return "中国"
    if id_type == HK_MACAO_PERMIT and number:
        return "中国香港" if number.startswith("H") else "中国澳门"
    if id_type == TAIWAN_PERMIT:
        return "中国台湾"
    return ""  # a foreigner's nationality is not asked for: finance adds it in the tax system


HEADERS = ("序号", "所属期", "姓名", "证件类型", "证件号码", "国家或地区", "平台内昵称", "平台内编号",
           "所得项目", "收入额（元）", "已扣缴个人所得税（元）", "已支付金额（元）", "支付笔数", "备注")
MONEY_COLUMNS = {9, 10, 11}
MISSING = "缺少身份信息：请在推广员账目页填写姓名和证件号码"


def values(tax_report: TaxReport, yuan_of):
    """The export's rows in HEADERS order; `yuan_of` turns fen into the cell's yuan (Decimal
    with two places). The ID number in full: only finance downloads it (docs/security.md)."""
    for index, row in enumerate(tax_report.rows, start=1):
        p = row.promoter
        yield [index, row.month, p.legal_name, ID_TYPES.get(p.id_type, ""), p.id_number,
               _region(p.id_type, p.id_number), p.name, p.code, INCOME_KIND,
               yuan_of(row.income), yuan_of(row.withheld), yuan_of(row.paid), row.payments,
               MISSING if row.missing else ""]
