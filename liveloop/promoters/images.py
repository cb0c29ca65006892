"""A brand's logo and covers: strict checks on upload, re-encoded before they are stored.

An upload is refused, with the reason, unless Pillow reads it as PNG, JPEG or WebP (only those
decoders are tried), it is at most 5 MB, and its header declares at most 25 million pixels —
checked before any pixel is decoded, so a small file that would inflate to gigabytes (a
decompression bomb) is never decompressed. What is stored is a new PNG (logo, keeps
transparency) or JPEG (cover) drawn from the decoded pixels, turned upright and scaled down to
what posters and pages use: metadata, trailing bytes and anything else that rode in are gone.
"""
import hashlib
import io
import logging
import math
import warnings
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from liveloop.promoters.models import BrandImage

MAX_BYTES = 5 * 1024 * 1024
# The refusals say "25 million" (2500 万) in words: change them with this.
MAX_PIXELS = 25_000_000
FORMATS = ("PNG", "JPEG", "WEBP")
# Stored at most this size (long side): a poster is 750 px wide, a phone page about as much.
STORED = {BrandImage.LOGO: 512, BrandImage.COVER: 1500}
STORED_FORMAT = {BrandImage.LOGO: "PNG", BrandImage.COVER: "JPEG"}
CONTENT_TYPE = {"PNG": "image/png", "JPEG": "image/jpeg"}

log = logging.getLogger(__name__)


class ImageRejected(ValueError):
    """The reason, in the page's language, that an upload was refused."""


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    width: int
    height: int


def clean_upload(upload, kind: str) -> Cleaned:
    """The upload re-encoded for storage, or ImageRejected with the reason."""
    if upload.size > MAX_BYTES:
        # Rounded up: a file just over the limit must not read as "5.0 MB; at most 5 MB".
        raise ImageRejected(_("The file is %(size)s MB; at most %(limit)d MB.")
                            % {"size": f"{math.ceil(upload.size * 10 / 1024 / 1024) / 10:.1f}",
                               "limit": MAX_BYTES // 1024 // 1024})
    upload.seek(0)
    raw = upload.read(MAX_BYTES + 1)
    with warnings.catch_warnings():
        # Pillow's own bomb guard warns below twice its limit: a refusal here, like ours.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise ImageRejected(_("The image has more than 25 million pixels.")) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ImageRejected(_("This file is not a PNG, JPEG or WebP image.")) from None
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageRejected(_("The image is %(width)d × %(height)d pixels; at most 25 million pixels.")
                                % {"width": width, "height": height})
        try:
            image.load()
            return _encode(ImageOps.exif_transpose(image), kind)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning):
            raise ImageRejected(_("The image is damaged or incomplete.")) from None


def _encode(image: Image.Image, kind: str) -> Cleaned:
    image.thumbnail((STORED[kind], STORED[kind]), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if STORED_FORMAT[kind] == "PNG":
        image.convert("RGBA").save(out, format="PNG")
    else:
        flat = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        flat.paste(rgba, mask=rgba)
        flat.save(out, format="JPEG", quality=88)
    return Cleaned(out.getvalue(), image.width, image.height)


def _file_name(org, kind: str, live, data: bytes) -> str:
    # Per organisation; the digest makes a replaced image a new name (no stale cache).
    owner = live.public_id if live is not None else "brand"
    ext = "png" if STORED_FORMAT[kind] == "PNG" else "jpg"
    return f"brand/{org.pk}/{kind}-{owner}-{hashlib.sha256(data).hexdigest()[:16]}.{ext}"


def _remove_file(name: str) -> None:
    transaction.on_commit(lambda: default_storage.delete(name))


def save_image(org, kind: str, cleaned: Cleaned, live=None) -> BrandImage:
    """Store cleaned as org's image of kind (the live's cover when live is given), replacing any."""
    name = default_storage.save(_file_name(org, kind, live, cleaned.data), ContentFile(cleaned.data))
    fields = {"name": name, "width": cleaned.width, "height": cleaned.height}
    rows = BrandImage.objects.for_org(org).select_for_update().filter(kind=kind, live=live)
    with transaction.atomic():
        row = rows.first()
        if row is None:
            try:
                with transaction.atomic():
                    return BrandImage.objects.create(org=org, kind=kind, live=live, **fields)
            except IntegrityError:  # another upload of the same image made the row meanwhile
                row = rows.get()
        _remove_file(row.name)
        for field, value in fields.items():
            setattr(row, field, value)
        row.save()
    return row


def remove_image(org, kind: str, live=None) -> bool:
    with transaction.atomic():
        row = BrandImage.objects.for_org(org).select_for_update().filter(kind=kind, live=live).first()
        if row is None:
            return False
        row.delete()
        _remove_file(row.name)
    return True


def image_of(org, kind: str, live=None) -> BrandImage | None:
    return BrandImage.objects.for_org(org).filter(kind=kind, live=live).first()


@dataclass(frozen=True)
class LiveImages:
    cover: BrandImage | None   # the live's own, else the brand's default
    logo: BrandImage | None


def for_live(live) -> LiveImages:
    """What a live's poster and invite page show, in one query."""
    rows = {(row.kind, row.live_id): row
            for row in BrandImage.objects.for_org(live.org).filter(Q(live=live) | Q(live__isnull=True))}
    return LiveImages(cover=rows.get((BrandImage.COVER, live.pk)) or rows.get((BrandImage.COVER, None)),
                      logo=rows.get((BrandImage.LOGO, None)))


def read(row: BrandImage) -> bytes | None:
    """The stored file, or None (logged) when it went missing from the data directory: pages
    and posters then go without it rather than fail."""
    try:
        with default_storage.open(row.name, "rb") as f:
            return f.read()
    except OSError as error:
        log.error("images.unreadable org=%s name=%s error=%s", row.org_id, row.name, error)
        return None


def pillow_image(row: BrandImage | None) -> Image.Image | None:
    """The stored image for drawing (it was written by us: no checks needed again)."""
    data = read(row) if row is not None else None
    return Image.open(io.BytesIO(data)) if data is not None else None


def content_type(row: BrandImage) -> str:
    return CONTENT_TYPE[STORED_FORMAT[row.kind]]
