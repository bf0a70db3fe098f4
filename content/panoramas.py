"""360° views of a site: equirectangular JPEGs checked on upload, stored with a still.

A panorama is refused unless it is a JPEG that Pillow decodes whole, twice as wide as it is
high (the equirectangular projection spans 360° by 180°), within the size and pixel limits
(`HOIAN_PANORAMA_MAX_MB`, `HOIAN_PANORAMA_MAX_PIXELS`); the pixel count is read from the
header and checked before any decoding, so a small file that claims a huge image (a
decompression bomb) costs nothing. What is kept is named by its sha256 under
`<media>/panoramas/`: the JPEG as uploaded, and a 1024 px still for the page (shown with its
alt text to whoever cannot or will not open the viewer). Nothing is written for a refusal,
and files are renamed into place, so a half-written file is never served.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import IO, Any

from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from app import audit
from app.db import on_commit, utcnow
from app.errors import DomainError, NotFound, ValidationFailed
from app.extensions import db
from content.cache import bump_catalogue_version
from content.models import Site, SitePanorama

MEDIA_PREFIX = "/media/panoramas"
STILL_WIDTH = 1024
#: An equirectangular image is exactly 2:1; a pixel or two off is a rounding in the stitcher.
ASPECT_SLACK_PX = 2


class PanoramaTooLarge(DomainError):
    status, reason = 413, "file_too_large"


def _limits() -> tuple[int, int, int]:
    config = current_app.config
    return (
        int(float(config["PANORAMA_MAX_MB"]) * 1024 * 1024),
        int(config["PANORAMA_MAX_PIXELS"]),
        int(config["PANORAMA_MIN_WIDTH"]),
    )


def folder() -> Path:
    return Path(current_app.config["MEDIA_DIR"]) / "panoramas"


def file_path(sha256: str, *, still: bool = False) -> Path:
    return folder() / (f"{sha256}-still.jpg" if still else f"{sha256}.jpg")


def _refuse(message: str, reason: str) -> ValidationFailed:
    return ValidationFailed(message, reason=reason, errors={"image": [message]})


def _read(stream: IO[bytes], max_bytes: int) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PanoramaTooLarge(
            f"a panorama may be at most {max_bytes // (1024 * 1024)} MB",
            errors={"image": ["too large"]},
        )
    if not data:
        raise _refuse("the file is empty", "not_an_image")
    return data


def check(data: bytes) -> Image.Image:
    """The decoded image, or a ValidationFailed that says what is wrong with it."""
    _, max_pixels, min_width = _limits()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(
            "the image claims far more pixels than a panorama has (a decompression bomb)",
            "decompression_bomb",
        ) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise _refuse("the file is not an image", "not_an_image") from exc
    if image.format != "JPEG":
        raise _refuse(f"a panorama must be a JPEG, not {image.format}", "not_jpeg")
    width, height = image.size
    if width * height > max_pixels:
        raise _refuse(
            f"{width}x{height} is more than {max_pixels} pixels; it is refused before decoding",
            "decompression_bomb",
        )
    if abs(width - 2 * height) > ASPECT_SLACK_PX:
        raise _refuse(
            f"an equirectangular panorama is twice as wide as high; this one is {width}x{height}",
            "not_equirectangular",
        )
    if width < min_width:
        raise _refuse(f"a panorama must be at least {min_width} px wide", "too_small")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise _refuse(
            "the JPEG cannot be decoded whole (truncated or damaged)", "not_decodable"
        ) from exc
    return image


def _still(image: Image.Image) -> bytes:
    still = image.convert("RGB")
    still.thumbnail((STILL_WIDTH, STILL_WIDTH // 2), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    still.save(out, "JPEG", quality=80, optimize=True, progressive=True)
    return out.getvalue()


def _write(path: Path, data: bytes) -> None:
    if path.is_file():
        return  # content-addressed: the same name holds the same bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".upload-", delete=False) as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, path)


def _checked_alt(alt: dict[str, str]) -> dict[str, str]:
    """The alt texts, trimmed, in served languages only, one at least."""
    languages = set(current_app.config["LANGUAGES"])
    unknown = sorted(set(alt) - languages)
    if unknown:
        raise ValidationFailed(
            f"alt text in languages not served: {', '.join(unknown)}",
            reason="unsupported_language",
            errors={"alt": [f"each one of: {', '.join(sorted(languages))}"]},
        )
    alt = {lang: text.strip()[:300] for lang, text in alt.items() if text.strip()}
    if not alt:
        raise ValidationFailed(
            "describe the view in at least one language (alt_vi, alt_en, ...)",
            reason="alt_required",
            errors={"alt": ["missing"]},
        )
    return alt


def add_panorama(*, site: Site, stream: IO[bytes], alt: dict[str, str]) -> SitePanorama:
    """Check an upload, keep it and its still, and add it to the site (editor)."""
    alt = _checked_alt(alt)
    max_bytes, _, _ = _limits()
    data = _read(stream, max_bytes)
    image = check(data)
    sha256 = hashlib.sha256(data).hexdigest()
    existing: SitePanorama | None = db.session.scalar(
        select(SitePanorama).where(SitePanorama.site_id == site.id, SitePanorama.sha256 == sha256)
    )
    if existing is not None:
        existing.alt = {**existing.alt, **alt}
        _touched(site, "panorama.update", existing)
        return existing
    still = _still(image)
    still_image = Image.open(io.BytesIO(still))
    _write(file_path(sha256), data)
    _write(file_path(sha256, still=True), still)
    row = SitePanorama(
        site_id=site.id,
        sha256=sha256,
        width=image.size[0],
        height=image.size[1],
        bytes=len(data),
        still_sha256=hashlib.sha256(still).hexdigest(),
        still_width=still_image.size[0],
        still_height=still_image.size[1],
        still_bytes=len(still),
        alt=alt,
    )
    db.session.add(row)
    db.session.flush()
    _touched(site, "panorama.add", row)
    return row


def _site_panorama(site: Site, panorama_id: int) -> SitePanorama:
    row = db.session.get(SitePanorama, panorama_id)
    if row is None or row.site_id != site.id:
        raise NotFound(f"site {site.slug!r} has no panorama {panorama_id}", reason="not_found")
    return row


def replace_panorama(
    *, site: Site, panorama_id: int, stream: IO[bytes], alt: dict[str, str]
) -> SitePanorama:
    """Put a new upload in a panorama's place (editor), keeping its alt text where none is
    given; a refused file leaves the old one as it was."""
    old = _site_panorama(site, panorama_id)
    kept = {lang: text for lang, text in old.alt.items() if lang in current_app.config["LANGUAGES"]}
    row = add_panorama(site=site, stream=stream, alt={**kept, **alt})
    if row.id != old.id:
        remove_panorama(site=site, panorama_id=old.id)
    return row


def set_alt(*, site: Site, panorama_id: int, alt: dict[str, str]) -> SitePanorama:
    """Replace a panorama's alt text in every language (editor); one at least."""
    row = _site_panorama(site, panorama_id)
    row.alt = _checked_alt(alt)
    _touched(site, "panorama.update", row)
    return row


def remove_panorama(*, site: Site, panorama_id: int) -> None:
    """Take a panorama off the site (editor); its files go after the commit, unless another
    site shows the same JPEG."""
    row = _site_panorama(site, panorama_id)
    db.session.delete(row)
    _touched(site, "panorama.remove", row)
    sha256 = row.sha256
    shown_elsewhere = db.session.scalar(
        select(SitePanorama.id).where(SitePanorama.sha256 == sha256).limit(1)
    )
    if shown_elsewhere is None:
        paths = (file_path(sha256), file_path(sha256, still=True))
        on_commit(lambda: _forget(paths), key=f"panorama-files-{sha256}")


def _forget(paths: tuple[Path, ...]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _touched(site: Site, action: str, row: SitePanorama) -> None:
    # The site's version moves, so /sync and the packs carry the new view.
    site.updated_at = utcnow()
    db.session.flush()
    bump_catalogue_version()
    audit.record(
        action=action,
        object_type="site",
        object_id=site.slug,
        changes={"panorama": row.sha256, "size": [row.width, row.height], "alt": row.alt},
    )


def site_panoramas(site: Site) -> list[SitePanorama]:
    return list(
        db.session.scalars(
            select(SitePanorama).where(SitePanorama.site_id == site.id).order_by(SitePanorama.id)
        )
    )


def by_file(sha256: str) -> SitePanorama | None:
    """The panorama whose JPEG or still has this sha256 (for serving the file)."""
    return db.session.scalar(
        select(SitePanorama)
        .where((SitePanorama.sha256 == sha256) | (SitePanorama.still_sha256 == sha256))
        .limit(1)
    )


def panorama_view(row: SitePanorama, lang: str) -> dict[str, Any]:
    """A panorama as the API and the page show it: the JPEG, the still and its alt text."""
    alt = row.alt or {}
    return {
        "url": f"{MEDIA_PREFIX}/{row.sha256}.jpg",
        "sha256": row.sha256,
        "bytes": row.bytes,
        "width": row.width,
        "height": row.height,
        "still": {
            "url": f"{MEDIA_PREFIX}/{row.sha256}-still.jpg",
            "sha256": row.still_sha256,
            "bytes": row.still_bytes,
            "width": row.still_width,
            "height": row.still_height,
        },
        "alt": alt.get(lang) or alt.get("en") or alt.get("vi") or next(iter(alt.values()), ""),
    }
