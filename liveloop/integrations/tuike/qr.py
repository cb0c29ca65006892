"""A sharer's official reservation QR code, fetched from WeChat's qrcode_url and stored the way
brand images are (promoters.images): at most MAX_BYTES read, decoded only as PNG or JPEG with
the pixel-bomb guard, re-encoded as a new PNG; nothing WeChat's server sent survives but pixels.
The file lives under MEDIA_ROOT and is served only through a promoter's own page (the poster)
or the invite link (the invite page), never by its name.
"""
from __future__ import annotations

import hashlib
import io
import urllib.parse
import urllib.request

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from liveloop.promoters import images
from liveloop.promoters.models import BrandImage

MAX_BYTES = 1024 * 1024  # a QR code PNG is tens of kilobytes
TIMEOUT = 5.0


class QrError(Exception):
    """The QR code could not be fetched or is not an image: the sync goes on without it."""


def fetch(url: str, timeout: float = TIMEOUT) -> bytes:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise QrError("qrcode_url is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except (OSError, ValueError) as error:
        raise QrError(f"qrcode_url unreachable: {type(error).__name__}") from None
    if len(data) > MAX_BYTES:
        raise QrError("qrcode_url answered more than 1 MB")
    return data


def clean(data: bytes) -> bytes:
    """The image re-encoded (a logo's rules: PNG, at most 512 px, 25 million pixels declared)."""
    try:
        return images.clean_upload(ContentFile(data, name="qr"), BrandImage.LOGO).data
    except images.ImageRejected as error:
        raise QrError(f"qrcode_url is not a usable image: {error}") from None


def save(org_id: int, live_public_id: str, sharer_appid: str, png: bytes) -> str:
    digest = hashlib.sha256(png).hexdigest()[:16]
    safe = "".join(c for c in sharer_appid if c.isalnum())[:40]
    return default_storage.save(f"tuike/{org_id}/qr-{live_public_id}-{safe}-{digest}.png", ContentFile(png))


def remove(name: str) -> None:
    if name:
        default_storage.delete(name)


def read(name: str) -> bytes | None:
    if not name:
        return None
    try:
        with default_storage.open(name, "rb") as f:
            return f.read()
    except OSError:
        return None


def pillow(name: str) -> Image.Image | None:
    data = read(name)
    return Image.open(io.BytesIO(data)) if data is not None else None
