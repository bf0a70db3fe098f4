"""Site images: decoded whole before anything is kept, limits on bytes and pixels (image bombs
refused from the header), content-addressed files and resized copies without metadata."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image

from content import images

LIMITS = {"max_bytes": 2 * 1024 * 1024, "max_pixels": 4_000_000}


def photo(width: int = 1200, height: int = 800, fmt: str = "JPEG", **save: Any) -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(0, width, 40):  # something to compress, not a flat colour
        image.paste((x % 255, 120, 200 - x % 200), (x, 0, x + 20, height))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size in its header (a decompression bomb's first bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_an_upload_is_kept_by_its_digest_with_copies_for_phones(app: Any, db: Any) -> None:
    exif = Image.Exif()
    exif[0x010F] = "A phone maker"  # Make
    data = photo(2000, 1000, exif=exif.tobytes())
    entry = images.store_image(data=data, **LIMITS)
    digest = hashlib.sha256(data).hexdigest()
    assert entry["sha256"] == digest and entry["url"] == f"/media/images/{digest}.jpg"
    assert (entry["width"], entry["height"], entry["mime"]) == (2000, 1000, "image/jpeg")
    assert images.file_path(digest, "jpg").read_bytes() == data
    assert [v["width"] for v in entry["variants"]] == [480, 960, 1600]
    for variant in entry["variants"]:
        name = variant["url"].rsplit("/", 1)[1]
        path, mime = images.stored_file(name)  # type: ignore[misc]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == name.split(".")[0]
        with Image.open(path) as copy:
            assert copy.size == (variant["width"], variant["height"]) and mime == "image/jpeg"
            assert not copy.getexif()  # no metadata reaches tourists
    again = images.store_image(data=data, **LIMITS)
    assert again["variants"] == entry["variants"]  # the same bytes, the same files


def test_a_small_transparent_png_gets_one_copy_at_its_own_width(app: Any, db: Any) -> None:
    image = Image.new("RGBA", (300, 200), (200, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    entry = images.store_image(data=out.getvalue(), **LIMITS)
    assert entry["mime"] == "image/png" and [v["width"] for v in entry["variants"]] == [300]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "image_empty"),
        (b"GIF89a not really", "image_unreadable"),
        (photo(fmt="GIF"), "image_format"),
        (photo()[:3000], "image_unreadable"),  # truncated mid-scan
        (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "image_unreadable"),
        (png_header_only(5000, 5000), "image_too_many_pixels"),
        (png_header_only(100_000, 100_000), "image_too_many_pixels"),  # past Pillow's own bomb
        (photo(3000, 2000, quality=100) + b"\0" * (3 * 1024 * 1024), "image_too_large"),
    ],
    ids=["empty", "not-an-image", "gif", "truncated", "svg", "many-pixels", "bomb", "big-file"],
)
def test_what_is_not_a_usable_image_is_refused_and_nothing_is_kept(
    app: Any, db: Any, data: bytes, reason: str
) -> None:
    before = set(images.images_dir().rglob("*")) if images.images_dir().exists() else set()
    with pytest.raises(images.ImageRefused) as refused:
        images.store_image(data=data, **LIMITS)
    assert refused.value.reason == reason
    after = set(images.images_dir().rglob("*")) if images.images_dir().exists() else set()
    assert after == before


def test_only_stored_names_are_served(app: Any, db: Any, client: Any) -> None:
    entry = images.store_image(data=photo(600, 400), **LIMITS)
    with client.get(entry["variants"][0]["url"]) as response:
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert "max-age=31536000" in response.headers["Cache-Control"]
    for name in ("0" * 64 + ".jpg", "../../etc/passwd.jpg", entry["sha256"] + ".exe"):
        assert client.get(f"/media/images/{name}").status_code == 404
