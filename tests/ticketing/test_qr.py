"""QR images decode with a real decoder (zbarimg) to the exact code, which verifies offline;
the printable ticket page shows the code, the sites still open and the validity."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.app.test_shell import assert_error
from tests.ticketing.conftest import BRIDGE, Shop, redeem
from ticketing import qr
from ticketing.verify import OfflineVerifier, Reason, format_serial

needs_zbar = pytest.mark.skipif(
    shutil.which("zbarimg") is None, reason="zbarimg (Debian zbar-tools) is not installed"
)


def _decode(path: Path) -> str:
    run = subprocess.run(
        ["zbarimg", "--raw", "-q", str(path)], capture_output=True, text=True, check=True
    )
    return run.stdout.strip()


@needs_zbar
@pytest.mark.parametrize("kind", ["png", "svg"])
def test_qr_images_decode_to_the_code_which_verifies(
    client: Any, shop: Shop, tmp_path: Path, kind: str
) -> None:
    order = shop.order(("old-town-pass", "foreign", 1))
    (ticket,) = order.tickets
    url = f"/api/v1/tickets/{format_serial(ticket.serial)}/qr.{kind}"
    response = client.get(url, query_string={"token": order.token})
    assert response.status_code == 200
    assert response.mimetype == ("image/png" if kind == "png" else "image/svg+xml")
    assert response.headers["Cache-Control"] == "no-store"
    image = tmp_path / f"ticket.{kind}"
    image.write_bytes(response.data)
    if kind == "svg":
        root = ET.fromstring(response.data)
        assert (
            root.tag.endswith("svg") and root.find("{http://www.w3.org/2000/svg}path") is not None
        )
    decoded = _decode(image)
    assert decoded == ticket.code
    bundle = {
        "keys": client.get("/api/v1/checkin/keys").get_json(),
        "products": client.get("/api/v1/products").get_json(),
    }
    verdict = OfflineVerifier.from_bundle(bundle, site=BRIDGE).check(decoded, at=datetime.now(UTC))
    assert verdict.reason is Reason.OK and verdict.claims is not None
    assert verdict.claims.serial == ticket.serial


def test_svg_and_png_carry_the_same_modules(shop: Shop) -> None:
    code = shop.ticket().code
    symbol = qr._symbol(code, box_size=1)
    assert symbol.version == 6  # 41 x 41 modules: scans fast from a phone screen
    path = ET.fromstring(qr.svg(code)).find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    dark = sum(row.count(True) for row in symbol.get_matrix())
    assert path.attrib["d"].count("z") == dark  # one closed square per dark module


def test_qr_needs_the_order_token(client: Any, shop: Shop, auth: Any) -> None:
    order = shop.order(("old-town-pass", "foreign", 1))
    (ticket,) = order.tickets
    url = f"/api/v1/tickets/{format_serial(ticket.serial)}/qr.svg"
    assert_error(client.get(url), 401)
    assert_error(client.get(url, query_string={"token": "hot_nope"}), 404)
    assert client.get(url, headers={"Authorization": f"Bearer {order.token}"}).status_code == 200
    assert client.get(url, headers=auth("finance")).status_code == 200
    assert_error(client.get("/api/v1/tickets/not-a-serial/qr.svg"), 404, "invalid_serial")
    client.post(
        f"/api/v1/tickets/{format_serial(ticket.serial)}/cancel", json={}, headers=auth("admin")
    )
    assert_error(client.get(url, query_string={"token": order.token}), 404, "revoked")


def test_printable_ticket_page(client: Any, shop: Shop, device: Any) -> None:
    order = shop.order(("old-town-pass", "domestic", 1))
    (ticket,) = order.tickets
    redeem(client, device(), site=BRIDGE, code=ticket.code)
    serial = format_serial(ticket.serial)
    page = client.get(f"/t/{serial}", query_string={"token": order.token, "lang": "en"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert serial in html and order.code in html and "<svg" in html
    assert "Hội An Old Town entrance ticket" in html
    assert "2 of 3" in html and "Tấn Ký Old House" in html  # still open
    assert 'class="used">Japanese Covered Bridge' in html
    assert "Asia/Ho_Chi_Minh" in html
    # The page is the ticket: kept by no cache, sent as no referrer, styled from a file.
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "style-src 'self';" in page.headers["Content-Security-Policy"]
    assert "<style" not in html and "/t/static/ticket.css" in html
    with client.get("/t/static/ticket.css") as css:
        assert css.status_code == 200 and b".serial" in css.data
    assert client.get(f"/t/{serial}").status_code == 401
