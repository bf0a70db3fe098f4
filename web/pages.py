"""The tourist's page behind every QR plaque (`/s/<slug>`), its assets and service worker.

Server-rendered HTML that works without JavaScript; `site.js` adds captions under the audio,
remembers the language and the listening position, and offers to save a tour for offline use;
`sw.js` keeps visited pages and their audio for when the signal drops.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from app.errors import NotFound, html_errors
from app.i18n import default_language, native_name, negotiate, supported_languages
from app.security import allow_sources, frameable
from content.models import SITE_KINDS
from content.presenters import public_url
from web import services
from web.messages import day_names, language_in, messages

STATIC = Path(__file__).resolve().parent / "static"
LANG_COOKIE = "hoian_lang"
ASSET_MAX_AGE = 365 * 24 * 3600  # asset URLs carry their content hash


class _AssetBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        return ASSET_MAX_AGE if request.args.get("v") else 300


bp = html_errors(
    _AssetBlueprint(
        "web",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/s/static",
    )
)


def _asset_versions() -> dict[str, str]:
    return {
        path.relative_to(STATIC).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(STATIC.rglob("*"))
        if path.suffix in (".css", ".js")
    }


ASSET_VERSIONS = _asset_versions()
#: What the service worker keeps when it starts: the pages' own CSS and JS. Vendored viewers
#: (the map, the 360° viewer) are kept the first time a page uses them.
PRECACHE = [name for name in ASSET_VERSIONS if "/" not in name]


def asset_url(name: str) -> str:
    """The asset's URL with its content hash, so it can be cached for a year."""
    return url_for("web.static", filename=name, v=ASSET_VERSIONS[name])


def page_language() -> str:
    """?lang= wins, then the language the tourist chose before (cookie), then Accept-Language.

    An unknown ?lang= on a page is ignored rather than answered with an error: a tourist
    followed a link, and a page in another language is better than none.
    """
    languages = supported_languages()
    for candidate in (request.args.get("lang", ""), request.cookies.get(LANG_COOKIE, "")):
        code = candidate.strip().lower()
        if code in languages:
            g.requested_lang = code
            return code
    lang = negotiate(
        explicit=None,
        accept_language=request.headers.get("Accept-Language"),
        languages=languages,
        default=default_language(),
    )
    g.requested_lang = lang or default_language()
    return str(g.requested_lang)


def _html(body: str, *, status: int = 200, lang: str) -> Response:
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    # Revalidate every time (a 304 costs a few hundred bytes): texts and guides change.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/s/<string(maxlength=80):slug>")
@frameable
def site_page(slug: str) -> Response:
    """The site's page in the tourist's language: guide, transcript, text, hours, map, tickets."""
    requested = page_language()
    words = messages(requested)
    try:
        view = services.site_page_view(slug=slug, requested=requested)
    except NotFound:
        body = render_template("web/not_found.html", lang=requested, words=words, slug=slug)
        return _html(body, status=404, lang=requested)
    body = render_template(
        "web/site.html",
        view=view,
        lang=requested,
        words=words,
        languages=[(code, native_name(code)) for code in supported_languages()],
        day_names=day_names,
        asset_url=asset_url,
        map_url=_map_url(view["lat"], view["lon"], view["name"]),
        native=native_name,
        language_in=language_in,
        clock=clock,
        audio_type=services.audio_type,
        public=public_url,
        ticket_url=lambda product: url_for(
            "web_tickets.buy_form", product=product, site=slug, lang=requested
        ),
    )
    if view["panoramas"]:
        allow_sources("img-src", ["blob:"])  # the 360° viewer decodes the JPEG from a blob
    response = _html(body, lang=view["lang"])
    if request.args.get("lang") == requested and request.cookies.get(LANG_COOKIE) != requested:
        # Remembered without JavaScript too: the next plaque scanned opens in this language.
        response.set_cookie(
            LANG_COOKIE, requested, max_age=365 * 24 * 3600, samesite="Lax", path="/"
        )
    response.add_etag()
    response.make_conditional(request)
    return response


def clock(seconds: float) -> str:
    """A duration as the player writes it: 3:07, or 1:02:07 past an hour."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@bp.route("/favicon.ico")
def favicon() -> Response:
    """The lantern icon browsers ask for on every site (a day's cache: its URL never changes)."""
    return send_from_directory(STATIC, "favicon.ico", mimetype="image/x-icon", max_age=86400)


def _map_url(lat: float, lon: float, name: str) -> str:
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}"
        f"#map=18/{lat:.6f}/{lon:.6f}&label={quote(name)}"
    )


def render_error_page(status: int, message: str, reason: str) -> str:
    """An error as a page in the visitor's language (`app.errors` calls this on HTML routes);
    the service's own message, in English, is the small print."""
    lang = page_language()
    words = messages(lang)
    return render_template(
        "web/error.html",
        lang=lang,
        words=words,
        status=status,
        title=words.get(f"error_title_{status}", words["error_title"]),
        text=words.get(f"error_text_{status}", words["error_text"]),
        detail=message if status < 500 else "",
        asset_url=asset_url,
    )


@bp.route("/sw.js")
@bp.route("/s/sw.js", endpoint="service_worker_s")
def service_worker() -> Response:
    """The service worker (scope /; phones that registered it under /s/ keep that one): keeps
    visited pages, their audio and the map tiles they showed for offline use."""
    assets = [asset_url(name) for name in PRECACHE]
    version = hashlib.sha256("".join(assets).encode()).hexdigest()[:12]
    body = render_template(
        "web/sw.js", assets=assets, version=version, tiles=tile_origin() or "", lazy="/s/static/"
    )
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def tile_origin() -> str | None:
    """The tile server's origin (for the page's policy and the worker), None for this one."""
    match = re.match(r"https?://[^/]+", str(current_app.config["MAP_TILE_URL"]))
    return match.group(0) if match else None


def _map_settings() -> dict[str, str]:
    origin = tile_origin()
    if origin:
        allow_sources("img-src", [origin])
    return {
        "tiles": str(current_app.config["MAP_TILE_URL"]),
        "attribution": str(current_app.config["MAP_TILE_ATTRIBUTION"]),
    }


def _page_context(lang: str) -> dict[str, Any]:
    return {
        "lang": lang,
        "words": messages(lang),
        "languages": [(code, native_name(code)) for code in supported_languages()],
        "asset_url": asset_url,
        "language_in": language_in,
        "clock": clock,
        "audio_type": services.audio_type,
        "distance": distance_text,
    }


def distance_text(metres: float, lang: str) -> str:
    """850 m, 1.2 km (1,2 km where the decimal mark is a comma)."""
    if metres < 1000:
        return f"{round(metres / 10) * 10:.0f} m"
    text = f"{metres / 1000:.1f} km"
    return text.replace(".", ",") if lang in COMMA_DECIMAL else text


COMMA_DECIMAL = {"vi", "fr", "de", "es", "ru", "it", "pt"}


def _remember_language(response: Response, requested: str) -> None:
    if request.args.get("lang") == requested and request.cookies.get(LANG_COOKIE) != requested:
        response.set_cookie(
            LANG_COOKIE, requested, max_age=365 * 24 * 3600, samesite="Lax", path="/"
        )


@bp.route("/")
@frameable
def map_page() -> Response:
    """Hội An on a map: every published site and tour, the folded search, the kinds, and the
    walk to each place from the tourist (`near`, from the phone) or from the Covered Bridge.
    Without JavaScript or tiles it is the same list, filtered by the same GET form."""
    requested = page_language()
    q = request.args.get("q", "").strip()[:100]
    kind = request.args.get("kind", "").strip()
    near = request.args.get("near", "").strip()[:60]
    status = 200
    bad_kind = bool(kind) and kind not in SITE_KINDS
    if bad_kind:
        status, kind = 422, ""
    view = services.map_view(requested=requested, q=q, kind=kind, near=near)
    body = render_template(
        "web/map.html",
        view=view,
        q=q,
        kind=kind,
        near=near if view["position"] == "you" else "",
        kinds=SITE_KINDS,
        bad_kind=bad_kind,
        map=_map_settings(),
        url=public_url("/"),
        **_page_context(requested),
    )
    response = _html(body, status=status, lang=requested)
    _remember_language(response, requested)
    response.add_etag()
    response.make_conditional(request)
    return response


@bp.route("/tours/<string(maxlength=80):slug>")
@frameable
def tour_page(slug: str) -> Response:
    """A walking tour: its stops in order on the map, the walk, each stop's guide, "play the
    tour", offline, and the way to the next stop in the phone's map app."""
    requested = page_language()
    view = services.tour_page_view(slug=slug, requested=requested)  # a 404 page if unknown
    body = render_template(
        "web/tour.html", view=view, map=_map_settings(), **_page_context(requested)
    )
    response = _html(body, lang=view["lang"])
    _remember_language(response, requested)
    response.add_etag()
    response.make_conditional(request)
    return response
