"""Phone numbers as people type them and as Liveloop stores them: one canonical form, so the
same person typed two ways ("+86 138-0013-8000", "13800138000") is found as one promoter."""
import re

# Mainland mobile numbers: 11 digits starting 13–19. A leading +86/86 and spaces, dashes or
# brackets are what people type or paste from contacts.
_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-()]")


def normalise_mobile(raw: str) -> str | None:
    """"+86 138-0013-8000" → "13800138000"; None when it is not a mainland mobile number."""
    phone = _SEPARATORS.sub("", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    return phone if _MOBILE.fullmatch(phone) else None


def canonical_phone(raw: str) -> str:
    """The stored form: a mainland mobile as its 11 digits, any other number (the API and imports
    accept foreign ones) with its separators removed; "" stays ""."""
    return normalise_mobile(raw) or _SEPARATORS.sub("", raw or "")
