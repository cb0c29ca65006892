"""WeChat Pay API v3's signatures and encryption (liveloop/integrations/wechatpay/protocol.py):
what one side signs or seals, the other checks or opens, and a change anywhere is refused."""
import base64
import json

import pytest

from liveloop.integrations.wechatpay import protocol

KEY, PUBLIC = protocol.new_key_pair()
V3 = "0123456789abcdef0123456789ABCDEF"
NOW = 1_764_700_000


def test_a_response_signed_now_checks_and_any_change_or_age_is_refused():
    body = json.dumps({"out_bill_no": "S1A1", "state": "SUCCESS"})
    headers = protocol.signed_headers(KEY, "PUB_KEY_ID_1", body, NOW)
    protocol.check_signed(headers, body, PUBLIC, "PUB_KEY_ID_1", NOW + 299)
    for changed in (body.replace("SUCCESS", "FAIL"), body + " "):
        with pytest.raises(protocol.SignatureError):
            protocol.check_signed(headers, changed, PUBLIC, "PUB_KEY_ID_1", NOW)
    with pytest.raises(protocol.SignatureError):  # replayed six minutes later
        protocol.check_signed(headers, body, PUBLIC, "PUB_KEY_ID_1", NOW + 301)
    with pytest.raises(protocol.SignatureError):  # another key id than the one configured
        protocol.check_signed(headers, body, PUBLIC, "PUB_KEY_ID_2", NOW)
    with pytest.raises(protocol.SignatureError):
        protocol.check_signed({**headers, "Wechatpay-Signature": ""}, body, PUBLIC, "PUB_KEY_ID_1", NOW)


def test_the_authorization_header_carries_what_the_other_side_verifies():
    header = protocol.authorization("1900000109", "SERIAL1", KEY, "POST", "/v3/x", '{"a":1}', NOW, nonce="N1")
    fields = protocol.parse_authorization(header)
    assert header.startswith("WECHATPAY2-SHA256-RSA2048 ")
    assert (fields["mchid"], fields["serial_no"], fields["timestamp"], fields["nonce_str"]) == \
        ("1900000109", "SERIAL1", str(NOW), "N1")
    protocol.verify(PUBLIC, protocol.request_message("POST", "/v3/x", str(NOW), "N1", '{"a":1}'), fields["signature"])
    with pytest.raises(protocol.SignatureError):  # the same signature does not cover another path
        protocol.verify(PUBLIC, protocol.request_message("POST", "/v3/y", str(NOW), "N1", '{"a":1}'),
                        fields["signature"])


def test_a_resource_sealed_with_the_v3_key_opens_only_with_it_and_its_associated_data():
    resource = protocol.encrypt(V3, '{"state":"SUCCESS"}', "mch_payment")
    assert resource["algorithm"] == "AEAD_AES_256_GCM" and len(resource["nonce"]) == 12
    assert protocol.decrypt(V3, resource) == '{"state":"SUCCESS"}'
    for forged in ({**resource, "associated_data": "other"}, {**resource, "ciphertext": base64.b64encode(
            b"x" * 40).decode()}, {"nonce": "1"}):
        with pytest.raises(protocol.SignatureError):
            protocol.decrypt(V3, forged)
    with pytest.raises(protocol.SignatureError):
        protocol.decrypt(V3.lower(), resource)
    with pytest.raises(protocol.SignatureError):
        protocol.aes_key("short")


def test_the_receivers_name_is_sealed_for_wechat_pay_alone():
    sealed = protocol.encrypt_field(PUBLIC, "张三")
    assert "张三" not in sealed and sealed != protocol.encrypt_field(PUBLIC, "张三")  # OAEP is randomised
    assert protocol.decrypt_field(KEY, sealed) == "张三"


def test_keys_that_are_not_rsa_pem_are_refused():
    for text in ("", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"):
        with pytest.raises(protocol.SignatureError):
            protocol.private_key(text)
        with pytest.raises(protocol.SignatureError):
            protocol.public_key(text)
