"""Security headers, set in one place (app/security.py), on every kind of answer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigError
from tests.conftest import make_app, migrate_and_seed

ROOT = Path(__file__).resolve().parents[2]
SITE = "japanese-covered-bridge"


def policy(response: Any) -> dict[str, str]:
    parts = response.headers["Content-Security-Policy"].split(";")
    return dict([*part.strip().split(" ", 1), ""][:2] for part in parts)


def test_html_pages_get_a_strict_policy_and_refuse_framing(client: Any) -> None:
    for path in (f"/s/{SITE}", "/s/nowhere", "/buy/old-town-pass", "/api/docs"):
        response = client.get(path)
        assert response.mimetype == "text/html", path
        csp = policy(response)
        assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'", path
        assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'", path
        assert csp["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"
        assert "unsafe" not in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_every_other_answer_gets_nosniff_a_referrer_policy_and_no_framing(client: Any) -> None:
    for path in ("/api/v1/sites", "/api/v1/nowhere", "/api/openapi.json", "/healthz", "/s/sw.js"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'", path
    cached = client.get("/api/v1/sites")  # served by the response cache, headers and all
    assert cached.headers["X-Content-Type-Options"] == "nosniff"


def test_a_url_carrying_a_token_is_never_stored(client: Any) -> None:
    response = client.get("/api/v1/orders/NOORDER1", query_string={"token": "hot_x"})
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    for path in ("/pay/NOORDER1?tok%65n=hot_x", "/t/1B7KJ-WBNCQ"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path


def test_the_town_chooses_who_may_frame_the_tourist_pages_and_plaques(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOIAN_FRAME_ANCESTORS", "https://hoian.gov.vn, https://*.hoian.vn")
    app = make_app(f"sqlite:///{tmp_path / 'x.db'}", MEDIA_DIR=str(tmp_path / "media"))
    migrate_and_seed(app)
    client = app.test_client()
    framed = "https://hoian.gov.vn https://*.hoian.vn"
    page = client.get(f"/s/{SITE}")
    assert policy(page)["frame-ancestors"] == framed and "X-Frame-Options" not in page.headers
    assert policy(page)["script-src"] == "'self'"
    plaque = client.get(f"/api/v1/sites/{SITE}/plaque.svg")  # 401, and still frameable
    assert policy(plaque) == {"frame-ancestors": framed}
    for path in ("/api/v1/sites", "/buy/old-town-pass", "/api/docs"):
        assert policy(client.get(path))["frame-ancestors"] == "'none'", path


@pytest.mark.parametrize("value", ["*", "https://a.example/path", "'none' https://a.example"])
def test_frame_ancestors_that_are_not_origins_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HOIAN_FRAME_ANCESTORS", value)
    with pytest.raises(ConfigError, match="HOIAN_FRAME_ANCESTORS"):
        make_app(f"sqlite:///{tmp_path / 'x.db'}")


_INLINE = [
    # Data blocks (JSON-LD, a page's words as JSON) are never executed: no policy concerns them.
    (
        re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>", re.I),
        "script",
    ),
    (re.compile(r"<style\b", re.I), "style element"),
    (re.compile(r"\sstyle=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "event handler attribute"),
    (re.compile(r"""=\s*["']?\s*javascript:""", re.I), "javascript: URL"),
]


def test_no_template_holds_what_the_policy_refuses() -> None:
    templates = [
        path
        for folder in ("app", "web", "ticketing", "payments")
        for path in (ROOT / folder).rglob("templates/**/*.html")
    ]
    assert len(templates) >= 7
    for path in templates:
        text = path.read_text()
        for pattern, what in _INLINE:
            assert not pattern.search(text), f"{path.relative_to(ROOT)} has an inline {what}"
