"""Secrets and personal data encrypted at rest: shop Token, EncodingAESKey and AppSecret, the
WeCom callback's Token and EncodingAESKey, a WeCom channel's corp secret and access token,
webhook signing secrets, the WeChat Pay merchant's API private key and API v3 key; promoters'
phones and bank accounts, statements' payees and WeChat Pay transfers' openids.

A database dump or backup alone does not reveal them: each value is a Fernet token
(AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived with HKDF-SHA256 from
Django's SECRET_KEY (LIVELOOP_SECRET_KEY), stored as "enc1:<token>". Keys in
SECRET_KEY_FALLBACKS (LIVELOOP_SECRET_KEY_FALLBACKS) still decrypt, so the secret key can be
rotated: `liveloop reseal-secrets` then writes every value under the new key.

The values are randomised (a fresh IV each save), so these fields cannot be filtered on. A value
that must still be found (a promoter's phone) gets a KeyedHashField beside it: HMAC-SHA256 under
a second key derived from the same SECRET_KEY, equal for equal inputs, so it can be indexed and
made unique, yet a dump cannot be brute-forced through the small space of phone numbers
without the key. An empty value is stored empty: there is nothing to hide in it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc1:"
# Fixed: changing either makes every stored value unreadable.
SALT = b"liveloop-secrets-at-rest"
INFO = b"liveloop integration secrets v1"
HASH_SALT = b"liveloop-pii-index"
HASH_INFO = b"liveloop keyed hash v1"


class SecretUnreadable(ImproperlyConfigured):
    """A stored secret does not decrypt with SECRET_KEY or any of SECRET_KEY_FALLBACKS."""


def _derive(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(key) for key in keys])


def fernet() -> MultiFernet:
    # The first key encrypts; all decrypt. Cached per key tuple, so a settings override in
    # tests takes effect at once.
    return _fernet(_keys())


def _keys() -> tuple[str, ...]:
    return (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))


@lru_cache(maxsize=8)
def _hash_key(secret_key: str) -> bytes:
    # Not the encryption key: knowing one derived key gives nothing about the other.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=HASH_SALT, info=HASH_INFO).derive(secret_key.encode())


def _hmac(secret_key: str, text: str) -> str:
    return hmac.new(_hash_key(secret_key), text.encode(), hashlib.sha256).hexdigest()


def keyed_hash(text: str) -> str:
    """The index value of `text` under the current SECRET_KEY."""
    return _hmac(settings.SECRET_KEY, text)


def keyed_hashes(text: str) -> list[str]:
    """Its index values under SECRET_KEY and every fallback: between a key rotation and
    `liveloop reseal-secrets` a row may still carry the old key's hash."""
    return list(dict.fromkeys(_hmac(key, text) for key in _keys()))


def is_sealed(stored: str | None) -> bool:
    return bool(stored) and stored.startswith(PREFIX)


def seal(plain: str) -> str:
    return PREFIX + fernet().encrypt(plain.encode()).decode("ascii")


def unseal(stored: str) -> str:
    if not is_sealed(stored):
        return stored  # written before encryption at rest (the migration seals those rows)
    try:
        return fernet().decrypt(stored[len(PREFIX):].encode("ascii")).decode()
    except (InvalidToken, ValueError):
        # Never the value in the message: it is a secret even when unreadable.
        raise SecretUnreadable(
            "a stored secret or personal data does not decrypt: was LIVELOOP_SECRET_KEY changed? Put the "
            "previous key in LIVELOOP_SECRET_KEY_FALLBACKS and run `liveloop reseal-secrets`") from None


class EncryptedTextField(models.TextField):
    """A text field whose value is sealed on the way to the database and unsealed on the way
    back; the model attribute always holds the plain value. max_length, if given, bounds the
    plain value (forms, validation), not the column."""

    description = "Text encrypted at rest"

    def from_db_value(self, value, expression, connection):
        return unseal(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return seal(value) if value else value

    def get_lookup(self, lookup_name):
        # A sealed value never equals a fresh sealing of the same text: refuse lookups that
        # would silently match nothing.
        if lookup_name not in ("isnull",):
            return None
        return super().get_lookup(lookup_name)


class KeyedHashField(models.CharField):
    """The keyed hash of another field of the row, set on every save (and bulk_create) from
    that field's plain value, for lookups and unique constraints on a value stored sealed.
    `scope` names another attribute mixed into the hash (the organisation): the same phone in
    two organisations gives two unrelated hashes, so a dump does not link the people across
    tenants. Written only through save(), bulk_create() and reseal_rows(): an update() or
    bulk_update() of the source field alone would leave the hash stale.

    `tail` hashes only the last `tail` characters (a phone's last four digits, which people
    search by): a different message from the whole value's, so the two never compare equal."""

    description = "Keyed hash (HMAC-SHA256) of another field"

    def __init__(self, *args, source: str, scope: str, tail: int = 0, **kwargs):
        self.source, self.scope, self.tail = source, scope, tail
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source, scope=self.scope)
        if self.tail:
            kwargs["tail"] = self.tail
        return name, path, args, kwargs

    def message(self, scope, plain: str) -> str:
        if self.tail:
            return f"{scope}:tail{self.tail}:{plain[-self.tail:]}"
        return f"{scope}:{plain}"

    def compute(self, instance) -> str:
        plain = getattr(instance, self.source)
        return keyed_hash(self.message(getattr(instance, self.scope), plain)) if plain else ""

    def candidates(self, scope, plain: str) -> list[str]:
        """The values a row holding `plain` in `scope` may carry (every key still accepted)."""
        return keyed_hashes(self.message(scope, plain)) if plain else []

    def pre_save(self, instance, add):
        value = self.compute(instance)
        setattr(instance, self.attname, value)
        return value


# Data migrations and `liveloop reseal-secrets`: rows are rewritten one by one through the
# field, so a plain (pre-encryption) value is sealed and a sealed one is sealed again under the
# current key; the values never leave this process.

def sealed_fields() -> list[tuple[type, list[str]]]:
    """Every model with encrypted fields, and those fields' names (its keyed hashes are
    rewritten with them)."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def reseal_rows(model, fields: list[str]) -> int:
    """Seal `fields` again under the current key, and recompute the model's keyed hashes
    under it too (after a rotation they were made with the old key)."""
    hashed = [f for f in model._meta.concrete_fields if isinstance(f, KeyedHashField)]
    needed = {*fields, *(f.source for f in hashed), *(f.scope for f in hashed)}
    rows = 0
    for row in model._base_manager.order_by("pk").only("pk", *needed).iterator(chunk_size=500):
        values = {name: getattr(row, name) for name in fields}
        values.update({f.name: f.compute(row) for f in hashed})
        model._base_manager.filter(pk=row.pk).update(**values)
        rows += 1
    return rows


def unseal_rows(model, fields: list[str], connection) -> None:
    """The reverse migration: plain values back, written past the field (which would seal them)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [model._meta.get_field(name).column for name in fields]
    assignments = ", ".join(f"{connection.ops.quote_name(column)} = %s" for column in columns)
    with connection.cursor() as cursor:
        for row in model._base_manager.order_by("pk").only("pk", *fields).iterator(chunk_size=500):
            cursor.execute(f"UPDATE {table} SET {assignments} WHERE "
                           f"{connection.ops.quote_name(model._meta.pk.column)} = %s",
                           [getattr(row, name) for name in fields] + [row.pk])
