"""The scanner's shell, manifest and service worker: Vietnamese by default and English on
request, a strict Content-Security-Policy, every file the service worker keeps served."""

from __future__ import annotations

import json
import re
from typing import Any


def test_the_shell_is_vietnamese_by_default_and_remembers_english(client: Any) -> None:
    page = client.get("/scan/")
    assert page.status_code == 200 and '<html lang="vi">' in page.text
    assert "Ghép nối điện thoại này" in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert page.headers["Cache-Control"] == "no-cache"
    words = json.loads(re.search(r'id="scan-words">(.*?)</script>', page.text, re.S)[1])
    assert words["ok"] == "Mời vào" and words["device_revoked"].startswith("Thiết bị này")
    english = client.get("/scan/?lang=en")
    assert '<html lang="en">' in english.text and "Pair this phone" in english.text
    assert "scan_lang=en" in english.headers["Set-Cookie"]
    again = client.get("/scan/")
    assert '<html lang="en">' in again.text  # the cookie


def test_no_inline_script_or_style_runs(client: Any) -> None:
    """The policy forbids them: the page's only inline block is data (the words, as JSON)."""
    page = client.get("/scan/").text
    for attributes in re.findall(r"<script([^>]*)>", page):
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert "style=" not in page
    assert not re.search(r"\son[a-z]+=", page)


def test_the_manifest_installs_the_scanner_in_its_language(client: Any) -> None:
    manifest = client.get("/scan/manifest.webmanifest?lang=en")
    assert manifest.mimetype == "application/manifest+json"
    document = manifest.get_json(force=True)
    assert document["start_url"] == "/scan/?lang=en" and document["scope"] == "/scan/"
    assert document["display"] == "standalone" and document["name"] == "Hội An ticket scanner"
    sizes = {icon["sizes"] for icon in document["icons"]}
    assert sizes == {"192x192", "512x512"}
    for icon in document["icons"]:
        assert client.get(icon["src"], buffered=True).status_code == 200


def test_the_service_worker_keeps_every_file_the_scanner_needs(client: Any) -> None:
    worker = client.get("/scan/sw.js")
    assert worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/scan/"
    kept = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", worker.text)[1])
    for must in (
        "/scan/",
        "/scan/?lang=vi",
        "/scan/?lang=en",
        "/scan/static/verify.js",
        "/scan/static/vendor/noble-ed25519/index.js",
        "/scan/static/scan.js",
    ):
        assert must in kept, must
    assert any(url.startswith("/scan/static/vendor/jsqr/jsQR.js?v=") for url in kept)
    for url in kept:
        assert client.get(url, buffered=True).status_code == 200, url
