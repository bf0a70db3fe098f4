"""Public catalogue reads (cached, negotiated, ETagged) and staff site edits."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from app.apidoc import error_responses
from app.auth.access import BEARER, require_roles
from app.errors import NotFound, PreconditionRequired, ValidationFailed
from app.http_cache import cached_public_read, content_addressed, make_etag
from app.i18n import native_name, requested_language, supported_languages
from content import geo, images, panoramas, presenters, services
from content.cache import catalogue_version
from content.models import Site
from content.schemas import (
    GeoJSONSchema,
    LangArgsSchema,
    LanguageListSchema,
    PanoramaSchema,
    SiteCreateSchema,
    SiteDetailSchema,
    SiteListArgsSchema,
    SitePageSchema,
    SiteWriteSchema,
    TourListSchema,
    TourSchema,
    flatten_site_input,
)

blp = Blueprint("content", __name__, url_prefix="/api/v1", description="Heritage catalogue")
media_bp = FlaskBlueprint("content_media", __name__)

_VERSIONED_ETAG = re.compile(r"^(\d+)\.[0-9a-f]+$")
SLUG = "<string(maxlength=80):slug>"


def _detail(site: Site, requested: str) -> dict[str, Any]:
    g.content_language = presenters.served_language(site.texts, requested)
    g.etag_version = site.version
    return presenters.site_detail(site, requested)


@blp.route("/languages")
@cached_public_read(catalogue_version)
@blp.response(200, LanguageListSchema)
def languages() -> dict[str, Any]:
    """Supported languages, with how many sites have text and a ready guide in each."""
    stats = services.language_stats()
    source = current_app.config["SOURCE_LANGUAGE"]
    return {
        "items": [
            {
                "code": code,
                "name": native_name(code),
                "source": code == source,
                "sites_with_text": stats.get(code, {}).get("sites_with_text", 0),
                "sites_with_guide": stats.get(code, {}).get("sites_with_guide", 0),
            }
            for code in supported_languages()
        ]
    }


@blp.route("/sites")
@cached_public_read(catalogue_version)
@blp.arguments(SiteListArgsSchema, location="query")
@blp.response(200, SitePageSchema)
def site_list(args: dict[str, Any]) -> dict[str, Any]:
    """Published sites: search in any language, filter by kind, or sort by distance."""
    requested = requested_language()
    near = geo.parse_point(args["near"]) if "near" in args else None
    result = services.search_sites(
        q=args.get("q"),
        kind=args.get("kind"),
        near=near,
        radius_m=args.get("radius_m"),
        page=args["page"],
        per_page=args["per_page"],
        name_lang=requested,
    )
    g.content_language = requested
    return {
        "items": [
            presenters.site_summary(hit.site, requested, hit.distance_m) for hit in result.items
        ],
        "page": result.page,
        "per_page": result.per_page,
        "total": result.total,
        "pages": result.pages,
    }


@blp.route("/sites.geojson")
@cached_public_read(catalogue_version)
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, GeoJSONSchema, content_type="application/geo+json")
def sites_geojson(args: dict[str, Any]) -> Any:
    """Every published site as a GeoJSON FeatureCollection (for maps)."""
    requested = requested_language()
    g.content_language = requested
    body = {
        "type": "FeatureCollection",
        "features": [
            presenters.site_feature(site, requested) for site in services.all_published_sites()
        ],
    }
    return current_app.response_class(
        json.dumps(body, ensure_ascii=False), mimetype="application/geo+json"
    )


@blp.route(f"/sites/{SLUG}")
@cached_public_read(catalogue_version)
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, SiteDetailSchema)
@error_responses(blp, 404, reasons={404: ("site_not_found",)})
def site_detail(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """One site in the negotiated language, with JSON-LD; fallback along the language chain."""
    return _detail(services.get_site(slug=slug), requested_language())


@blp.route("/sites", methods=["POST"], endpoint="site_create")
@require_roles("editor")
@blp.arguments(SiteCreateSchema)
@blp.response(201, SiteDetailSchema)
@error_responses(blp, 401, 403, 409, reasons={409: ("slug_taken",), 422: ("name_required",)})
@blp.doc(security=BEARER)
def site_create(body: dict[str, Any]) -> Any:
    """Create a site (editor)."""
    site = services.create_site(data=flatten_site_input(body))
    return _with_etag(_detail(site, requested_language()), site)


@blp.route(f"/sites/{SLUG}", methods=["PATCH"], endpoint="site_update")
@require_roles("editor")
@blp.arguments(SiteWriteSchema)
@blp.response(200, SiteDetailSchema)
@error_responses(
    blp,
    401,
    403,
    404,
    409,
    412,
    428,
    reasons={404: ("site_not_found",), 409: ("edit_conflict",), 422: ("name_required",)},
)
@blp.doc(
    security=BEARER,
    parameters=[
        {"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"}}
    ],
)
def site_update(body: dict[str, Any], slug: str) -> Any:
    """Edit a site (editor); send the ETag you read in If-Match so edits never collide."""
    site = services.update_site(
        slug=slug, expected_version=_expected_version(), data=flatten_site_input(body)
    )
    return _with_etag(_detail(site, requested_language()), site)


def _expected_version() -> int:
    tags = request.if_match
    if tags.star_tag or not tags:
        raise PreconditionRequired()
    for tag in tags.as_set():
        match = _VERSIONED_ETAG.match(tag) if tag else None  # `If-Match: ""` holds no tag
        if match:
            return int(match.group(1))
    raise PreconditionRequired("If-Match does not hold an ETag of this site; GET it first.")


def _with_etag(detail: dict[str, Any], site: Site) -> tuple[dict[str, Any], dict[str, str]]:
    body = json.dumps(detail, default=str, sort_keys=True).encode()
    return detail, {"ETag": f'"{make_etag(body, site.version)}"'}


@blp.route("/tours")
@cached_public_read(catalogue_version)
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, TourListSchema)
def tour_list(args: dict[str, Any]) -> dict[str, Any]:
    """Published tours with their distance and duration."""
    requested = requested_language()
    g.content_language = requested
    return {
        "items": [
            presenters.tour_view(t, requested, with_stops=False) for t in services.list_tours()
        ]
    }


@blp.route(f"/tours/{SLUG}")
@cached_public_read(catalogue_version)
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, TourSchema)
@error_responses(blp, 404, reasons={404: ("tour_not_found",)})
def tour_detail(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """One tour with its ordered stops."""
    tour = services.get_tour(slug=slug)
    requested = requested_language()
    view = presenters.tour_view(tour, requested, with_stops=True)
    g.content_language = view["lang"]
    return view


@media_bp.route(f"{images.URL_PREFIX}/<string(minlength=68, maxlength=69):name>")
def image_file(name: str) -> Response:
    """A site image or one of its resized copies, by the sha256 of its bytes: cached a year."""
    found = images.stored_file(name)
    if found is None:
        raise NotFound("no such image", reason="image_not_found")
    path, mime = found
    return content_addressed(path, etag=path.stem, mimetype=mime)


_PANORAMA_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "image": {
                        "type": "string",
                        "format": "binary",
                        "description": "an equirectangular JPEG, twice as wide as high",
                    },
                    "alt_vi": {"type": "string", "description": "what the view shows"},
                    "alt_en": {"type": "string", "description": "alt_<lang> for each language"},
                },
            }
        }
    },
}


@blp.route(f"/sites/{SLUG}/panoramas", methods=["POST"])
@require_roles("editor")
@blp.response(201, PanoramaSchema)
@error_responses(
    blp,
    401,
    403,
    404,
    413,
    422,
    reasons={
        404: ("site_not_found",),
        413: ("file_too_large",),
        422: (
            "not_an_image",
            "not_jpeg",
            "not_equirectangular",
            "too_small",
            "decompression_bomb",
            "not_decodable",
            "alt_required",
        ),
    },
)
@blp.doc(security=BEARER, requestBody=_PANORAMA_BODY)
def panorama_create(slug: str) -> Any:
    """Add a 360° view to a site (editor): checked (JPEG, decodes, 2:1, size and pixel limits),
    kept with a still; it shows on the site's page and travels in packs and /sync."""
    site = services.get_site(slug=slug, include_unpublished=True)
    upload = request.files.get("image")
    if upload is None:
        raise ValidationFailed(
            "send a multipart form with an image file", errors={"image": ["missing"]}
        )
    alt = {key[4:]: value for key, value in request.form.items() if key.startswith("alt_")}
    try:
        row = panoramas.add_panorama(site=site, stream=upload.stream, alt=alt)
    finally:
        upload.close()  # a large upload is a temporary file: gone now, refused or kept
    return panoramas.panorama_view(row, requested_language()), 201


panorama_create.accepts_any_body = True  # type: ignore[attr-defined]


@media_bp.route("/media/panoramas/<string(length=64):sha256>.jpg", defaults={"still": False})
@media_bp.route("/media/panoramas/<string(length=64):sha256>-still.jpg", defaults={"still": True})
def panorama_file(sha256: str, still: bool) -> Response:
    """A panorama's JPEG, or its still, by the panorama's sha256: Range, ETag, a year's cache."""
    row = panoramas.by_file(sha256)
    if row is None or row.sha256 != sha256:
        raise NotFound("no such panorama")
    etag = row.still_sha256 if still else row.sha256
    path = panoramas.file_path(sha256, still=still)
    return content_addressed(path, etag=etag, mimetype="image/jpeg")
