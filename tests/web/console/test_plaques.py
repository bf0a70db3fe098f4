"""Plaques in the console, over HTTP with the console's session (no Bearer token): previews,
each site's SVG and PDF, and the whole set in one PDF."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from content.services import all_published_sites
from tests.web.console.conftest import Console

BRIDGE = "japanese-covered-bridge"


def test_an_editor_previews_and_downloads_plaques(
    signed_in: Callable[..., Console], db: Any
) -> None:
    editor = signed_in("editor")
    page = editor.get("/console/plaques")
    assert page.status_code == 200 and "Biển QR" in page.text
    assert f'src="/console/plaques/{BRIDGE}.svg"' in page.text
    assert BRIDGE not in editor.get("/console/plaques?q=bao+tang").text
    svg = editor.get(f"/console/plaques/{BRIDGE}.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert "Chùa Cầu" in svg.text and svg.headers["Content-Disposition"].startswith("inline")
    download = editor.get(f"/console/plaques/{BRIDGE}.svg?download=1")
    assert download.headers["Content-Disposition"] == f'attachment; filename="plaque-{BRIDGE}.svg"'
    pdf = editor.get(f"/console/plaques/{BRIDGE}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    every = editor.get("/console/plaques/all.pdf")
    assert every.headers["Content-Disposition"] == 'attachment; filename="plaques.pdf"'
    pages = len(re.findall(rb"/Type\s*/Page\b", every.data))
    assert pages == len(all_published_sites())


def test_plaques_need_the_editor_role_and_a_real_site(
    signed_in: Callable[..., Console], console: Console
) -> None:
    assert console.get(f"/console/plaques/{BRIDGE}.svg").status_code == 302  # to the login
    assert signed_in("inspector").get(f"/console/plaques/{BRIDGE}.pdf").status_code == 403
    missing = signed_in("editor").get("/console/plaques/no-such-site.svg")
    assert missing.status_code == 404 and "<html" in missing.text
