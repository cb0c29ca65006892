"""WeChat message push safe mode (安全模式): signatures and AES-256-CBC, per the published recipe.

key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 padding to 32-byte blocks;
plaintext = 16 random bytes + 4-byte big-endian length + message + appid.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CryptoError(ValueError):
    """The ciphertext is not a message of this shop's (bad base64, padding, length)."""


class AppIdError(CryptoError):
    """Decrypted fine, but for another appid."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(str(p) for p in parts)).encode()).hexdigest()


def signature_matches(expected_parts: tuple[str, ...], given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(signature(*expected_parts), given.lower())


def aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise CryptoError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise CryptoError("EncodingAESKey is not base64") from None
    if len(key) != 32:
        raise CryptoError("EncodingAESKey must decode to 32 bytes")
    return key


class PushCrypto:
    def __init__(self, token: str, encoding_aes_key: str, appid: str):
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.appid = appid

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random: bytes | None = None) -> str:
        body = message.encode()
        plain = (random or os.urandom(16)) + struct.pack(">I", len(body)) + body + self.appid.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("Encrypt is not base64") from None
        if not data or len(data) % 16:
            raise CryptoError("Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CryptoError("too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CryptoError("length past the end")
        try:
            message = plain[20:20 + length].decode()
            appid = plain[20 + length:].decode()
        except UnicodeDecodeError:
            raise CryptoError("not UTF-8") from None
        if not hmac.compare_digest(appid.encode(), self.appid.encode()):
            raise AppIdError("appid does not match the shop's")
        return message

    def url_check(self, timestamp: str, nonce: str, given: str | None) -> bool:
        return signature_matches((self.token, timestamp, nonce), given)

    def message_check(self, timestamp: str, nonce: str, encrypted: str, given: str | None) -> bool:
        return signature_matches((self.token, timestamp, nonce, encrypted), given)
