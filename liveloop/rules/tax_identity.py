"""The identity a promoter is reported under in the platform tax report (互联网平台企业涉税信息
报送, money.tax_report): which documents, and whether a number can be one. Pure: no Django.

The check digit of a resident identity card (GB 11643-1999, ISO 7064 MOD 11-2), its region and
birth date are checked by python-stdnum's `cn.ric`; the other documents by their published
shapes only (no check digit is published for them).
"""
from __future__ import annotations

import re

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

RESIDENT_ID = "resident_id"
HK_MACAO_PERMIT = "hk_macao_permit"
TAIWAN_PERMIT = "taiwan_permit"
FOREIGN_PERMANENT = "foreign_permanent"
PASSPORT = "passport"
# The documents the tax authority's natural-person records (自然人电子税务局) take for a person,
# in the order a form offers them; the Chinese words are the report's own.
ID_TYPES = {
    RESIDENT_ID: "居民身份证",
    HK_MACAO_PERMIT: "港澳居民来往内地通行证",
    TAIWAN_PERMIT: "台湾居民来往大陆通行证",
    FOREIGN_PERMANENT: "外国人永久居留身份证",
    PASSPORT: "护照",
}
SHAPES = {
    HK_MACAO_PERMIT: re.compile(r"[HM]\d{8}(\d{2})?"),
    TAIWAN_PERMIT: re.compile(r"\d{8}(\d{2})?"),
    FOREIGN_PERMANENT: re.compile(r"[A-Z]{3}\d{12}|9\d{17}"),
    PASSPORT: re.compile(r"[A-Z0-9]{5,17}"),
}


class InvalidIdNumber(ValueError):
    """`code`: "checksum" (a resident ID whose last digit does not follow from the others),
    "date" (no such birth date), "shape" (not the document's form)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def clean_id_number(id_type: str, number: str) -> str:
    """The number as stored: spaces dropped, letters upper case (the check digit X); raises
    InvalidIdNumber when it cannot be a number of that document."""
    number = re.sub(r"\s+", "", number).upper()
    if id_type == RESIDENT_ID:
        try:
            return ric.validate(number)
        except ValidationError as error:
            code = type(error).__name__
            raise InvalidIdNumber("checksum" if code == "InvalidChecksum" else
                                  "date" if code == "InvalidComponent" else "shape") from None
    shape = SHAPES.get(id_type)
    if shape is None or not shape.fullmatch(number):
        raise InvalidIdNumber("shape")
    return number
