"""Printable plaques: the QR code scans (zbarimg) to the site's page on the public base URL."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.app.test_shell import assert_error

SITE = "fujian-assembly-hall"
A5_POINTS = (419.53, 595.28)


@pytest.fixture(autouse=True)
def media(app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Kept PDFs go to this test's own media directory."""
    monkeypatch.setitem(app.config, "MEDIA_DIR", str(tmp_path / "media"))
    return tmp_path / "media"


def _zbar(png: Path) -> str:
    if shutil.which("zbarimg") is None:
        pytest.skip("needs zbarimg (make system-deps)")
    done = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _pdf_pages(pdf: bytes) -> list[bytes]:
    """The decompressed content stream of every page (fpdf2 writes one per page)."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    pages = []
    for raw in streams:
        try:
            pages.append(zlib.decompress(raw))
        except zlib.error:
            continue  # a font file, not a page
    return [page for page in pages if b" re f" in page]


def _rasterize_filled_rects(content: bytes, path: Path, *, scale: float = 4.0) -> None:
    """Draw every filled rectangle of a page (the QR modules) as the printer would."""
    width, height = A5_POINTS
    image = Image.new("L", (int(width * scale), int(height * scale)), 255)
    draw = ImageDraw.Draw(image)
    number = rb"(-?[\d.]+)"
    for x, y, w, h in re.findall(rb" ".join([number] * 4) + rb" re f", content):
        left, top = float(x) * scale, (height - float(y)) * scale
        right, bottom = left + float(w) * scale, top - float(h) * scale
        draw.rectangle(
            [min(left, right), min(top, bottom), max(left, right) - 1, max(top, bottom) - 1],
            fill=0,
        )
    image.save(path)


def test_plaques_are_for_staff(client: Any, auth: Any) -> None:
    assert_error(client.get(f"/api/v1/sites/{SITE}/plaque.svg"), 401)
    assert_error(client.get(f"/api/v1/sites/{SITE}/plaque.pdf", headers=auth("finance")), 403)
    assert_error(client.get("/api/v1/sites/nowhere/plaque.svg", headers=auth("editor")), 404)


def test_svg_plaque_scans_to_the_page_url(
    client: Any, auth: Any, chromium: Any, tmp_path: Path, artifacts_dir: Path
) -> None:
    response = client.get(f"/api/v1/sites/{SITE}/plaque.svg", headers=auth("editor"))
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert 'width="148.0mm" height="210.0mm"' in svg  # A5
    assert "Hội quán Phúc Kiến" in svg and "Fujian Assembly Hall" in svg
    assert "Scannez pour le guide audio" in svg and "扫码收听语音导览" in svg
    assert not re.search(r'fill="(?!#000|#fff|none)', svg)  # black and white only
    page = chromium.new_page()
    try:
        page.set_content(f"<body style='margin:0;background:#fff'>{svg}</body>")
        page.screenshot(path=str(artifacts_dir / "plaque.png"), full_page=True)
    finally:
        page.close()
    assert _zbar(artifacts_dir / "plaque.png") == f"http://127.0.0.1:8000/s/{SITE}"


def test_pdf_plaque_scans_and_the_printer_gets_every_site(
    client: Any, auth: Any, tmp_path: Path
) -> None:
    editor = auth("editor")
    one = client.get(f"/api/v1/sites/{SITE}/plaque.pdf", headers=editor)
    assert one.status_code == 200 and one.data.startswith(b"%PDF-")
    assert b"/MediaBox [0 0 419.53 595.28]" in one.data  # A5
    assert b"DejaVuSans" in one.data  # embedded: Vietnamese prints everywhere
    assert b"NotoSansCJK" in one.data  # and the Korean, Chinese and Japanese lines
    [content] = _pdf_pages(one.data)
    _rasterize_filled_rects(content, tmp_path / "plaque-pdf.png")
    assert _zbar(tmp_path / "plaque-pdf.png") == f"http://127.0.0.1:8000/s/{SITE}"

    every = client.get("/api/v1/plaques.pdf", headers=editor)
    assert every.status_code == 200
    assert every.headers["Content-Disposition"].startswith("attachment")
    published = len(client.get("/api/v1/sites.geojson").get_json()["features"])
    assert every.data.count(b"/Type /Page\n") == published
    again = client.get(
        "/api/v1/plaques.pdf", headers={**editor, "If-None-Match": every.headers["ETag"]}
    )
    assert again.status_code == 304


def test_a_plaque_pdf_is_drawn_once_per_content(
    client: Any, auth: Any, db: Any, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web import plaques

    drawn: list[int] = []
    draw = plaques.pdf

    def counted(every: list[Any]) -> bytes:
        drawn.append(len(every))
        return draw(every)

    monkeypatch.setattr(plaques, "pdf", counted)
    editor = auth("editor")
    first = client.get("/api/v1/plaques.pdf", headers=editor)
    again = client.get("/api/v1/plaques.pdf", headers=editor)
    assert first.status_code == again.status_code == 200 and len(drawn) == 1
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert len(list((media / "plaques").glob("*.pdf"))) == 1
    # A change on a plaque (a site's name) makes a new PDF.
    patched = client.patch(
        f"/api/v1/sites/{SITE}",
        json={"texts": {"en": {"name": "Fujian Hall"}}},
        headers={**editor, "If-Match": client.get(f"/api/v1/sites/{SITE}").headers["ETag"]},
    )
    assert patched.status_code == 200
    changed = client.get("/api/v1/plaques.pdf", headers=editor)
    assert len(drawn) == 2 and changed.headers["ETag"] != first.headers["ETag"]
