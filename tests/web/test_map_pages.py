"""The map page (`/`) and a walking tour's page (`/tours/<slug>`) as HTML: every site and tour
listed without JavaScript, the folded search, kinds, the walk from the tourist or from the
Covered Bridge, bad input, tiles from configuration. (test_tourist_browser.py drives them.)"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.config import ConfigError, load_config

PLACE = re.compile(r'<li data-place data-slug="([^"]+)"')


def _places(client: Any, query: str) -> tuple[Any, str, list[str]]:
    response = client.get(f"/?{query}")
    html = response.get_data(as_text=True)
    return response, html, PLACE.findall(html)


def test_the_map_lists_every_published_site_and_tour_without_javascript(client: Any) -> None:
    from content.models import Site, Tour

    response, html, slugs = _places(client, "lang=en")
    assert response.status_code == 200 and response.mimetype == "text/html"
    published = {s.slug for s in Site.query.filter(Site.published.is_(True))}
    assert len(published) == 26 and set(slugs) == published and len(slugs) == 26
    for slug in published:
        assert f'href="/s/{slug}?lang=en"' in html
    for tour in Tour.query.filter(Tour.published.is_(True)):
        assert f'href="/tours/{tour.slug}?lang=en"' in html
    assert '<form class="finder" method="get" action="/"' in html  # filters with no script
    assert "Distances are from the Covered Bridge" in html
    # Sorted by the walk from the bridge: the bridge first, 0 m away.
    assert slugs[0] == "japanese-covered-bridge"
    assert re.search(r"japanese-covered-bridge.*?<span class=\"walk\">0 m, about 1 min", html, re.S)


@pytest.mark.parametrize("query", ["chua cau", "Chùa Cầu", "CHUA CAU", "japanese bridge"])
def test_the_folded_search_finds_the_covered_bridge(client: Any, query: str) -> None:
    _, _, slugs = _places(client, f"lang=en&q={query}")
    assert slugs and slugs[0] == "japanese-covered-bridge", slugs


def test_kinds_filter_and_an_unknown_kind_is_a_clear_error_that_still_lists(client: Any) -> None:
    _, html, slugs = _places(client, "lang=fr&kind=museum")
    assert len(slugs) == 4 and all("museum" in slug for slug in slugs)
    assert '<option value="museum" selected>Musée</option>' in html
    response, html, slugs = _places(client, "lang=fr&kind=spaceport")
    assert response.status_code == 422 and 'role="alert"' in html and len(slugs) == 26


def test_near_me_sorts_by_the_walk_from_the_tourist(client: Any) -> None:
    from content import geo
    from content.models import Site

    here = geo.Point(15.8794, 108.3350)  # by the Chaozhou hall, east end of the old town
    _, html, slugs = _places(client, f"lang=en&near={here.lat},{here.lon}")
    sites = {s.slug: s for s in Site.query.all()}
    distances = [geo.distance_m(here, geo.Point(sites[s].lat, sites[s].lon)) for s in slugs]
    assert distances == sorted(distances) and slugs[0] != "japanese-covered-bridge"
    assert "Sorted by walking distance from where you are." in html
    assert f'name="near" value="{here.lat},{here.lon}"' in html  # the next search keeps it


@pytest.mark.parametrize(
    ("near", "notice"),
    [
        ("48.8566,2.3522", "You are far from Hội An"),
        ("not-a-place", "not available"),
        ("91,0", "not"),
    ],
)
def test_a_position_refused_or_far_away_still_lists_everything(
    client: Any, near: str, notice: str
) -> None:
    response, html, slugs = _places(client, f"lang=en&near={near}")
    assert response.status_code == 200 and len(slugs) == 26 and notice in html
    assert slugs[0] == "japanese-covered-bridge"


def test_tiles_and_attribution_come_from_configuration(client: Any, app: Any) -> None:
    _, html, _ = _places(client, "lang=en")
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in html
    assert "openstreetmap.org/copyright" in html
    policy = client.get("/?lang=en").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org" in policy
    assert (
        "tile.openstreetmap.org"
        not in client.get("/s/hoi-an-central-market").headers["Content-Security-Policy"]
    )
    config = load_config(
        instance_path="/tmp",
        overrides=None,
        environ={"HOIAN_MAP_TILE_URL": "https://tiles.hoian.gov.vn/osm/{z}/{x}/{y}.webp"},
    )
    assert config["MAP_TILE_URL"].startswith("https://tiles.hoian.gov.vn/")
    for bad in ("ftp://x/{z}/{x}/{y}", "https://tiles.example/{z}.png", "javascript:{z}{x}{y}"):
        with pytest.raises(ConfigError, match="HOIAN_MAP_TILE_URL"):
            load_config(instance_path="/tmp", overrides=None, environ={"HOIAN_MAP_TILE_URL": bad})


def test_map_assets_are_vendored_with_licence_and_version() -> None:
    from web.pages import ASSET_VERSIONS, PRECACHE, STATIC

    vendor = STATIC / "vendor" / "leaflet"
    assert "Leaflet 1.9.4" in (vendor / "leaflet.js").read_text()[:200]
    assert "BSD 2-Clause" in (vendor / "LICENSE").read_text()
    assert "**1.9.4**" in (vendor / "README.md").read_text()
    assert "vendor/leaflet/leaflet.js" in ASSET_VERSIONS
    assert "vendor/leaflet/leaflet.js" not in PRECACHE  # a site page never loads the map


def test_tour_page_lists_stops_in_order_with_walk_players_and_directions(client: Any) -> None:
    from content.models import Tour

    tour = Tour.query.filter_by(slug="assembly-halls-walk").one()
    response = client.get("/tours/assembly-halls-walk?lang=en")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>Chinese Assembly Halls Walk</h1>" in html
    order = re.findall(
        r'<li class="stop" id="stop-(\d+)" data-place data-n="\d+" data-slug="([^"]+)"', html
    )
    assert [slug for _, slug in order] == [stop.site.slug for stop in tour.stops]
    assert [int(n) for n, _ in order] == list(range(1, len(tour.stops) + 1))
    assert re.search(r'<p class="facts">5 stops, [\d.]+ (m|km), about \d+ min on foot</p>', html)
    directions = re.findall(r'href="(https://www.openstreetmap.org/directions[^"]+)"', html)
    geo_links = re.findall(r'href="(geo:[^"]+)"', html)
    assert len(directions) == len(geo_links) == len(tour.stops) - 1
    last = tour.stops[-1].site
    assert geo_links[-1].startswith(f"geo:{last.lat:.6f},{last.lon:.6f}")
    assert 'data-save-tour="assembly-halls-walk"' in html and 'id="play-tour"' in html
    assert "No audio guide at this stop yet." in html  # no guides built in this database


def test_unknown_tour_is_a_404_page_in_the_visitors_language(client: Any) -> None:
    response = client.get("/tours/nowhere?lang=fr", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert '<html lang="fr">' in response.get_data(as_text=True)


def test_every_tourist_page_is_served_by_one_worker_at_the_root(client: Any) -> None:
    worker = client.get("/sw.js")
    body = worker.get_data(as_text=True)
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert 'const TILE_ORIGIN = "https://tile.openstreetmap.org"' in body
    assert client.get("/s/sw.js").get_data(as_text=True) == body  # older registrations


def test_a_search_puts_the_names_that_match_first_then_the_nearest(client: Any) -> None:
    _, _, slugs = _places(client, "lang=vi&q=hoi+quan+phuc+kien")
    assert slugs[0] == "fujian-assembly-hall", slugs
    _, _, slugs = _places(client, "lang=en&q=assembly+hall&near=15.8794,108.3350")
    assert slugs[0] == "chaozhou-assembly-hall" and len(slugs) >= 5, slugs
