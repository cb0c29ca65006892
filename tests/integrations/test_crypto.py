"""Safe-mode crypto against Tencent's published sample vector, and tampering."""
import base64

import pytest

from liveloop.integrations.wechat.crypto import AppIdError, CryptoError, PushCrypto, signature

# From the official WXBizMsgCrypt sample (Sample.py): token, key, appid, signed ciphertext.
VECTOR_TOKEN = "spamtest"
VECTOR_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
VECTOR_APPID = "wx2c2769f8efd9abc2"
VECTOR_TIMESTAMP, VECTOR_NONCE = "1409735669", "1320562132"
VECTOR_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
VECTOR_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def vector_crypto(appid=VECTOR_APPID):
    return PushCrypto(VECTOR_TOKEN, VECTOR_KEY, appid)


def test_the_published_vector_verifies_and_decrypts():
    crypto = vector_crypto()
    assert crypto.message_check(VECTOR_TIMESTAMP, VECTOR_NONCE, VECTOR_ENCRYPT, VECTOR_SIGNATURE)
    plain = crypto.decrypt(VECTOR_ENCRYPT)
    assert "<Content><![CDATA[abcdteT]]></Content>" in plain
    assert "<MsgId>6054768590064713728</MsgId>" in plain


def test_a_changed_signature_part_fails():
    crypto = vector_crypto()
    assert not crypto.message_check(VECTOR_TIMESTAMP, "1320562133", VECTOR_ENCRYPT, VECTOR_SIGNATURE)
    assert not crypto.message_check(VECTOR_TIMESTAMP, VECTOR_NONCE, VECTOR_ENCRYPT, None)


def test_round_trip_keeps_chinese_and_big_ids():
    crypto = vector_crypto()
    message = '{"order_id": 3721459812034568192, "title": "真丝围巾"}'
    assert crypto.decrypt(crypto.encrypt(message)) == message


def test_padding_fills_32_byte_blocks():
    crypto = vector_crypto()
    for size in range(0, 70):
        data = base64.b64decode(crypto.encrypt("x" * size))
        assert len(data) % 32 == 0


def test_a_tampered_ciphertext_is_refused():
    crypto = vector_crypto()
    data = bytearray(base64.b64decode(crypto.encrypt('{"Event": "channels_ec_order_pay"}')))
    data[-1] ^= 0x01
    with pytest.raises(CryptoError):
        crypto.decrypt(base64.b64encode(bytes(data)).decode())


def test_garbage_is_refused():
    crypto = vector_crypto()
    for garbage in ("not base64!!", "", base64.b64encode(b"short").decode()):
        with pytest.raises(CryptoError):
            crypto.decrypt(garbage)


def test_another_appid_is_refused():
    with pytest.raises(AppIdError):
        vector_crypto(appid="wx0000000000000000").decrypt(VECTOR_ENCRYPT)


def test_a_key_of_the_wrong_length_is_refused():
    with pytest.raises(CryptoError):
        PushCrypto("t", VECTOR_KEY[:-1], VECTOR_APPID)


def test_signature_sorts_its_parts():
    assert signature("b", "a", "c") == signature("c", "b", "a")
