"""Request and response schemas of audio guides, narrations and pipeline jobs."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas import PaginationArgsSchema, ServedLanguage
from guides.models import JobState


class GuideTrackSchema(Schema):
    format = fields.String(metadata={"description": "opus (Opus in Ogg) or aac (AAC in MP4)"})
    url = fields.String(metadata={"description": "Content-addressed; cacheable for ever"})
    bytes = fields.Integer()
    duration_s = fields.Float()
    sha256 = fields.String()
    mime = fields.String()


class GuideFallbackSchema(Schema):
    requested = fields.String()
    status = fields.String()
    reason = fields.String()


class GuideSchema(Schema):
    site = fields.String()
    status = fields.String(metadata={"description": "ready, pending or unavailable"})
    lang = fields.String(metadata={"description": "The language served"})
    requested_lang = fields.String()
    machine_translated = fields.Boolean()
    tracks = fields.List(fields.Nested(GuideTrackSchema))
    transcript = fields.String()
    captions_url = fields.String(allow_none=True, metadata={"description": "WebVTT"})
    duration_s = fields.Float(allow_none=True)
    published_at = fields.String(allow_none=True)
    reason = fields.String(
        metadata={
            "description": "Why the requested language is not ready, in public words only: "
            "`being prepared` (pending) or `no narration in this language yet` (unavailable); "
            "the pipeline's reasons are for staff (GET /api/v1/narrations/{id}, /api/v1/jobs)"
        }
    )
    fallback = fields.Nested(GuideFallbackSchema, allow_none=True)
    available_languages = fields.List(fields.String())


class NarrationTextSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(max=20_000))
    source_lang = ServedLanguage()
    langs = fields.List(
        ServedLanguage(),
        metadata={"description": "Languages to build (default: every served language)"},
    )


class TranslationSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


class JobErrorSchema(Schema):
    reason = fields.String()
    message = fields.String()


class JobStageSchema(Schema):
    id = fields.Integer()
    stage = fields.String(metadata={"description": "source, translate or speech"})
    lang = fields.String()
    status = fields.String(
        metadata={
            "description": "blocked, queued, running, succeeded, skipped, pending, failed, "
            "cancelled"
        }
    )
    progress = fields.Float()
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    result = fields.Dict()


class HearingSchema(Schema):
    lang = fields.String()
    metric = fields.String(metadata={"description": "wer, or cer for ja, zh and ko"})
    error = fields.Float(metadata={"description": "Round-trip error of the synthesized track"})
    bound = fields.Float(metadata={"description": "Above it the track waits for an editor"})
    intelligible = fields.Boolean()
    heard = fields.String(metadata={"description": "What Whisper heard"})
    reason = fields.String()


class JobLanguageSchema(Schema):
    status = fields.String()
    progress = fields.Float()
    error = fields.Nested(JobErrorSchema, allow_none=True)
    hearing = fields.Nested(HearingSchema, allow_none=True)


class JobSchema(Schema):
    id = fields.Integer()
    site = fields.String(allow_none=True)
    tour = fields.String(
        allow_none=True, metadata={"description": "A catalogue job translating a tour's texts"}
    )
    narration_id = fields.Integer(allow_none=True)
    kind = fields.String()
    status = fields.String(
        metadata={
            "description": "queued, running, succeeded or failed; a succeeded job may still "
            "leave languages pending (see pending_languages)"
        }
    )
    source_lang = fields.String()
    langs = fields.List(fields.String())
    pending_languages = fields.List(
        fields.String(),
        metadata={"description": "Languages left pending, e.g. waiting for a model; see each"},
    )
    auto_publish = fields.Boolean()
    progress = fields.Float()
    error = fields.Nested(JobErrorSchema, allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    languages = fields.Dict(keys=fields.String(), values=fields.Nested(JobLanguageSchema))
    stages = fields.List(fields.Nested(JobStageSchema))


class JobListArgsSchema(PaginationArgsSchema):
    site = fields.String(validate=validate.Length(max=80), metadata={"description": "Site slug"})
    state = fields.String(
        validate=validate.OneOf([s.value for s in JobState]),
        metadata={"description": "queued, running, succeeded or failed"},
    )
    lang = ServedLanguage(metadata={"description": "Jobs that build this language"})


class JobPageSchema(Schema):
    items = fields.List(fields.Nested(JobSchema), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class TrackFileSchema(Schema):
    format = fields.String()
    url = fields.String()
    bytes = fields.Integer()
    mime = fields.String()


class DraftTrackSchema(Schema):
    id = fields.Integer()
    content_key = fields.String()
    transcript = fields.String()
    machine_translated = fields.Boolean()
    voice_id = fields.String(allow_none=True, metadata={"description": "None: a recording"})
    duration_s = fields.Float()
    loudness_lufs = fields.Float(allow_none=True)
    created_at = fields.DateTime()
    job_id = fields.Integer(allow_none=True)
    files = fields.List(fields.Nested(TrackFileSchema))
    captions_url = fields.String(allow_none=True, metadata={"description": "WebVTT"})
    hearing = fields.Dict(
        allow_none=True,
        metadata={"description": "What Whisper heard of synthesized speech (error, bound, heard)"},
    )


class NarrationLanguageSchema(Schema):
    state = fields.String(
        metadata={"description": "machine, needs_review, approved or published (Weblate's)"}
    )
    text = fields.String(allow_none=True, metadata={"description": "The words of this language"})
    provenance = fields.String(allow_none=True, metadata={"description": "human or machine"})
    approved = fields.Boolean()
    guide_status = fields.String(metadata={"description": "ready, pending or unavailable"})
    reason = fields.String(metadata={"description": "Why it is not ready (staff words)"})
    draft = fields.Nested(DraftTrackSchema, allow_none=True)
    published = fields.Nested(DraftTrackSchema, allow_none=True)
    published_at = fields.DateTime(allow_none=True)


class NarrationSchema(Schema):
    id = fields.Integer()
    site = fields.String(allow_none=True)
    source_lang = fields.String()
    source_kind = fields.String(metadata={"description": "text or recording"})
    text = fields.String(metadata={"description": "The source text (a recording's transcript)"})
    transcript_draft = fields.String(
        allow_none=True, metadata={"description": "Whisper's transcript, as corrected"}
    )
    recording_sha256 = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    languages = fields.Dict(keys=fields.String(), values=fields.Nested(NarrationLanguageSchema))
