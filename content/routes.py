"""Public catalogue reads (cached, negotiated, ETagged) and staff site edits."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from app.apidoc import error_responses
from app.auth.access import BEARER, current_principal, require_roles
from app.errors import NotFound, PreconditionRequired, ValidationFailed
from app.http_cache import cached_public_read, content_addressed, make_etag
from app.i18n import native_name, requested_language, supported_languages
from content import geo, guides, jobs, pipeline, presenters, services
from content.cache import catalogue_version
from content.models import Site
from content.schemas import (
    GeoJSONSchema,
    GuideSchema,
    JobSchema,
    LangArgsSchema,
    LanguageListSchema,
    NarrationTextSchema,
    SiteCreateSchema,
    SiteDetailSchema,
    SiteListArgsSchema,
    SitePageSchema,
    SiteWriteSchema,
    TourListSchema,
    TourSchema,
    TranslationSchema,
    flatten_site_input,
)

blp = Blueprint("content", __name__, url_prefix="/api/v1", description="Heritage catalogue")
#: Guide audio and captions, outside the API: content-addressed, cached for ever.
media_bp = FlaskBlueprint("guide_media", __name__)

_VERSIONED_ETAG = re.compile(r"^(\d+)\.[0-9a-f]+$")
SLUG = "<string(maxlength=80):slug>"


def _ticket_products(site: Site, lang: str) -> list[Any]:
    """Products that admit to this site (filled in by ticketing when it is installed)."""
    provider = current_app.extensions.get("hoian_site_products")
    return provider(site=site, lang=lang) if provider else []


def _detail(site: Site, requested: str) -> dict[str, Any]:
    lang = presenters.served_language(site.texts, requested)
    g.content_language = lang
    g.etag_version = site.version
    return presenters.site_detail(
        site,
        requested,
        guides=services.guide_states(site_id=site.id),
        ticket_products=_ticket_products(site, lang),
    )


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
@blp.alt_response(404, response="DEFAULT_ERROR")
def site_detail(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """One site in the negotiated language, with JSON-LD; fallback along the language chain."""
    return _detail(services.get_site(slug=slug), requested_language())


@blp.route("/sites", methods=["POST"], endpoint="site_create")
@require_roles("editor")
@blp.arguments(SiteCreateSchema)
@blp.response(201, SiteDetailSchema)
@error_responses(blp, 401, 403)
@blp.alt_response(409, response="DEFAULT_ERROR", description="Slug taken")
@blp.doc(security=BEARER)
def site_create(body: dict[str, Any]) -> Any:
    """Create a site (editor)."""
    site = services.create_site(data=flatten_site_input(body))
    return _with_etag(_detail(site, requested_language()), site)


@blp.route(f"/sites/{SLUG}", methods=["PATCH"], endpoint="site_update")
@require_roles("editor")
@blp.arguments(SiteWriteSchema)
@blp.response(200, SiteDetailSchema)
@error_responses(blp, 401, 403, 404)
@blp.alt_response(412, response="DEFAULT_ERROR", description="Changed since you read it")
@blp.alt_response(428, response="DEFAULT_ERROR", description="If-Match missing")
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
        match = _VERSIONED_ETAG.match(tag)
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
@blp.alt_response(404, response="DEFAULT_ERROR")
def tour_detail(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """One tour with its ordered stops."""
    tour = services.get_tour(slug=slug)
    requested = requested_language()
    view = presenters.tour_view(tour, requested, with_stops=True)
    g.content_language = view["lang"]
    return view


# --- audio guides and the speech pipeline -----------------------------------------------------

_NARRATION_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": NarrationTextSchema},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["audio"],
                "properties": {
                    "audio": {
                        "type": "string",
                        "format": "binary",
                        "description": "wav, mp3, m4a, ogg or webm; decoded by the job",
                    },
                    "source_lang": {"type": "string"},
                    "langs": {"type": "string", "description": "comma-separated, e.g. en,fr"},
                },
            }
        },
    },
}


@blp.route(f"/sites/{SLUG}/guide")
@cached_public_read(catalogue_version)
@blp.arguments(LangArgsSchema, location="query")
@blp.response(200, GuideSchema)
@blp.alt_response(404, response="DEFAULT_ERROR")
def site_guide(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """The audio guide in the negotiated language; fallback along the language chain."""
    site = services.get_site(slug=slug)
    document = guides.guide_document(site, requested=requested_language())
    g.content_language = document["lang"]
    return document


def _staff_id() -> int | None:
    principal = current_principal()
    return principal.user_id if principal else None


def _started(job: Any) -> tuple[dict[str, Any], int, dict[str, str]]:
    jobs.queue_after_commit(pipeline.queued_tasks(job))
    return pipeline.job_view(job), 202, {"Location": f"/api/v1/jobs/{job.id}"}


def _langs_field(value: Any) -> list[str] | None:
    if value in (None, ""):
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValidationFailed("langs is a list of language codes", errors={"langs": ["list"]})
    return [item.strip() for item in items if item.strip()]


@blp.route(f"/sites/{SLUG}/narrations", methods=["POST"], endpoint="narration_create")
@require_roles("editor")
@blp.response(202, JobSchema)
@error_responses(blp, 401, 403, 404, 413, 415, 422)
@blp.doc(security=BEARER, requestBody=_NARRATION_BODY)
def narration_create(slug: str) -> Any:
    """Upload a narration, a recording or text (editor); 202 with the job that builds guides."""
    source_default = current_app.config["SOURCE_LANGUAGE"]
    if request.is_json:
        body = NarrationTextSchema().load(request.get_json(silent=True) or {})
        job = pipeline.start_narration(
            site_slug=slug,
            source_lang=body.get("source_lang", source_default),
            text=body["text"],
            langs=body.get("langs"),
            requested_by_id=_staff_id(),
        )
        return _started(job)
    upload = request.files.get("audio")
    if upload is None:
        raise ValidationFailed(
            "send JSON {text} or a multipart form with an audio file",
            errors={"audio": ["missing"]},
        )
    services.get_site(slug=slug)
    source_lang = request.form.get("source_lang") or source_default
    langs = pipeline.check_languages(
        source_lang=source_lang, langs=_langs_field(request.form.get("langs"))
    )
    limit = int(float(current_app.config["PIPELINE_MAX_UPLOAD_MB"]) * 1024 * 1024)
    recording = pipeline.save_recording(
        stream=upload.stream, filename=upload.filename or "", max_bytes=limit
    )
    job = pipeline.start_narration(
        site_slug=slug,
        source_lang=source_lang,
        recording=recording,
        langs=langs,
        requested_by_id=_staff_id(),
    )
    return _started(job)


narration_create.accepts_any_body = True  # type: ignore[attr-defined]


@blp.route("/jobs/<int:job_id>")
@require_roles("editor", "finance", "inspector")
@blp.response(200, JobSchema)
@error_responses(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def job_detail(job_id: int) -> dict[str, Any]:
    """A pipeline job (staff): overall status, each stage per language, progress and errors."""
    return pipeline.job_view(pipeline.get_job(job_id=job_id))


@blp.route(
    "/narrations/<int:narration_id>/translations/<lang>",
    methods=["POST"],
    endpoint="translation_set",
)
@require_roles("editor")
@blp.arguments(TranslationSchema)
@blp.response(202, JobSchema)
@error_responses(blp, 401, 403, 404, 422)
@blp.doc(security=BEARER)
def translation_set(body: dict[str, Any], narration_id: int, lang: str) -> Any:
    """Replace a machine translation with a person's (editor); that language is spoken again."""
    job = pipeline.set_translation(
        narration_id=narration_id, lang=lang, text=body["text"], requested_by_id=_staff_id()
    )
    return _started(job)


@blp.route(f"/guides/{SLUG}/<lang>/publish", methods=["POST"], endpoint="guide_publish")
@require_roles("editor")
@blp.response(200, GuideSchema)
@error_responses(blp, 401, 403, 404, 409)
@blp.doc(security=BEARER)
def guide_publish(slug: str, lang: str) -> dict[str, Any]:
    """Publish the reviewed guide waiting in one language (editor)."""
    guide = pipeline.publish_guide(site_slug=slug, lang=lang)
    site = services.get_site(slug=slug)
    return guides.guide_document(site, requested=guide.lang, chain=[guide.lang])


@media_bp.route("/media/guides/<string(length=64):sha256>.<any(opus, m4a, mp3, vtt):ext>")
def guide_file(sha256: str, ext: str) -> Response:
    """A guide file by its sha256: Range requests, ETag, cached for a year."""
    row = guides.file_by_url_name(sha256, f".{ext}")
    if row is None:
        raise NotFound("no such guide file")
    return content_addressed(guides.media_dir() / row.path, etag=row.sha256, mimetype=row.mime)
