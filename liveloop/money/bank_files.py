"""A payout batch as a bank's own batch-payment (代发) file, beside the generic batch file.

One layout: 招商银行 企业网银 批量代发 (代发其他 / 劳务费) import — its columns in its order, the
amount as yuan with two decimals, the statement number in 注释 (the bank keeps it on each result
row, which is how its result file finds our statement again: money.payouts.read_results). As
XLSX (the import takes Excel) and as GBK text for the bank's text import. Where the layout came
from and what is not certain: docs/decisions.md "Bank batch file: 招商银行 代发".

A statement paid to a WeChat openid has no place in a bank file: it is left out and counted
(the page says how many). A bank row needs the account holder's legal name (户名): a promoter
without one stops the file (the bank would refuse the row), naming who is missing it.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from openpyxl import Workbook

from liveloop.lib.numbers import yuan_amount
from liveloop.lib.sheets import csv_cell, text_cell
from liveloop.money.models import PayoutBatch

CMB = "cmb"
BANK_NAMES = {CMB: "招商银行"}
# 招商银行 企业网银 → 代发 → 批量代发 → 导入文件: the template's header row, in its order. The two
# 他行 columns are filled only for a card of another bank (跨行代发).
CMB_HEADERS = ("账号", "户名", "金额", "注释", "他行户口开户行", "他行户口开户地")
# 注释 holds "佣金 <statement number>": the purpose in words, and the key the results come back by.
PURPOSE = "佣金"
CMB_NOTE_MAX = 30  # characters the 注释 field takes (a statement number is ~15)


@dataclass
class BankFile:
    rows: list = field(default_factory=list)  # [账号, 户名, 金额, 注释, 开户行, 开户地], text
    total: int = 0  # fen, of the rows
    left_out: int = 0  # statements paid to a WeChat openid: not for the bank
    missing_name: list = field(default_factory=list)  # promoter codes without a legal name


def is_own_bank(bank_name: str, bank: str = CMB) -> bool:
    """A card of the paying bank itself: no 他行 columns."""
    return BANK_NAMES[bank] in bank_name or bank_name.strip().upper() in {"CMB", "招行"}


def for_the_bank(statement, promoter) -> bool:
    """Paid to a bank account, not to the promoter's WeChat openid (nor to nobody)."""
    return bool(statement.payee) and statement.payee != promoter.openid


def cmb_file(batch: PayoutBatch) -> BankFile:
    out = BankFile()
    for item in batch.items.select_related("statement__promoter").order_by("statement__number"):
        statement, promoter = item.statement, item.statement.promoter
        if not for_the_bank(statement, promoter):
            out.left_out += 1
            continue
        if not promoter.legal_name:
            out.missing_name.append(promoter.code)
            continue
        other = not is_own_bank(promoter.bank_name)
        out.rows.append([statement.payee, promoter.legal_name, f"{yuan_amount(item.amount, 2)}",
                         f"{PURPOSE} {statement.number}"[:CMB_NOTE_MAX],
                         promoter.bank_name if other else "", promoter.bank_branch if other else ""])
        out.total += item.amount
    return out


def cmb_text(bank_file: BankFile) -> bytes:
    """The GBK comma-separated text the bank's text import reads: the header row, then a row a
    payment. GB18030 encodes every character a name can have; for the GBK subset it is GBK."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CMB_HEADERS)
    for row in bank_file.rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue().encode("gb18030")


def cmb_xlsx(bank_file: BankFile, title: str) -> bytes:
    """One sheet, the header row then a row a payment; every cell text, so a 19-digit card
    number is not turned into 6.22E+18 and an amount keeps its two decimals."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append([text_cell(sheet, header) for header in CMB_HEADERS])
    for row in bank_file.rows:
        sheet.append([text_cell(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
