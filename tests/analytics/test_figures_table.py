"""The promoter row's columns are listed once (analytics/figures.py); the page's table, the
CSVs, the workbook and the API read them. These pin what each copy writes, byte for byte, so
a change to the table is a change someone meant."""
import io
from types import SimpleNamespace

from django.utils import translation
from openpyxl import load_workbook

from liveloop.analytics.exports import promoter_page_csv_response, promoter_workbook, write_promoter_csv
from liveloop.analytics.figures import MONEY_KEYS, PROMOTER_KEYS
from liveloop.api.events import EVENT_SCHEMA
from liveloop.api.lives import PromoterRow
from liveloop.rules.events import EVENT_TYPES
from liveloop.web.tables import PROMOTER_COLUMNS, ROLLUP_COLUMNS

KEYS = ["promoter", "name", "team", "reservations", "entered", "buyers", "orders", "gmv", "refunded", "net",
        "follows", "captures", "self_referrals", "suspect_reservations"]
ZH = ["编号", "姓名", "门店/团队", "预约", "进房", "成交人数", "订单", "成交额", "退款", "净额", "关注", "沉淀私域",
      "本人预约", "疑似刷单预约"]
EN = ["Code", "Name", "Team / store", "Reservations", "Entered", "Buyers", "Orders", "GMV", "Refunded", "Net",
      "Follows", "Captures", "Self-referrals", "Suspect reservations"]
LIVE = SimpleNamespace(public_id="L1")
ROW = {"promoter": "P001", "name": "=张三", "team": None, "reservations": 3, "entered": 2, "buyers": 1, "orders": 1,
       "gmv": 1234567, "refunded": 5, "net": 1234562, "follows": 0, "captures": 4, "self_referrals": 1,
       "suspect_reservations": 0}


def test_the_api_csv_is_the_keys_and_fen():
    out = io.StringIO()
    write_promoter_csv([ROW], out)
    assert out.getvalue() == ("\ufeff" + ",".join(KEYS) + "\r\n"
                              + "P001,'=张三,,3,2,1,1,1234567,5,1234562,0,4,1,0\r\n")


def test_the_page_csv_is_the_labels_and_yuan_in_both_languages():
    for language, labels in (("zh-hans", ZH), ("en", EN)):
        with translation.override(language):
            body = promoter_page_csv_response(LIVE, [ROW]).content.decode("utf-8")
        assert body == ("\ufeff" + ",".join(labels) + "\r\n"
                        + "P001,'=张三,,3,2,1,1,12345.67,0.05,12345.62,0,4,1,0\r\n")


def test_the_workbook_has_the_same_headers_and_yuan_numbers():
    with translation.override("zh-hans"):
        book = load_workbook(io.BytesIO(promoter_workbook(LIVE, [ROW])))
    header, row = list(book["L1"].values)
    assert list(header) == ZH
    assert row[KEYS.index("gmv")] == 12345.67 and row[KEYS.index("name")] == "=张三"


def test_the_page_table_is_the_row_without_its_flags():
    with translation.override("zh-hans"):
        assert [(c.key, str(c.label)) for c in PROMOTER_COLUMNS] == list(zip(KEYS, ZH))[:12]
    assert [c.key for c in PROMOTER_COLUMNS if c.kind == "money"] == ["gmv", "refunded", "net"]
    assert [c.sort_field for c in PROMOTER_COLUMNS[:3]] == ["code", "name", "team"]
    assert [c.key for c in ROLLUP_COLUMNS] == KEYS[3:12]


def test_the_api_row_is_the_keys_with_text_then_integers():
    assert list(PROMOTER_KEYS) == KEYS and MONEY_KEYS == {"gmv", "refunded", "net"}
    schema = PromoterRow.model_json_schema()
    assert schema["title"] == "PromoterRow" and schema["required"] == KEYS
    assert list(schema["properties"]) == KEYS
    assert schema["properties"]["name"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Name"}
    assert schema["properties"]["net"] == {"title": "Net", "type": "integer"}
    assert schema["properties"]["promoter"]["description"] == "code; null for the unattributed row"


def test_the_api_event_types_are_the_contracts_in_its_order():
    assert EVENT_SCHEMA["properties"]["type"]["enum"] == [
        "reservation", "reservation_cancel", "room_enter", "room_leave", "order_paid", "order_refund", "follow",
        "capture", "online", "identify", "commission_order"] == list(EVENT_TYPES)
