"""The city app's configuration and offline API (delta sync, packs), and the staff's printable
plaques."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from app.apidoc import BINARY, error_responses
from app.auth.access import BEARER, require_roles
from app.errors import NotFound
from app.http_cache import cached_public_read, content_addressed
from app.i18n import default_language, native_name, requested_language, supported_languages
from app.security import frameable
from content import services as catalogue
from content.cache import catalogue_version
from content.schemas import LangArgsSchema
from ticketing import payment_methods
from ticketing import services as tickets
from web import packs, plaques, sync
from web.schemas import ClientConfigSchema, PackSchema, SyncArgsSchema, SyncSchema

F = TypeVar("F", bound=Callable[..., Any])

blp = Blueprint(
    "web_api", __name__, url_prefix="/api/v1", description="Offline packs, sync and plaques"
)

SLUG = "<string(maxlength=80):slug>"
_STAFF = ("editor",)
_HEX32 = re.compile("[0-9a-f]{32}")
_HEX64 = re.compile("[0-9a-f]{64}")  # admins always may


def revalidated(view: F) -> F:
    """A strong ETag on the rendered body, 304 on a match, and revalidation on every use."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        requested_language()  # an unknown ?lang= is a 422 before any work
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code == 200:
            response.add_etag()
            response.headers["Cache-Control"] = "no-cache"
            response.headers["Vary"] = "Accept-Language"
            if "content_language" in g:
                response.headers["Content-Language"] = g.content_language
            response.make_conditional(request)
        return response

    return cast(F, wrapper)


@blp.route("/config")
@cached_public_read(catalogue_version)
@blp.response(200, ClientConfigSchema)
def client_config() -> dict[str, Any]:
    """What a client needs to know of this server: languages, payment methods, currency."""
    config = current_app.config
    currencies = sorted({product.currency for product in tickets.list_products()})
    return {
        "api_version": config["API_VERSION"],
        "languages": [{"code": code, "name": native_name(code)} for code in supported_languages()],
        "source_language": config["SOURCE_LANGUAGE"],
        "default_language": default_language(),
        "payment_methods": payment_methods.enabled(),
        "currency": currencies[0] if currencies else None,
        "timezone": config["TIMEZONE"],
        "public_base_url": config["PUBLIC_BASE_URL"],
    }


@blp.route("/sync")
@revalidated
@blp.arguments(SyncArgsSchema, location="query")
@blp.response(200, SyncSchema)
@error_responses(blp, 422)
def sync_changes(args: dict[str, Any]) -> dict[str, Any]:
    """What changed since your cursor (sites, tours, guides, products, deletions); keep `cursor`.

    Without `since` (or with a cursor this server cannot answer from its log) you get a full
    snapshot with `full: true`.
    """
    g.content_language = requested_language()
    return sync.changes_since(since=args.get("since"), requested=g.content_language)


@blp.route(f"/packs/sites/{SLUG}")
@revalidated
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, PackSchema)
@error_responses(blp, 404, 422, reasons={404: ("site_not_found",)})
def site_pack(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """A site's offline pack in one language: the zip's URL and every file in it."""
    g.content_language = requested_language()
    return packs.site_pack(slug=slug, lang=g.content_language)


@blp.route(f"/packs/tours/{SLUG}")
@revalidated
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, PackSchema)
@error_responses(blp, 404, 422, reasons={404: ("tour_not_found",)})
def tour_pack(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """A tour's offline pack in one language: the tour, and every stop's site and guide."""
    g.content_language = requested_language()
    return packs.tour_pack(slug=slug, lang=g.content_language)


@blp.route("/packs/<version>.zip")
@blp.response(200, BINARY, content_type="application/zip", description="The pack (Range requests)")
@error_responses(blp, 404, 416)
def pack_zip(version: str) -> Response:
    """A pack's zip, named by its version: resumable with Range, cached for a year."""
    facts = packs.zip_facts(version) if _HEX32.fullmatch(version) else None
    if facts is None:
        raise NotFound("no such pack; ask for its manifest first")
    return content_addressed(
        packs.zip_path(version), etag=facts["sha256"], mimetype="application/zip"
    )


@blp.route("/packs/blobs/<sha256>.json")
@blp.response(
    200,
    {"type": "object", "additionalProperties": True},
    content_type="application/json",
    description="One document of a pack",
)
@error_responses(blp, 404, 416)
def pack_blob(sha256: str) -> Response:
    """One JSON document of a pack, named by its sha256."""
    if not _HEX64.fullmatch(sha256):
        raise NotFound("no such file")
    return content_addressed(packs.blob_path(sha256), etag=sha256, mimetype="application/json")


@blp.route(f"/sites/{SLUG}/plaque.svg")
@frameable
@require_roles(*_STAFF)
@blp.response(200, BINARY, content_type="image/svg+xml", description="An A5 plaque, SVG")
@error_responses(blp, 401, 403, 404, reasons={404: ("site_not_found",)})
@blp.doc(security=BEARER)
def plaque_svg(slug: str) -> Response:
    """The site's A5 plaque as SVG (editor): names, QR code to its page, "scan" lines."""
    site = catalogue.get_site(slug=slug, include_unpublished=True)
    body = plaques.svg(plaques.plaque_for(site))
    return plaques.document_response(body, "image/svg+xml", f"plaque-{slug}.svg", download=False)


@blp.route(f"/sites/{SLUG}/plaque.pdf")
@frameable
@require_roles(*_STAFF)
@blp.response(200, BINARY, content_type="application/pdf", description="An A5 plaque, PDF")
@error_responses(
    blp, 401, 403, 404, 503, reasons={404: ("site_not_found",), 503: ("font_missing",)}
)
@blp.doc(security=BEARER)
def plaque_pdf(slug: str) -> Response:
    """The site's A5 plaque as PDF for the printer (editor)."""
    site = catalogue.get_site(slug=slug, include_unpublished=True)
    return plaques.pdf_response([plaques.plaque_for(site)], f"plaque-{slug}.pdf", download=False)


@blp.route("/plaques.pdf")
@frameable
@require_roles(*_STAFF)
@blp.response(
    200, BINARY, content_type="application/pdf", description="Every plaque, one A5 a page"
)
@error_responses(blp, 401, 403, 503, reasons={503: ("font_missing",)})
@blp.doc(security=BEARER)
def all_plaques_pdf() -> Response:
    """One PDF with every published site's plaque, one A5 page each, by slug (editor)."""
    every = [plaques.plaque_for(site) for site in catalogue.all_published_sites()]
    return plaques.pdf_response(every, "plaques.pdf", download=True)
