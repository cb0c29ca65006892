"""The identity documents of the tax report, and a resident ID's check digit (GB 11643)."""
import pytest

from liveloop.rules.tax_identity import (HK_MACAO_PERMIT, PASSPORT, RESIDENT_ID, InvalidIdNumber,
                                         clean_id_number)


@pytest.mark.parametrize("typed, stored", [
    ("11010519491231002X", "11010519491231002X"),
    ("110105 19491231 002x", "11010519491231002X"),  # spaces and a lower-case x, as people type
    ("320106199003071234", "320106199003071234"),
])
def test_a_resident_id_with_its_check_digit_is_kept_in_one_form(typed, stored):
    assert clean_id_number(RESIDENT_ID, typed) == stored


@pytest.mark.parametrize("number, code", [
    ("110105194912310021", "checksum"),  # one digit off: the check digit no longer follows
    ("11010519491231002", "shape"),
    ("1101051949123100AX", "shape"),
])
def test_a_wrong_resident_id_is_refused_with_its_reason(number, code):
    with pytest.raises(InvalidIdNumber) as refused:
        clean_id_number(RESIDENT_ID, number)
    assert refused.value.code == code


def test_other_documents_are_checked_by_their_shape():
    assert clean_id_number(HK_MACAO_PERMIT, "h12345678") == "H12345678"
    assert clean_id_number(PASSPORT, "E12345678") == "E12345678"
    with pytest.raises(InvalidIdNumber):
        clean_id_number(HK_MACAO_PERMIT, "X12345678")
    with pytest.raises(InvalidIdNumber):
        clean_id_number("driving_licence", "12345678")
