"""The tourist page as HTML: language, JSON-LD, Open Graph, no-JavaScript content, caching,
weight, the ticket form. (The browser tests in test_browser.py drive it in Chromium.)"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

from web.pages import ASSET_VERSIONS, PRECACHE

SITE = "japanese-covered-bridge"


class _Head(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.jsonld: list[str] = []
        self._in_jsonld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and values.get("property"):
            self.meta[str(values["property"])] = str(values.get("content"))
        self._in_jsonld = tag == "script" and values.get("type") == "application/ld+json"

    def handle_data(self, data: str) -> None:
        if self._in_jsonld:
            self.jsonld.append(data)
            self._in_jsonld = False


def _page(client: Any, path: str = f"/s/{SITE}", **headers: str) -> tuple[Any, str]:
    response = client.get(path, headers=headers)
    return response, response.get_data(as_text=True)


def test_language_from_accept_language_then_remembered_then_lang_wins(client: Any) -> None:
    response, html = _page(client, **{"Accept-Language": "vi, en;q=0.5"})
    assert response.status_code == 200 and '<html lang="vi">' in html
    assert "<h1>Chùa Cầu</h1>" in html and "Set-Cookie" not in response.headers
    response, html = _page(client, f"/s/{SITE}?lang=fr")
    assert '<html lang="fr">' in html and "hoian_lang=fr" in response.headers["Set-Cookie"]
    _, html = _page(client, **{"Accept-Language": "de"})  # the cookie from ?lang=fr
    assert '<html lang="fr">' in html
    _, html = _page(client, f"/s/{SITE}?lang=xx", **{"Accept-Language": "ko"})
    assert '<html lang="fr">' in html  # an unknown ?lang= is ignored, not an error page


def test_page_carries_jsonld_open_graph_and_alternates(client: Any) -> None:
    _, html = _page(client, f"/s/{SITE}?lang=en")
    head = _Head()
    head.feed(html)
    [jsonld] = [json.loads(block) for block in head.jsonld]
    assert (
        jsonld["@context"] == "https://schema.org" and jsonld["name"] == "Japanese Covered Bridge"
    )
    assert jsonld["url"] == f"http://127.0.0.1:8000/s/{SITE}"
    assert head.meta["og:title"] == "Japanese Covered Bridge"
    assert head.meta["og:url"] == f"http://127.0.0.1:8000/s/{SITE}?lang=en"
    assert head.meta["og:locale"] == "en" and head.meta["og:description"]
    assert html.count('rel="alternate" hreflang=') == 10  # nine languages and x-default


def test_everything_works_without_javascript(client: Any) -> None:
    _, html = _page(client, f"/s/{SITE}?lang=en")
    for landmark in ("<header>", "<main>", "<footer>", '<nav aria-label="Language">'):
        assert landmark in html
    assert 'href="?lang=vi"' in html  # the language switch is plain links
    assert "Visiting" in html and "openstreetmap.org/?mlat=" in html
    assert re.search(r'href="/buy/old-town-pass\?site=japanese-covered-bridge', html) or (
        "Buy a ticket" not in html
    )
    assert not re.search(r'(src|srcset)="https?://', html)  # no third-party asset or CDN
    assert not re.search(r'rel="stylesheet" href="https?://', html)


def test_page_revalidates_and_assets_are_cached_for_a_year(client: Any) -> None:
    response, _ = _page(client)
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Accept-Language" in response.headers["Vary"]
    again = client.get(f"/s/{SITE}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    for name, version in ASSET_VERSIONS.items():
        with client.get(f"/s/static/{name}?v={version}") as asset:
            assert asset.status_code == 200 and "max-age=31536000" in asset.headers["Cache-Control"]
    worker = client.get("/s/sw.js")
    assert worker.headers["Cache-Control"] == "no-cache" and worker.mimetype == "text/javascript"


def test_html_css_and_js_stay_far_below_the_100_kb_budget(client: Any) -> None:
    _, html = _page(client, f"/s/{SITE}?lang=vi")
    total = len(html.encode())
    for name in PRECACHE:  # the page's own CSS and JS (the map's and the viewer's are not its)
        version = ASSET_VERSIONS[name]
        with client.get(f"/s/static/{name}?v={version}") as asset:
            total += len(asset.data)
    assert total < 100 * 1024 / 2  # half the budget: room for the first image


def test_images_are_responsive_when_a_site_has_them(client: Any, db: Any) -> None:
    from content.models import Site

    site = db.session.query(Site).filter_by(slug=SITE).one()
    site.images = [
        {
            "url": "/media/img/bridge-1600.jpg",
            "alt": {"en": "The bridge at dusk", "vi": "Chùa Cầu lúc hoàng hôn"},
            "width": 1600,
            "height": 1067,
            "variants": [
                {"url": "/media/img/bridge-1600.jpg", "width": 1600},
                {"url": "/media/img/bridge-480.jpg", "width": 480},
            ],
        }
    ]
    db.session.commit()
    _, html = _page(client, f"/s/{SITE}?lang=en")
    assert 'srcset="/media/img/bridge-480.jpg 480w, /media/img/bridge-1600.jpg 1600w"' in html
    assert 'alt="The bridge at dusk"' in html and 'width="1600" height="1067"' in html
    assert 'sizes="(max-width: 40rem) 100vw, 40rem"' in html
    # Open Graph wants absolute URLs: crawlers read them without the page's address.
    og_image = "http://127.0.0.1:8000/media/img/bridge-480.jpg"
    assert f'<meta property="og:image" content="{og_image}">' in html


def test_unknown_site_is_a_friendly_404_page(client: Any) -> None:
    response, html = _page(client, "/s/nowhere", **{"Accept-Language": "vi"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "chưa có thuyết minh" in html


def test_ticket_form_shows_mistakes_and_keeps_the_answers(client: Any) -> None:
    form = client.get("/buy/old-town-pass?lang=en")
    if form.status_code == 404:
        return  # products are loaded by `flask tickets setup`, not in every test database
    key = re.search(r'name="key" value="([^"]+)"', form.get_data(as_text=True))
    assert key
    response = client.post(
        "/buy/old-town-pass?lang=en",
        data={"key": key.group(1), "quantity_foreign": "2", "email": "not-an-email"},
    )
    assert response.status_code == 422 and 'role="alert"' in response.get_data(as_text=True)
    assert 'value="2"' in response.get_data(as_text=True)


def test_every_served_language_has_every_word_with_the_same_placeholders(app: Any) -> None:
    import string

    from web.messages import _EN, MESSAGES

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for lang in app.config["LANGUAGES"]:
        words = MESSAGES[lang]
        assert set(words) == set(_EN), lang
        assert all(fields(words[key]) == fields(_EN[key]) for key in _EN), lang
