"""Site images: an upload is kept only once Pillow has decoded it whole (so a file that only
looks like an image, a truncated one or a decompression bomb is refused before anything is
written), within a byte and a pixel limit; it is stored content-addressed (named by the sha256
of its bytes) with resized JPEG variants for phones, tablets and laptops, each named by its own
sha256, so every URL can be cached for a year. Variants carry no metadata (a phone photo's
EXIF, its GPS position included, stays out of what tourists download)."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import ValidationFailed

#: What may be uploaded: Pillow's format name -> (MIME type, file extension).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
EXTENSIONS = {ext: mime for mime, ext in FORMATS.values()}
#: Widths of the resized copies: phones, tablets, laptops (never wider than the upload).
VARIANT_WIDTHS = (480, 960, 1600)
JPEG_QUALITY = 82
URL_PREFIX = "/media/images"


class ImageRefused(ValidationFailed):
    """An upload that is not an image we keep; `reason` says why, for the page's words."""


def images_dir() -> Path:
    return Path(current_app.config["MEDIA_DIR"]) / "images"


def file_path(sha256: str, ext: str) -> Path:
    """Where the stored file of this digest lives (two-level fan-out)."""
    return images_dir() / sha256[:2] / f"{sha256}.{ext}"


def _write(data: bytes, ext: str) -> tuple[str, str]:
    """Store bytes under their sha256 (atomically; a file already there is the same file)."""
    digest = hashlib.sha256(data).hexdigest()
    path = file_path(digest, ext)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
            out.write(data)
        os.replace(out.name, path)
    return digest, f"{URL_PREFIX}/{digest}.{ext}"


def decode(data: bytes, *, max_bytes: int, max_pixels: int) -> tuple[Image.Image, str]:
    """The upload decoded whole, upright; ImageRefused when it is too large, not an image we
    take, has too many pixels (checked from the header, before decoding) or is broken. With
    the upright image comes Pillow's name of the file's format."""
    if not data:
        raise ImageRefused("the file is empty", reason="image_empty")
    if len(data) > max_bytes:
        raise ImageRefused(
            f"the file has {len(data)} bytes; at most {max_bytes} are taken",
            reason="image_too_large",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise ImageRefused(
                    f"{image.format} images are not taken; send JPEG, PNG or WebP",
                    reason="image_format",
                )
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRefused(
                    f"the image has {width} x {height} pixels; at most {max_pixels} are taken",
                    reason="image_too_many_pixels",
                )
            image.load()  # decodes every byte: a truncated or corrupt file fails here
            return ImageOps.exif_transpose(image), str(image.format)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(str(exc), reason="image_too_many_pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRefused(
            "the file is not a readable image (JPEG, PNG or WebP)", reason="image_unreadable"
        ) from exc


def _variant(image: Image.Image, width: int) -> bytes:
    height = max(1, round(image.height * width / image.width))
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    if resized.mode in ("RGBA", "LA", "P"):
        rgba = resized.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))  # transparency on white paper
        flat.paste(rgba, mask=rgba.getchannel("A"))
        resized = flat
    elif resized.mode != "RGB":
        resized = resized.convert("RGB")
    out = io.BytesIO()
    resized.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def store_image(*, data: bytes, max_bytes: int, max_pixels: int) -> dict[str, Any]:
    """Check and keep an upload with its variants; the entry for `Site.images` (no alt yet)."""
    image, format_name = decode(data, max_bytes=max_bytes, max_pixels=max_pixels)
    mime, ext = FORMATS[format_name]
    sha256, url = _write(data, ext)
    widths = [w for w in VARIANT_WIDTHS if w < image.width] or [image.width]
    variants = []
    for width in widths:
        body = _variant(image, width)
        _, variant_url = _write(body, "jpg")
        variants.append(
            {
                "url": variant_url,
                "width": width,
                "height": round(image.height * width / image.width),
            }
        )
    return {
        "url": url,
        "sha256": sha256,
        "mime": mime,
        "width": image.width,
        "height": image.height,
        "bytes": len(data),
        "variants": variants,
        "alt": {},
    }


def stored_file(name: str) -> tuple[Path, str] | None:
    """The path and MIME type of a stored image from its URL's file name, if it is one."""
    stem, _, ext = name.partition(".")
    if ext not in EXTENSIONS or len(stem) != 64 or any(c not in "0123456789abcdef" for c in stem):
        return None
    path = file_path(stem, ext)
    return (path, EXTENSIONS[ext]) if path.is_file() else None
