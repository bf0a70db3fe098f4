"""What an outside audit of the tourist page found, each held by a test: compression, the
favicon, language names inside sentences, no empty "Opening hours", the guide's length before
play, canonical and x-default, and JSON-LD without `inLanguage` on a Place."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import brotli
import pytest

from web.pages import ASSET_VERSIONS

SITE = "japanese-covered-bridge"


def test_html_css_and_js_come_compressed_with_brotli_or_gzip(client: Any) -> None:
    plain = client.get(f"/s/{SITE}?lang=en").get_data()
    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        response = client.get(f"/s/{SITE}?lang=en", headers={"Accept-Encoding": encoding})
        assert response.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in response.headers["Vary"]
        assert decode(response.get_data()) == plain
        assert len(response.get_data()) < len(plain) / 2
    for name, version in ASSET_VERSIONS.items():
        with client.get(
            f"/s/static/{name}?v={version}", headers={"Accept-Encoding": "gzip, deflate, br"}
        ) as asset:
            assert asset.headers["Content-Encoding"] == "br", name
    # A client that asks for nothing gets the plain page.
    assert "Content-Encoding" not in client.get(f"/s/{SITE}").headers


def test_a_compressed_page_still_revalidates_with_its_etag(client: Any) -> None:
    first = client.get(f"/s/{SITE}?lang=en", headers={"Accept-Encoding": "br"})
    again = client.get(
        f"/s/{SITE}?lang=en",
        headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304


def test_a_byte_range_is_never_compressed(client: Any) -> None:
    response = client.get(
        "/api/v1/config", headers={"Accept-Encoding": "br", "Range": "bytes=0-10"}
    )
    assert "Content-Encoding" not in response.headers


def test_favicon_is_the_lantern_icon(client: Any) -> None:
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.mimetype == "image/x-icon"
        assert response.get_data()[:4] == b"\x00\x00\x01\x00"  # the ICO signature
        assert "max-age=86400" in response.headers["Cache-Control"]
    assert 'rel="icon" href="/favicon.ico"' in client.get(f"/s/{SITE}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("lang", "inside", "never"),
    [
        ("en", "in German", ["in Deutsch", "English English"]),
        ("fr", "en allemand", ["en Deutsch", "Français"]),
        ("vi", "tiếng Đức", ["tiếng Deutsch", "tiếng tiếng"]),
        ("de", "auf Deutsch", ["auf English"]),
    ],
)
def test_language_names_inside_sentences_are_in_the_page_language(
    lang: str, inside: str, never: list[str]
) -> None:
    from web.messages import language_in, messages

    sentence = messages(lang)["pending"].format(lang=language_in("de", lang))
    assert inside in sentence, sentence
    sentence += " " + messages(lang)["fallback"].format(lang=language_in("en", lang))
    assert not any(word in sentence for word in never), sentence


def test_every_served_language_names_every_language_inside_a_sentence(app: Any) -> None:
    from web.messages import LANGUAGE_IN

    for lang in app.config["LANGUAGES"]:
        assert set(app.config["LANGUAGES"]) <= set(LANGUAGE_IN[lang]), lang


def _visit_section(html: str) -> str:
    match = re.search(r'<section aria-labelledby="visit-title">(.*?)</section>', html, re.S)
    assert match
    return match.group(1)


def test_no_opening_hours_heading_without_hours(client: Any, db: Any) -> None:
    from content.models import Site

    sites = db.session.query(Site).filter(Site.published.is_(True)).all()
    without = [site for site in sites if not site.opening_hours]
    with_hours = [site for site in sites if site.opening_hours]
    assert without and with_hours  # the seed has both kinds
    for site in (without[0], with_hours[0]):
        section = _visit_section(client.get(f"/s/{site.slug}?lang=en").get_data(as_text=True))
        assert "<h2" in section and "Visiting" in section
        assert ("Opening hours" in section) == bool(site.opening_hours), site.slug
        if site.opening_hours:
            assert re.search(r"Opening hours</h3>\s*<ul", section)


def test_the_player_shows_the_guide_length_before_play(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web import services

    def ready(site: Any, requested: str) -> dict[str, Any]:
        track = {"url": "/media/abc.opus", "mime": "audio/ogg; codecs=opus", "format": "opus"}
        play = {"lang": "en", "tracks": [track], "captions_url": None, "duration_s": 187.4}
        return {
            "status": "ready",
            "requested": requested,
            "play": play,
            "transcript": "",
            "transcript_lang": "en",
            "transcript_machine": False,
        }

    monkeypatch.setattr(services, "guide_view", ready)
    html = client.get(f"/s/{SITE}?lang=en").get_data(as_text=True)
    assert '<p class="duration">Length: 3:07</p>' in html


def test_clock_reads_like_the_player() -> None:
    from web.pages import clock

    assert [clock(s) for s in (0, 59.6, 187.4, 3727)] == ["0:00", "1:00", "3:07", "1:02:07"]


def test_each_language_and_the_x_default_are_their_own_canonicals(client: Any, app: Any) -> None:
    canonicals = set()
    for lang in ("en", "vi", "fr"):
        html = client.get(f"/s/{SITE}?lang={lang}").get_data(as_text=True)
        [canonical] = re.findall(r'<link rel="canonical" href="([^"]+)">', html)
        alternates = dict(re.findall(r'rel="alternate" hreflang="([^"]+)" href="([^"]+)"', html))
        assert canonical == alternates[lang]  # self-referencing, as hreflang wants
        assert canonical != alternates["x-default"]
        canonicals.add(canonical)
    assert len(canonicals) == 3
    # The address without ?lang= (it picks the language itself) is the x-default, and its own
    # canonical: one naming another address of the hreflang set would take it out of the set
    # (Lighthouse: "points to another hreflang location").
    fresh = app.test_client()  # no language remembered in a cookie
    for path in (f"/s/{SITE}", "/", "/tours/assembly-halls-walk"):
        html = fresh.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
        [canonical] = re.findall(r'<link rel="canonical" href="([^"]+)">', html)
        alternates = dict(re.findall(r'rel="alternate" hreflang="([^"]+)" href="([^"]+)"', html))
        assert canonical == alternates["x-default"] and canonical.endswith(path), path
        assert canonical not in canonicals
    # An unknown ?lang= is ignored: the page it served is that language's.
    html = fresh.get(f"/s/{SITE}?lang=xx", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.findall(r'<link rel="canonical" href="([^"]+)">', html)[0].endswith("?lang=en")


def test_jsonld_of_a_place_has_no_in_language(client: Any) -> None:
    html = client.get(f"/s/{SITE}?lang=fr").get_data(as_text=True)
    [block] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    doc = json.loads(block)
    assert "TouristAttraction" in doc["@type"] and "inLanguage" not in doc
    api = client.get(f"/api/v1/sites/{SITE}?lang=fr").get_json()
    assert "inLanguage" not in api["jsonld"]
