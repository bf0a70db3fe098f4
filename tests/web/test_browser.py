"""The tourist page in real headless Chromium against a real gunicorn with real guides."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.web.conftest import Server

SITE = "fujian-assembly-hall"
PLAYER = "document.getElementById('player')"
BUDGET = 100 * 1024

# The lowest contrast between any text and the background behind it (WCAG 2 formula).
CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const channel = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  const lum = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  let worst = { ratio: 21, text: "" };
  for (const el of document.querySelectorAll("body *")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const hidden = getComputedStyle(el).visibility === "hidden";
    if (!own || !el.getClientRects().length || hidden) continue;
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst.ratio) worst = { ratio, text: el.textContent.trim().slice(0, 40) };
  }
  return worst;
}"""


def _context(chromium: Any, **kwargs: Any) -> Any:
    options = {"viewport": {"width": 390, "height": 844}, "service_workers": "allow", **kwargs}
    return chromium.new_context(**options)


def _playing(page: Any, *, beyond_s: float = 1.0) -> None:
    page.evaluate(f"{PLAYER}.play()")
    page.wait_for_function(f"() => {PLAYER}.currentTime > {beyond_s}", timeout=20_000)


def test_french_visitor_listens_with_captions_and_again_offline(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    context = _context(chromium, locale="fr-FR", extra_http_headers={"Accept-Language": "fr"})
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/s/{SITE}")
        assert page.get_attribute("html", "lang") == "fr"
        assert page.locator("#guide-title").inner_text() == "Guide audio"
        assert page.get_attribute("#player", "lang") == "fr"
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=10_000)

        _playing(page)
        assert page.evaluate(f"{PLAYER}.currentSrc").endswith((".opus", ".m4a"))
        page.wait_for_function(
            "() => document.getElementById('caption').textContent.trim().length > 0", timeout=15_000
        )
        assert page.locator("#caption").is_visible()
        page.evaluate(f"{PLAYER}.pause()")
        page.screenshot(path=str(artifacts_dir / "tourist-page-fr.png"), full_page=True)

        # The worker kept the page, the audio and the captions: the signal drops, it still plays.
        page.wait_for_function(
            "() => caches.open('hoian-media').then((c) => c.keys()).then((k) => k.length >= 2)",
            timeout=20_000,
        )
        context.set_offline(True)
        page.reload()
        assert page.get_attribute("html", "lang") == "fr"
        assert "Fujian" in page.locator("h1").inner_text()
        page.evaluate(f"{PLAYER}.currentTime = 0")
        _playing(page)
        page.wait_for_function(
            "() => document.getElementById('caption').textContent.trim().length > 0", timeout=15_000
        )
        context.set_offline(False)
    finally:
        context.close()


def test_language_switch_is_remembered_and_a_pending_language_offers_the_fallback(
    guide_server: Server, chromium: Any
) -> None:
    context = _context(chromium, extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/s/{SITE}")
        assert page.get_attribute("html", "lang") == "en"
        page.get_by_role("link", name="Deutsch").click()
        page.wait_for_url("**lang=de")
        assert page.get_attribute("html", "lang") == "de"
        notice = page.get_by_role("status").first.inner_text()
        assert "auf Deutsch" in notice and "vorbereitet" in notice and "auf Englisch" in notice
        assert page.get_attribute("#player", "lang") == "en"  # the fallback plays
        assert page.locator(".transcript").is_visible()
        _playing(page, beyond_s=0.5)

        # The next plaque scanned opens in the remembered language, with no ?lang=.
        page.goto(f"{guide_server.base}/s/{SITE}")
        assert page.get_attribute("html", "lang") == "de"
        page.get_by_role("link", name="Français").click()
        page.wait_for_url("**lang=fr")
        assert page.get_attribute("#player", "lang") == "fr"
    finally:
        context.close()


def test_page_weight_before_the_audio_starts_is_under_100_kb(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    """Everything transferred (HTML, CSS, JS, the service worker and what it fetches) from the
    scan until the tourist presses play."""
    context = _context(chromium, extra_http_headers={"Accept-Language": "fr"})
    transfers: list[dict[str, Any]] = []

    def finished(request: Any) -> None:
        sizes = request.sizes()
        transfers.append(
            {
                "url": request.url.replace(guide_server.base, ""),
                "bytes": sizes["responseBodySize"] + sizes["responseHeadersSize"],
            }
        )

    context.on("requestfinished", finished)
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/s/{SITE}", wait_until="networkidle")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=10_000)
        page.wait_for_load_state("networkidle")
        before_audio = list(transfers)
        total = sum(item["bytes"] for item in before_audio)
        report = {"total_bytes": total, "budget_bytes": BUDGET, "requests": before_audio}
        (artifacts_dir / "page-weight.json").write_text(json.dumps(report, indent=2))
        audio = [i for i in before_audio if i["url"].endswith((".opus", ".m4a", ".mp3"))]
        assert not audio  # preload="none": the captions, a few KB, are all it fetches
        assert total < BUDGET, report
        _playing(page, beyond_s=0.2)
    finally:
        context.close()


def test_accessible_landmarks_contrast_keyboard_and_large_text(
    guide_server: Server, chromium: Any
) -> None:
    context = _context(chromium, viewport={"width": 320, "height": 640})
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/s/{SITE}?lang=en")
        for role in ("banner", "main", "contentinfo", "navigation"):
            assert page.get_by_role(role).count() >= 1, role
        assert page.get_by_role("navigation", name="Language").count() == 1
        assert page.get_attribute("#player", "aria-labelledby") == "guide-title"
        assert page.locator("track[kind=captions][srclang=en]").count() == 1
        for button in page.get_by_role("button").all():
            assert button.inner_text().strip()
        worst = page.evaluate(CONTRAST)
        assert worst["ratio"] >= 4.5, worst

        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        assert page.locator(".skip").bounding_box()["y"] >= 0  # shown when focused
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#guide"

        # 200% text on a small phone: nothing runs off the side.
        page.evaluate("document.documentElement.style.fontSize = '200%'")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def test_the_page_works_without_javascript(guide_server: Server, chromium: Any) -> None:
    context = _context(chromium, java_script_enabled=False, service_workers="block")
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/s/{SITE}?lang=fr")
        assert page.locator("audio[controls] source").count() == 2
        assert page.locator(".transcript p").count() >= 2
        assert page.locator("#offline").is_hidden()  # the offline buttons need JavaScript
        page.get_by_role("link", name="English").click()
        assert page.get_attribute("html", "lang") == "en"
        page.get_by_role("link", name="Buy a ticket: Hội An Old Town entrance ticket").click()
        page.get_by_label("Email (for your tickets)").fill("visitor@example.org")
        page.get_by_role("button", name="Order").click()
        assert "/pay/" in page.url and "token=" in page.url
        assert "Pay at a ticket desk" in page.content()
    finally:
        context.close()


# WCAG 2.1 A and AA, as axe-core (the engine behind Lighthouse's accessibility audit) checks them.
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def test_axe_finds_no_wcag_aa_violation(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    """The page in a ready language, in a pending one (notice and fallback), in Vietnamese,
    without JavaScript, the ticket form, an error page, the map (with tiles, searched, without
    JavaScript) and a tour: no WCAG 2.1 A/AA violation axe-core can detect."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    pages = {
        "ready-en": (f"/s/{SITE}?lang=en", True),
        "pending-de": (f"/s/{SITE}?lang=de", True),
        "vi": (f"/s/{SITE}?lang=vi", True),
        "no-js-fr": (f"/s/{SITE}?lang=fr", False),
        "ticket-form-ko": ("/buy/old-town-pass?lang=ko", True),
        "error-page-vi": ("/pay/NOSUCHORDER?token=x&lang=vi", True),
        "map-en": ("/?lang=en", True),
        "map-search-ko": ("/?lang=ko&q=chua+cau", True),
        "map-no-js-vi": ("/?lang=vi", False),
        "tour-fr": ("/tours/assembly-halls-walk?lang=fr", True),
    }
    report: dict[str, Any] = {}
    for name, (path, script) in pages.items():
        context = _context(chromium, service_workers="block")
        page = context.new_page()
        try:
            if not script:
                # axe is JavaScript itself: check the HTML as served, with its scripts removed,
                # which is what a browser without JavaScript shows.
                html = page.request.get(guide_server.base + path).text()
                html = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
                page.route(
                    guide_server.base + path,
                    lambda route, _request, body=html: route.fulfill(
                        body=body, content_type="text/html"
                    ),
                )
            page.goto(guide_server.base + path, wait_until="networkidle")
            results = axe.run(page, options=WCAG_AA)
            report[name] = {
                "violations": results.generate_snapshot(),
                "passes": len(results.response["passes"]),
            }
        finally:
            context.close()
    (artifacts_dir / "axe-wcag-aa.json").write_text(json.dumps(report, indent=2) + "\n")
    assert all(not entry["violations"] for entry in report.values()), report
    # Enough rules applied to show each page was really checked (an error page has few parts).
    assert all(
        entry["passes"] > (5 if name.startswith("error") else 10) for name, entry in report.items()
    ), report


def test_the_service_worker_keeps_at_most_120_media_files_dropping_the_oldest(
    guide_server: Server, chromium: Any
) -> None:
    context = _context(chromium)
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/s/{SITE}?lang=en")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=10_000)
        audio = page.get_attribute("#player source", "src")  # preload="none": not fetched yet
        assert audio and audio.startswith("/media/")
        # 125 older files already kept, then one more fetched through the worker. (The page's
        # own captions may be kept meanwhile too: the test looks at order, not at a count of it.)
        page.evaluate(
            """async () => {
              const cache = await caches.open('hoian-media');
              for (const key of await cache.keys()) await cache.delete(key);
              for (let i = 0; i < 125; i++) {
                const name = '/media/guides/old-' + String(i).padStart(3, '0');
                await cache.put(name, new Response('x'));
              }
            }"""
        )
        page.evaluate(f"fetch({audio!r}).then((r) => r.arrayBuffer())")
        page.wait_for_function(
            f"""() => caches.open('hoian-media').then((c) => c.keys()).then((k) =>
                 k.length === 120 && k.some((r) => r.url.endsWith({audio!r})))""",
            timeout=10_000,
        )
        kept = page.evaluate(
            "caches.open('hoian-media').then((c) => c.keys()).then((k) => k.map((r) => r.url))"
        )
        old = sorted(int(url[-3:]) for url in kept if "/old-" in url)
        # The oldest went first: what is left of the old files is their newest run.
        assert old == list(range(old[0], 125)) and old[0] >= 5, old
    finally:
        context.close()


def test_every_page_runs_under_its_content_security_policy(
    guide_server: Server, chromium: Any, artifacts_dir: Path
) -> None:
    """The strict policy (no inline script or style) breaks nothing: the tourist page, the
    ticket form and order page, and the API docs all work, and the browser reports no
    violation."""
    context = _context(chromium, extra_http_headers={"Accept-Language": "en"})
    context.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    console: list[str] = []
    context.on("console", lambda message: console.append(message.text))
    page = context.new_page()
    try:
        page.goto(f"{guide_server.base}/s/{SITE}")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=10_000)
        _playing(page, beyond_s=0.2)
        assert page.evaluate("window.violations") == []
        page.get_by_role("link", name="Buy a ticket: Hội An Old Town entrance ticket").click()
        page.get_by_label("Email (for your tickets)").fill("visitor@example.org")
        page.get_by_role("button", name="Order").click()
        assert "/pay/" in page.url and "Pay at a ticket desk" in page.content()
        assert page.evaluate("getComputedStyle(document.querySelector('.ref')).fontWeight") == "700"
        assert page.evaluate("window.violations") == []
        page.goto(f"{guide_server.base}/api/docs")
        page.wait_for_function(
            "() => document.querySelectorAll('.opblock').length > 20", timeout=20_000
        )
        page.screenshot(path=str(artifacts_dir / "api-docs.png"))
        assert page.evaluate("window.violations") == []
    finally:
        context.close()
    assert not [line for line in console if "Content Security Policy" in line], console
