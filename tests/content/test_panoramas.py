"""360° views: an equirectangular JPEG drawn with Pillow goes through the editor's upload, is
checked, kept with a still, shown on the site page, and travels in /sync and the packs; every
kind of bad file is refused with a clear error and leaves nothing behind."""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

SITE = "tan-ky-old-house"


def equirectangular(width: int = 2048, height: int = 1024, fmt: str = "JPEG") -> bytes:
    """A view to look around in: sky to ground, a horizon, and a meridian every 30°."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        sky = (
            (int(90 + 120 * t), int(150 + 80 * t), 235) if t < 0.5 else (120, int(90 + 60 * t), 60)
        )
        draw.line((0, y, width, y), fill=sky)
    for k in range(12):
        x = k * width // 12
        draw.line((x, 0, x, height), fill=(255, 255, 255), width=3)
        draw.text((x + 8, height // 2 + 8), f"{k * 30}°", fill=(0, 0, 0))
    draw.line((0, height // 2, width, height // 2), fill=(200, 40, 20), width=4)
    out = io.BytesIO()
    image.save(out, fmt, quality=85)
    return out.getvalue()


def bomb(claimed_width: int, claimed_height: int) -> bytes:
    """A small, valid JPEG whose header claims another size (its SOF0 segment rewritten)."""
    data = bytearray(equirectangular(1024, 512))
    at = data.index(b"\xff\xc0") + 5  # marker, length (2), precision (1): height then width
    data[at : at + 4] = struct.pack(">HH", claimed_height, claimed_width)
    return bytes(data)


def multipart(body: bytes, **form: str) -> bytes:
    """A form with the image and the fields, encoded here (the test client would spool a
    large one to a temporary file it leaves open)."""
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in form.items()
    ]
    head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="view.jpg"\r\n'
    parts.append(head + b"Content-Type: image/jpeg\r\n\r\n" + body + b"\r\n")
    return b"".join(parts) + b"--b--\r\n"


def _upload(
    client: Any, headers: dict[str, str], body: bytes, site: str = SITE, **form: str
) -> Any:
    return client.post(
        f"/api/v1/sites/{site}/panoramas",
        data=multipart(body, **form),
        headers=headers,
        content_type="multipart/form-data; boundary=b",
    )


def _files(app: Any) -> list[Path]:
    folder = Path(app.config["MEDIA_DIR"]) / "panoramas"
    return sorted(folder.glob("*")) if folder.is_dir() else []


def test_a_panorama_is_kept_with_a_still_and_shown_synced_and_packed(
    client: Any, auth: Any, app: Any
) -> None:
    editor = auth("editor")
    cursor = client.get("/api/v1/sync").get_json()["cursor"]
    body = equirectangular()
    response = _upload(
        client,
        editor,
        body,
        alt_vi="Sân trong nhà cổ Tấn Ký",
        alt_en="The courtyard of Tấn Ký old house, all round",
    )
    assert response.status_code == 201, response.get_json()
    view = response.get_json()
    assert (view["width"], view["height"]) == (2048, 1024) and view["bytes"] == len(body)
    assert (view["still"]["width"], view["still"]["height"]) == (1024, 512)

    with client.get(view["url"]) as served:
        assert served.status_code == 200 and served.mimetype == "image/jpeg"
        assert served.get_data() == body and "immutable" in served.headers["Cache-Control"]
    with client.get(view["still"]["url"]) as still:
        assert Image.open(io.BytesIO(still.get_data())).size == (1024, 512)

    detail = client.get(f"/api/v1/sites/{SITE}?lang=en").get_json()
    assert detail["panoramas"][0]["alt"].startswith("The courtyard")
    html = client.get(f"/s/{SITE}?lang=vi").get_data(as_text=True)
    assert f'<img src="{view["still"]["url"]}" width="1024" height="512"' in html
    assert 'alt="Sân trong nhà cổ Tấn Ký"' in html and "Mở ảnh 360°" in html
    assert "pannellum.js" in html and '<script src="/s/static/vendor/pannellum' not in html

    changed = client.get(f"/api/v1/sync?since={cursor}&lang=en").get_json()
    [site] = [s for s in changed["sites"] if s["slug"] == SITE]
    assert site["panoramas"][0]["sha256"] == view["sha256"]
    pack = client.get(f"/api/v1/packs/sites/{SITE}?lang=en").get_json()
    kinds = {f["kind"]: f for f in pack["files"]}
    assert kinds["panorama"]["sha256"] == view["sha256"]
    assert kinds["still"]["url"] == view["still"]["url"]

    # The same file again adds nothing; its alt text may be completed.
    again = _upload(client, editor, body, alt_fr="La cour de la maison Tấn Ký")
    assert again.status_code == 201 and again.get_json()["sha256"] == view["sha256"]
    assert len(client.get(f"/api/v1/sites/{SITE}").get_json()["panoramas"]) == 1


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda: equirectangular(2000, 1200), 422, "not_equirectangular"),
        (lambda: equirectangular(fmt="PNG"), 422, "not_jpeg"),
        (lambda: b"GIF89a but not really an image at all", 422, "not_an_image"),
        (lambda: equirectangular()[:20_000], 422, "not_decodable"),
        (lambda: equirectangular(512, 256), 422, "too_small"),
        (lambda: bomb(30_000, 15_000), 422, "decompression_bomb"),  # Pillow's own limit
        (lambda: bomb(10_000, 5_000), 422, "decompression_bomb"),  # above ours
        (lambda: b"\xff\xd8\xff" + bytes(41 * 1024 * 1024), 413, "file_too_large"),
    ],
    ids=["not-2-1", "png", "not-an-image", "truncated", "too-small", "bomb", "bomb-ours", "41mb"],
)
def test_bad_panoramas_are_refused_and_leave_nothing(
    client: Any, auth: Any, app: Any, make: Any, status: int, reason: str
) -> None:
    before = _files(app)
    response = _upload(client, auth("editor"), make(), alt_en="A view")
    body = response.get_json()
    assert response.status_code == status, body
    assert body["reason"] == reason and body["code"] == status and body["message"]
    assert _files(app) == before
    assert client.get(f"/api/v1/sites/{SITE}").get_json()["panoramas"] == []


def test_an_80_mb_upload_is_refused_before_it_is_read(client: Any, auth: Any) -> None:
    response = _upload(client, auth("editor"), bytes(80 * 1024 * 1024))
    assert response.status_code == 413 and response.get_json()["code"] == 413


def test_alt_text_editor_role_and_site_are_required(client: Any, auth: Any) -> None:
    body = equirectangular(1024, 512)
    assert _upload(client, auth("editor"), body).get_json()["reason"] == "alt_required"
    assert _upload(client, {}, body, alt_en="x").status_code == 401
    assert _upload(client, auth("finance"), body, alt_en="x").status_code == 403
    missing = _upload(client, auth("editor"), body, site="nowhere", alt_en="x")
    assert missing.status_code == 404 and missing.get_json()["reason"] == "site_not_found"
    wrong = _upload(client, auth("editor"), body, alt_xx="x")
    assert wrong.get_json()["reason"] == "unsupported_language"


def test_a_pillow_panorama_is_really_equirectangular() -> None:
    image = Image.open(io.BytesIO(equirectangular()))
    assert image.size[0] == 2 * image.size[1] and math.isclose(image.size[0] / 12, 2048 / 12)
