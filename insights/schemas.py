"""Request and response schemas of listening events, feedback and reports."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas import ServedLanguage
from insights.models import EventKind, EventSource, FeedbackState, FeedbackTopic

#: Events in one batch; a page sends a few at a time, an offline pack at most this many.
MAX_EVENTS_PER_BATCH = 100
SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,79}$", error="a site's slug")
#: A language someone may ask for, served or not (`it`, `pt-BR`).
LANGUAGE_TAG = validate.Regexp(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$", error="a language code")


class EventSchema(Schema):
    id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$", error="8 to 64 letters, digits, - or _"),
        metadata={"description": "Made by the client (a UUID); the same id is counted once"},
    )
    kind = fields.String(required=True, validate=validate.OneOf(tuple(EventKind)))
    site = fields.String(required=True, validate=SLUG)
    lang = fields.String(
        required=True,
        validate=validate.Length(min=2, max=8),
        metadata={"description": "The language served (one of the served languages)"},
    )
    requested_lang = fields.String(
        load_default=None,
        validate=LANGUAGE_TAG,
        metadata={"description": "The language asked for, when another was served"},
    )
    track = fields.String(load_default=None, validate=validate.Length(max=120))
    source = fields.String(load_default="page", validate=validate.OneOf(tuple(EventSource)))
    duration_s = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=36000),
        metadata={"description": "The track's length, on progress events (minutes listened)"},
    )
    at = fields.AwareDateTime(
        load_default=None,
        metadata={"description": "When it happened on the device (the server's time if unset)"},
    )


class EventBatchSchema(Schema):
    events = fields.List(
        fields.Nested(EventSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_EVENTS_PER_BATCH),
    )


class EventBatchAnswerSchema(Schema):
    received = fields.Integer(required=True)
    stored = fields.Integer(
        required=True, metadata={"description": "New events (the others were sent before)"}
    )


#: The longest comment a tourist may write (about a page of text).
MAX_COMMENT = 2000


#: The longest sentence a tourist may quote from a guide's text.
MAX_QUOTE = 1000


class FeedbackSchema(Schema):
    rating = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=5),
        metadata={"description": "1 to 5; required, except on a translation error with a quote"},
    )
    topic = fields.String(required=True, validate=validate.OneOf(tuple(FeedbackTopic)))
    comment = fields.String(load_default="", validate=validate.Length(max=MAX_COMMENT))
    quote = fields.String(
        load_default=None,
        validate=validate.Length(max=MAX_QUOTE),
        metadata={"description": "A translation error: the sentence of the guide's text"},
    )
    guide_language = ServedLanguage(
        load_default=None,
        metadata={
            "description": "A translation error: the language of the guide's text it is about "
            "(default: language); it reaches that language's review queue"
        },
    )
    site = fields.String(load_default=None, validate=SLUG)
    language = ServedLanguage(required=True, metadata={"description": "The page's language"})
    website = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Leave empty (a field people never see; robots fill it)"},
    )


class FeedbackAnswerSchema(Schema):
    id = fields.Integer(allow_none=True)
    state = fields.String(
        required=True,
        validate=validate.OneOf(tuple(FeedbackState)),
        metadata={"description": "open, or held for moderation (a link in the comment)"},
    )


class ReportArgsSchema(Schema):
    start = fields.Date(
        data_key="from",
        load_default=None,
        metadata={"description": "First local day (default: 30 days before `to`)"},
    )
    end = fields.Date(
        data_key="to",
        load_default=None,
        metadata={"description": "Last local day (default: today)"},
    )
    site = fields.String(load_default=None, validate=SLUG)
    group = fields.String(
        load_default=None,
        validate=validate.OneOf(("hour", "day", "week")),
        metadata={"description": "Buckets in Asia/Ho_Chi_Minh (default: by the range's length)"},
    )
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xlsx")))


class ReportSchema(Schema):
    report = fields.String(required=True)
    range = fields.Dict(required=True)
    totals = fields.Dict(required=True)
    previous = fields.Dict(required=True, metadata={"description": "The period just before"})
    change = fields.Dict(required=True, metadata={"description": "totals minus previous totals"})
    tables = fields.Dict(
        required=True, metadata={"description": "Named tables: lists of rows (objects)"}
    )
    chart = fields.Dict(required=True)
