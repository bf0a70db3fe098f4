"""The map (`/`) and a walking tour (`/tours/<slug>`) in real headless Chromium against a real
gunicorn, with real guides and tiles from the test's own tile server (HOIAN_MAP_TILE_URL)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import Server, TileServer

pytestmark = pytest.mark.slow

TOUR = "assembly-halls-walk"
#: By the Chaozhou hall, at the east end of the old town (the Covered Bridge is at the west).
HERE = {"latitude": 15.8794, "longitude": 108.3350}
MAP_BUDGET = 120 * 1024
SITE_BUDGET = 30 * 1024

# Distances of the listed places from a point, in the list's order (haversine, metres).
DISTANCES = """([lat, lon]) => Array.from(document.querySelectorAll('[data-place]')).map((el) => {
  const r = Math.PI / 180, a = Number(el.dataset.lat) * r, b = lat * r;
  const h = Math.sin((b - a) / 2) ** 2
    + Math.cos(a) * Math.cos(b) * Math.sin((lon - Number(el.dataset.lon)) * r / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
})"""


def _context(chromium: Any, **kwargs: Any) -> Any:
    options = {"viewport": {"width": 390, "height": 844}, "service_workers": "allow", **kwargs}
    return chromium.new_context(**options)


def _slugs(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all("[data-place]", "(els) => els.map((e) => e.dataset.slug)")
    )


def _weighed(context: Any, base: str) -> list[dict[str, Any]]:
    transfers: list[dict[str, Any]] = []

    def finished(request: Any) -> None:
        if request.url.startswith(base):
            sizes = request.sizes()
            transfers.append(
                {
                    "url": request.url.replace(base, ""),
                    "bytes": sizes["responseBodySize"] + sizes["responseHeadersSize"],
                }
            )

    context.on("requestfinished", finished)
    return transfers


def test_map_lists_every_site_finds_chua_cau_and_sorts_near_me(
    guide_server: Server, tile_server: TileServer, chromium: Any, artifacts_dir: Path
) -> None:
    context = _context(
        chromium,
        geolocation=HERE,
        permissions=["geolocation"],
        extra_http_headers={"Accept-Language": "en"},
    )
    transfers = _weighed(context, guide_server.base)
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/", wait_until="networkidle")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
        page.wait_for_load_state("networkidle")
        weight = sum(item["bytes"] for item in transfers)
        assert len(_slugs(page)) == 26
        assert page.locator("#map").is_visible()
        page.wait_for_function(
            "() => document.querySelectorAll('.leaflet-tile-loaded').length > 0", timeout=15_000
        )
        assert page.locator("path.leaflet-interactive").count() >= 26 + 5  # sites and tours
        assert (
            tile_server.served
            and "OpenStreetMap" in page.locator(".leaflet-control-attribution").inner_text()
        )
        page.screenshot(path=str(artifacts_dir / "map-en.png"), full_page=True)

        # A marker opens its site's page.
        page.locator("path.leaflet-interactive").first.dispatch_event("click")
        page.wait_for_url(re.compile(r"/s/[a-z-]+\?lang=en"))
        page.go_back()

        page.get_by_label("Search").fill("chua cau")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(re.compile(r"q=chua\+cau"))
        assert _slugs(page)[0] == "japanese-covered-bridge"
        assert "Japanese Covered Bridge" in page.locator("#places li").first.inner_text()
        page.screenshot(path=str(artifacts_dir / "map-search-chua-cau.png"), full_page=True)

        page.goto(f"{guide_server.base}/?lang=en")
        before = _slugs(page)
        page.get_by_role("button", name="Near me").click()
        page.wait_for_url(re.compile(r"near=15\.879"))
        after = _slugs(page)
        distances = page.evaluate(DISTANCES, [HERE["latitude"], HERE["longitude"]])
        assert distances == sorted(distances) and len(after) == 26
        assert after[0] != before[0] == "japanese-covered-bridge"
        assert "from where you are" in page.locator("#position").inner_text()
        page.screenshot(path=str(artifacts_dir / "map-near-me.png"), full_page=True)
    finally:
        context.close()
    report = {"map_page_bytes": weight, "budget_bytes": MAP_BUDGET, "requests": transfers[:20]}
    (artifacts_dir / "page-weight-map.json").write_text(json.dumps(report, indent=2) + "\n")
    assert weight < MAP_BUDGET, report


def test_near_me_refused_still_lists_everything(guide_server: Server, chromium: Any) -> None:
    context = _context(chromium, permissions=[], extra_http_headers={"Accept-Language": "fr"})
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/")
        page.get_by_role("button", name="Près de moi").click()
        page.wait_for_function(
            "() => document.getElementById('position').textContent.includes('indisponible')",
            timeout=20_000,
        )
        assert len(_slugs(page)) == 26 and "near=" not in page.url
    finally:
        context.close()


def test_the_site_page_weighs_under_30_kb_compressed(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    context = _context(chromium, extra_http_headers={"Accept-Language": "fr"})
    transfers = _weighed(context, guide_server.base)
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/s/fujian-assembly-hall", wait_until="networkidle")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
        page.wait_for_load_state("networkidle")
        html = next(t for t in transfers if t["url"].startswith("/s/fujian"))
        assert page.evaluate("performance.getEntriesByType('navigation')[0].transferSize") > 0
        assert page.locator("p.duration").inner_text().startswith("Durée : ")
    finally:
        context.close()
    total = sum(item["bytes"] for item in transfers)
    report = {"site_page_bytes": total, "html_bytes": html["bytes"], "budget_bytes": SITE_BUDGET}
    (artifacts_dir / "page-weight-site.json").write_text(
        json.dumps({**report, "requests": transfers}, indent=2) + "\n"
    )
    assert total < SITE_BUDGET, report


def test_the_tour_plays_stop_after_stop_remembers_and_works_offline(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    context = _context(chromium, extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/")  # the map is visited first, and kept
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
        page.goto(f"{guide_server.base}/tours/{TOUR}")
        page.wait_for_function(
            "() => document.querySelectorAll('.leaflet-tile-loaded').length > 0", timeout=15_000
        )
        assert page.locator(".leaflet-overlay-pane path").count() >= 6  # 5 stops and the route
        stops = page.locator("li.stop")
        assert stops.count() == 5
        assert page.locator("li.stop audio").count() == 2  # the two halls with guides
        assert "5 stops" in page.locator(".facts").inner_text()
        page.screenshot(path=str(artifacts_dir / "tour-en.png"), full_page=True)

        page.get_by_role("button", name="Play the tour").click()
        first, second = "#stop-1 audio", "#stop-2 audio"
        page.wait_for_function(
            f"() => document.querySelector('{first}').currentTime > 0.3", timeout=20_000
        )
        assert "stop 1 of 5" in page.locator("#tour-status").inner_text()
        # Skip to the end of the first guide: the second starts by itself.
        page.evaluate(
            f"(a => {{ a.currentTime = a.duration - 0.4; }})(document.querySelector('{first}'))"
        )
        page.wait_for_function(
            f"() => document.querySelector('{second}').currentTime > 0.5", timeout=20_000
        )
        assert page.evaluate(f"document.querySelector('{first}').paused")
        assert "stop 2 of 5" in page.locator("#tour-status").inner_text()
        page.evaluate(f"document.querySelector('{second}').pause()")
        kept = page.evaluate(f"JSON.parse(localStorage.getItem('hoian:tour:{TOUR}'))")
        assert kept["stop"] == 2 and kept["time"] >= 0

        page.get_by_role("button", name=re.compile("Save the tour")).click()
        page.wait_for_function(
            "() => document.querySelector('#offline .status').textContent.startsWith('Saved')",
            timeout=30_000,
        )
        context.set_offline(True)
        page.goto(f"{guide_server.base}/tours/{TOUR}")
        assert page.get_by_role("button", name="Continue the tour").is_visible()
        page.get_by_role("button", name="Continue the tour").click()
        page.wait_for_function(
            f"() => document.querySelector('{second}').currentTime > 1", timeout=20_000
        )
        page.evaluate(f"document.querySelector('{second}').pause()")
        page.goto(f"{guide_server.base}/")
        assert len(_slugs(page)) == 26
        tiles = page.evaluate(
            "caches.open('hoian-tiles').then((c) => c.keys()).then((k) => k.length)"
        )
        assert tiles > 0
        page.screenshot(path=str(artifacts_dir / "map-offline.png"), full_page=True)
        context.set_offline(False)
    finally:
        context.close()


def test_map_and_tour_without_javascript_list_and_link_everything(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    context = _context(chromium, java_script_enabled=False, service_workers="block")
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/?lang=vi")
        assert len(_slugs(page)) == 26 and page.locator("#map").is_hidden()
        assert page.locator("#near-me").is_hidden()
        links = page.eval_on_selector_all(
            "#places a", "(els) => els.map((e) => e.getAttribute('href'))"
        )
        assert len(links) == 26 and all(link.startswith("/s/") for link in links)
        page.get_by_label("Loại điểm").select_option("museum")
        page.get_by_role("button", name="Xem").click()
        assert len(_slugs(page)) == 4
        page.get_by_label("Tìm").fill("hoi quan phuc kien")
        page.get_by_label("Loại điểm").select_option("")
        page.get_by_role("button", name="Xem").click()
        assert _slugs(page)[0] == "fujian-assembly-hall"
        page.screenshot(path=str(artifacts_dir / "map-no-js-vi.png"), full_page=True)
        page.goto(f"{guide_server.base}/tours/{TOUR}?lang=en")
        assert page.locator("li.stop").count() == 5
        assert page.locator("li.stop audio[controls] source").count() >= 2
        assert page.locator("#tour-player").is_hidden()
        page.screenshot(path=str(artifacts_dir / "tour-no-js-en.png"), full_page=True)
    finally:
        context.close()


def test_a_panorama_drawn_with_pillow_opens_in_the_viewer_only_when_asked(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    from tests.content.test_panoramas import equirectangular
    from tests.web.console.conftest import PASSWORD, server_user

    email = server_user(guide_server, "editor", email="panorama-editor@hoian.test")
    context = _context(chromium, extra_http_headers={"Accept-Language": "en"})
    fetched: list[str] = []
    context.on("request", lambda request: fetched.append(request.url))
    page = context.new_page()
    try:
        login = page.request.post(
            f"{guide_server.base}/api/v1/auth/token", data={"email": email, "password": PASSWORD}
        )
        token = login.json()["access_token"]
        upload = page.request.post(
            f"{guide_server.base}/api/v1/sites/tan-ky-old-house/panoramas",
            headers={"Authorization": f"Bearer {token}"},
            multipart={
                "image": {
                    "name": "courtyard.jpg",
                    "mimeType": "image/jpeg",
                    "buffer": equirectangular(2048, 1024),
                },
                "alt_en": "The courtyard of Tấn Ký old house, seen all round",
            },
        )
        assert upload.status == 201, upload.text()
        page.goto(f"{guide_server.base}/s/tan-ky-old-house", wait_until="networkidle")
        still = page.get_by_role("img", name="The courtyard of Tấn Ký old house, seen all round")
        assert still.is_visible()
        assert not [url for url in fetched if "pannellum" in url]  # the page stays light
        page.get_by_role("link", name="Open the 360° view").click()
        page.wait_for_selector(".pnlm-render-container canvas", timeout=20_000)
        page.wait_for_function(
            "() => !document.querySelector('.pnlm-load-box') ||"
            " getComputedStyle(document.querySelector('.pnlm-load-box')).display === 'none'",
            timeout=20_000,
        )
        assert page.locator(".pnlm-error-msg").is_hidden()
        assert [url for url in fetched if "pannellum.js" in url]
        page.locator("#pano-1").focus()
        page.keyboard.press("ArrowRight")
        page.screenshot(path=str(artifacts_dir / "panorama-open.png"), full_page=False)
    finally:
        context.close()
