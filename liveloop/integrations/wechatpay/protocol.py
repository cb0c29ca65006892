"""WeChat Pay API v3's signatures and encryption, with `cryptography` (docs/wechat.md "WeChat Pay").

- A request is signed by the merchant: RSA-SHA256 (PKCS#1 v1.5) with the merchant's API
  certificate key over "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n", sent as
  `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…`.
- A response or a callback is signed by WeChat Pay the same way over
  "TIMESTAMP\\nNONCE\\nBODY\\n" (headers Wechatpay-Signature/-Timestamp/-Nonce/-Serial), checked
  with the WeChat Pay public key whose id is the Wechatpay-Serial.
- A callback's `resource` is AEAD_AES_256_GCM under the merchant's API v3 key (32 bytes).
- A sensitive request field (the receiver's name) is RSA-OAEP (SHA-1) under the WeChat Pay
  public key, base64.

Pure functions: the client, the callback view and the emulator all use these, so the two
sides cannot drift apart.
"""
from __future__ import annotations

import base64
import re
import secrets

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW = 300  # seconds: a callback or response signed longer ago than this is refused
AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


class SignatureError(ValueError):
    """A signature, key or ciphertext that does not check out."""


def new_nonce() -> str:
    return secrets.token_hex(16).upper()


def private_key(pem: str):
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise SignatureError("not a PEM private key") from error
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise SignatureError("not an RSA key of 2048 bits or more")
    return key


def public_key(pem: str):
    try:
        if "CERTIFICATE" in pem:  # a platform certificate: its public key
            from cryptography import x509
            key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        else:
            key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as error:
        raise SignatureError("not a PEM public key or certificate") from error
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("not an RSA public key")
    return key


def new_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh 2048-bit RSA key: the emulator's and a test merchant's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def sign(key_pem: str, message: str) -> str:
    signature = private_key(key_pem).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(key_pem: str, message: str, signature: str) -> None:
    try:
        public_key(key_pem).verify(base64.b64decode(signature, validate=True), message.encode(),
                                   padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as error:
        raise SignatureError("bad signature") from error


def request_message(method: str, path: str, timestamp: str, nonce: str, body: str) -> str:
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"


def authorization(mchid: str, serial: str, key_pem: str, method: str, path: str, body: str,
                  timestamp: int, nonce: str | None = None) -> str:
    nonce = nonce or new_nonce()
    signature = sign(key_pem, request_message(method, path, str(timestamp), nonce, body))
    return (f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{serial}"')


def parse_authorization(header: str) -> dict:
    schema, _space, rest = (header or "").partition(" ")
    if schema != SCHEMA:
        raise SignatureError("not a WECHATPAY2-SHA256-RSA2048 authorization")
    return dict(AUTH_FIELD.findall(rest))


def signed_headers(key_pem: str, serial: str, body: str, timestamp: int, nonce: str | None = None) -> dict:
    """The headers WeChat Pay puts on a response or a callback."""
    nonce = nonce or new_nonce()
    return {"Wechatpay-Timestamp": str(timestamp), "Wechatpay-Nonce": nonce, "Wechatpay-Serial": serial,
            "Wechatpay-Signature": sign(key_pem, f"{timestamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Signature-Type": SCHEMA}


def check_signed(headers, body: str, public_pem: str, public_id: str, now: int) -> None:
    """Refuse a response or callback not signed with the WeChat Pay key we hold, or signed more
    than MAX_SKEW seconds from now (a replay of an old capture). `headers`: any mapping whose
    get() takes the header names (case as WeChat sends them)."""
    timestamp, nonce = headers.get("Wechatpay-Timestamp") or "", headers.get("Wechatpay-Nonce") or ""
    signature, serial = headers.get("Wechatpay-Signature") or "", headers.get("Wechatpay-Serial") or ""
    if not (timestamp and nonce and signature and serial):
        raise SignatureError("signature headers missing")
    if serial != public_id:
        raise SignatureError("signed with a key we do not know")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_SKEW:
        raise SignatureError("timestamp too old or in the future")
    verify(public_pem, f"{timestamp}\n{nonce}\n{body}\n", signature)


def aes_key(api_v3_key: str) -> bytes:
    key = api_v3_key.encode()
    if len(key) != 32:
        raise SignatureError("the API v3 key is 32 characters")
    return key


def decrypt(api_v3_key: str, resource: dict) -> str:
    try:
        return AESGCM(aes_key(api_v3_key)).decrypt(
            resource["nonce"].encode(), base64.b64decode(resource["ciphertext"], validate=True),
            (resource.get("associated_data") or "").encode()).decode()
    except (InvalidTag, KeyError, TypeError, AttributeError, ValueError) as error:
        raise SignatureError("the resource does not decrypt") from error


def encrypt(api_v3_key: str, plaintext: str, associated_data: str) -> dict:
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat's are
    ciphertext = AESGCM(aes_key(api_v3_key)).encrypt(nonce.encode(), plaintext.encode(), associated_data.encode())
    return {"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": associated_data, "nonce": nonce}


def OAEP():  # noqa: N802 - the padding WeChat Pay documents for sensitive fields
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


def encrypt_field(public_pem: str, text: str) -> str:
    return base64.b64encode(public_key(public_pem).encrypt(text.encode(), OAEP())).decode()


def decrypt_field(key_pem: str, ciphertext: str) -> str:
    try:
        return private_key(key_pem).decrypt(base64.b64decode(ciphertext, validate=True), OAEP()).decode()
    except ValueError as error:
        raise SignatureError("the field does not decrypt") from error
