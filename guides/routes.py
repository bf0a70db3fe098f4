"""Audio guides and the speech pipeline: the public guide, staff uploads, translations, jobs,
publishing; and the guide files themselves, outside the API (`/media/guides`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from app.apidoc import error_responses
from app.auth.access import BEARER, current_principal, require_roles
from app.errors import NotFound, ValidationFailed
from app.http_cache import cached_public_read, content_addressed
from app.i18n import requested_language
from content import services as catalogue
from content.cache import catalogue_version
from content.schemas import LangArgsSchema
from guides import executor, jobs, narrations, presenters, published, publishing, review
from guides.models import PipelineJob
from guides.schemas import (
    GuideSchema,
    JobListArgsSchema,
    JobPageSchema,
    JobSchema,
    NarrationSchema,
    NarrationTextSchema,
    TranslationSchema,
)

blp = Blueprint("guides", __name__, url_prefix="/api/v1", description="Audio guides")
#: Guide audio and captions, outside the API: content-addressed, cached for ever.
media_bp = FlaskBlueprint("guide_media", __name__)

SLUG = "<string(maxlength=80):slug>"

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
@error_responses(blp, 404, reasons={404: ("site_not_found",)})
def site_guide(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """The audio guide in the negotiated language; fallback along the language chain."""
    site = catalogue.get_site(slug=slug)
    document = published.guide_document(site, requested=requested_language())
    g.content_language = document["lang"]
    return document


def _staff_id() -> int | None:
    principal = current_principal()
    return principal.user_id if principal else None


def _started(job: PipelineJob) -> tuple[dict[str, Any], int, dict[str, str]]:
    executor.start_job(job)
    return presenters.job_view(job), 202, {"Location": f"/api/v1/jobs/{job.id}"}


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
@error_responses(
    blp,
    401,
    403,
    404,
    413,
    415,
    422,
    reasons={
        404: ("site_not_found",),
        415: ("unsupported_format",),
        422: ("audio_rejected", "text_rejected", "unsupported_language"),
    },
)
@blp.doc(security=BEARER, requestBody=_NARRATION_BODY)
def narration_create(slug: str) -> Any:
    """Upload a narration, a recording or text (editor); 202 with the job that builds guides."""
    source_default = current_app.config["SOURCE_LANGUAGE"]
    site = narrations.site_by_slug(slug)
    if request.is_json:
        # Parsed as @blp.arguments would (the body may be a form instead): the same 422 shape.
        body = blp.ARGUMENTS_PARSER.parse(NarrationTextSchema(), location="json")
        languages = narrations.check_languages(
            source_lang=body.get("source_lang", source_default), langs=body.get("langs")
        )
        return _started(
            narrations.start_narration(
                site=site, languages=languages, text=body["text"], requested_by_id=_staff_id()
            )
        )
    upload = request.files.get("audio")
    if upload is None:
        raise ValidationFailed(
            "send JSON {text} or a multipart form with an audio file",
            errors={"audio": ["missing"]},
        )
    languages = narrations.check_languages(
        source_lang=request.form.get("source_lang") or source_default,
        langs=_langs_field(request.form.get("langs")),
    )
    recording = narrations.save_recording(
        stream=upload.stream,
        filename=upload.filename or "",
        max_bytes=narrations.upload_limit_bytes(),
    )
    return _started(
        narrations.start_narration(
            site=site, languages=languages, recording=recording, requested_by_id=_staff_id()
        )
    )


narration_create.accepts_any_body = True  # type: ignore[attr-defined]


@blp.route("/jobs")
@require_roles("editor", "finance", "inspector")
@blp.arguments(JobListArgsSchema, location="query")
@blp.response(200, JobPageSchema)
@error_responses(blp, 401, 403, 404, 422, reasons={404: ("site_not_found",)})
@blp.doc(security=BEARER)
def job_list(args: dict[str, Any]) -> dict[str, Any]:
    """Pipeline jobs (staff), newest first: filter by site, state and language."""
    site_id = narrations.site_by_slug(args["site"]).id if "site" in args else None
    rows, total = jobs.list_jobs(
        site_id=site_id,
        state=args.get("state"),
        lang=args.get("lang"),
        page=args["page"],
        per_page=args["per_page"],
    )
    return {
        "items": [presenters.job_view(job) for job in rows],
        "page": args["page"],
        "per_page": args["per_page"],
        "total": total,
        "pages": max(1, -(-total // args["per_page"])),
    }


@blp.route("/narrations/<int:narration_id>")
@require_roles("editor")
@blp.response(200, NarrationSchema)
@error_responses(blp, 401, 403, 404, reasons={404: ("no_narration",)})
@blp.doc(security=BEARER)
def narration_detail(narration_id: int) -> dict[str, Any]:
    """A narration with its drafts per language (editor): the source text or Whisper's
    transcript, each translation with its review state, the track waiting for review with what
    Whisper heard of it, and the published one."""
    return presenters.narration_view(review.get_narration(narration_id))


@blp.route("/jobs/<int:job_id>")
@require_roles("editor", "finance", "inspector")
@blp.response(200, JobSchema)
@error_responses(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def job_detail(job_id: int) -> dict[str, Any]:
    """A pipeline job (staff): overall status, each stage per language, progress and errors."""
    return presenters.job_view(jobs.get_job(job_id=job_id))


@blp.route(
    "/narrations/<int:narration_id>/translations/<lang>",
    methods=["POST"],
    endpoint="translation_set",
)
@require_roles("editor")
@blp.arguments(TranslationSchema)
@blp.response(202, JobSchema)
@error_responses(
    blp,
    401,
    403,
    404,
    422,
    reasons={404: ("no_narration",), 422: ("text_rejected", "unsupported_language")},
)
@blp.doc(security=BEARER)
def translation_set(body: dict[str, Any], narration_id: int, lang: str) -> Any:
    """Replace a machine translation with a person's (editor); that language is spoken again."""
    job = narrations.set_translation(
        narration_id=narration_id, lang=lang, text=body["text"], requested_by_id=_staff_id()
    )
    return _started(job)


@blp.route(f"/guides/{SLUG}/<lang>/publish", methods=["POST"], endpoint="guide_publish")
@require_roles("editor")
@blp.response(200, GuideSchema)
@error_responses(
    blp,
    401,
    403,
    404,
    409,
    reasons={404: ("site_not_found", "no_narration"), 409: ("nothing_to_publish",)},
)
@blp.doc(security=BEARER)
def guide_publish(slug: str, lang: str) -> dict[str, Any]:
    """Publish the reviewed guide waiting in one language (editor)."""
    guide = publishing.publish_guide(site_slug=slug, lang=lang)
    site = catalogue.get_site(slug=slug)
    return published.guide_document(site, requested=guide.lang, chain=[guide.lang])


@media_bp.route("/media/guides/<string(length=64):sha256>.<any(opus, m4a, mp3, vtt):ext>")
def guide_file(sha256: str, ext: str) -> Response:
    """A guide file by its sha256: Range requests, ETag, cached for a year."""
    row = published.file_by_url_name(sha256, f".{ext}")
    if row is None:
        raise NotFound("no such guide file")
    return content_addressed(published.media_dir() / row.path, etag=row.sha256, mimetype=row.mime)
