"""Request and response schemas of the public catalogue and staff site edits."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.schemas import PaginationArgsSchema, ServedLanguage
from content import geo
from content.models import SITE_KINDS, Provenance

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TIME = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", error="use HH:MM (24-hour)")
_DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")


class LangArgsSchema(Schema):
    lang = ServedLanguage(metadata={"description": "Language code; wins over Accept-Language"})


class SiteListArgsSchema(PaginationArgsSchema, LangArgsSchema):
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Search any language, accents and case ignored"},
    )
    kind = fields.String(validate=validate.OneOf(SITE_KINDS))
    near = fields.String(
        metadata={"description": "lat,lon: sort by distance", "example": "15.8771,108.326"}
    )
    radius_m = fields.Float(
        validate=validate.Range(min=1, max=200_000),
        metadata={"description": "With near: only sites within this many metres"},
    )

    @validates("near")
    def _check_near(self, value: str, **_: Any) -> None:
        try:
            geo.parse_point(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    @validates_schema
    def _radius_needs_near(self, data: dict[str, Any], **_: Any) -> None:
        if "radius_m" in data and "near" not in data:
            raise ValidationError("radius_m needs near=lat,lon", "radius_m")


class LocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))


class OpeningHoursSchema(Schema):
    days = fields.List(
        fields.String(validate=validate.OneOf(_DAYS)),
        required=True,
        validate=validate.Length(min=1, max=7),
    )
    opens = fields.String(required=True, validate=_TIME)
    closes = fields.String(required=True, validate=_TIME)


class ImageVariantSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=500))
    width = fields.Integer(required=True, validate=validate.Range(min=1, max=20000))
    height = fields.Integer(validate=validate.Range(min=1, max=20000))


class ImageSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=500))
    sha256 = fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    mime = fields.String(validate=validate.OneOf(("image/jpeg", "image/png", "image/webp")))
    bytes = fields.Integer(validate=validate.Range(min=1))
    variants = fields.List(fields.Nested(ImageVariantSchema), validate=validate.Length(max=8))
    alt = fields.Dict(keys=ServedLanguage(), values=fields.String())
    width = fields.Integer(validate=validate.Range(min=1, max=20000))
    height = fields.Integer(validate=validate.Range(min=1, max=20000))
    credit = fields.String(validate=validate.Length(max=300))
    license = fields.String(validate=validate.Length(max=100))


class SiteTextInputSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    summary = fields.String(validate=validate.Length(max=1000))
    description = fields.String(validate=validate.Length(max=20000))
    provenance = fields.String(validate=validate.OneOf(tuple(Provenance)))
    reviewed = fields.Boolean()


class ExternalIdsSchema(Schema):
    osm = fields.String(allow_none=True, validate=validate.Regexp(r"^(node|way|relation)/\d+$"))
    wikidata = fields.String(allow_none=True, validate=validate.Regexp(r"^Q\d+$"))
    unesco = fields.String(allow_none=True, validate=validate.Regexp(r"^\d+(-\d+)?$"))


class SiteWriteSchema(Schema):
    """Fields staff may set; every one optional for PATCH (texts merge per language)."""

    kind = fields.String(validate=validate.OneOf(SITE_KINDS))
    location = fields.Nested(LocationSchema)
    address = fields.Dict(
        keys=ServedLanguage(),
        values=fields.String(validate=validate.Length(max=300)),
    )
    opening_hours = fields.List(fields.Nested(OpeningHoursSchema), validate=validate.Length(max=14))
    images = fields.List(fields.Nested(ImageSchema), validate=validate.Length(max=30))
    aliases = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(max=30)
    )
    ticketed = fields.Boolean()
    published = fields.Boolean()
    ids = fields.Nested(ExternalIdsSchema)
    texts = fields.Dict(keys=ServedLanguage(), values=fields.Nested(SiteTextInputSchema))


class SiteCreateSchema(SiteWriteSchema):
    slug = fields.String(
        required=True,
        validate=[
            validate.Length(min=2, max=80),
            validate.Regexp(SLUG_RE, error="lowercase a-z, 0-9 and hyphens"),
        ],
    )
    kind = fields.String(required=True, validate=validate.OneOf(SITE_KINDS))
    location = fields.Nested(LocationSchema, required=True)
    texts = fields.Dict(
        required=True,
        keys=ServedLanguage(),
        values=fields.Nested(SiteTextInputSchema),
    )

    @validates_schema
    def _names_given(self, data: dict[str, Any], **_: Any) -> None:
        if not any(text.get("name") for text in data.get("texts", {}).values()):
            raise ValidationError("at least one language needs a name", "texts")


def flatten_site_input(data: dict[str, Any]) -> dict[str, Any]:
    """Map the API shape (location, ids) onto the model's columns."""
    flat = dict(data)
    if "location" in flat:
        location = flat.pop("location")
        flat["lat"], flat["lon"] = location["lat"], location["lon"]
    if "ids" in flat:
        ids = flat.pop("ids")
        for key in ("osm", "wikidata", "unesco"):
            if key in ids:
                flat[f"{key}_id"] = ids[key]
    return flat


MACHINE_TRANSLATED = "The name and texts are a machine translation no person reviewed yet"


class SiteSummarySchema(Schema):
    slug = fields.String(required=True)
    kind = fields.String(required=True)
    name = fields.String(required=True)
    summary = fields.String()
    lang = fields.String(required=True, metadata={"description": "Language served"})
    machine_translated = fields.Boolean(metadata={"description": MACHINE_TRANSLATED})
    location = fields.Nested(LocationSchema, required=True)
    ticketed = fields.Boolean()
    url = fields.String()
    page_url = fields.String(metadata={"description": "The tourist page behind the QR plaque"})
    distance_m = fields.Integer(metadata={"description": "Only with near="})


class GuideSummarySchema(Schema):
    status = fields.String(
        required=True, validate=validate.OneOf(("ready", "pending", "unavailable"))
    )
    lang = fields.String(required=True)
    machine_translated = fields.Boolean()
    ready_languages = fields.List(fields.String())
    reason = fields.String()


class PanoramaStillSchema(Schema):
    url = fields.String(required=True)
    sha256 = fields.String(required=True)
    bytes = fields.Integer(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)


class PanoramaSchema(PanoramaStillSchema):
    still = fields.Nested(
        PanoramaStillSchema,
        required=True,
        metadata={"description": "A 1024 px still of the view, for those who cannot open it"},
    )
    alt = fields.String(
        required=True, metadata={"description": "The still's text, in the language"}
    )


class SiteDetailSchema(SiteSummarySchema):
    requested_lang = fields.String()
    description = fields.String()
    text_provenance = fields.String(allow_none=True)
    text_reviewed = fields.Boolean(allow_none=True)
    address = fields.String(allow_none=True)
    opening_hours = fields.List(fields.Nested(OpeningHoursSchema))
    images = fields.List(fields.Dict())
    panoramas = fields.List(
        fields.Nested(PanoramaSchema),
        metadata={"description": "360° views: equirectangular JPEGs (2:1) with a still"},
    )
    ids = fields.Dict()
    languages = fields.List(fields.String())
    ticket_products = fields.List(fields.Dict())
    guide = fields.Nested(GuideSummarySchema)
    version = fields.Integer(metadata={"description": "Send the ETag back in If-Match to edit"})
    updated_at = fields.DateTime()
    jsonld = fields.Dict(metadata={"description": "schema.org TouristAttraction"})


class SitePageSchema(Schema):
    items = fields.List(fields.Nested(SiteSummarySchema), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class GeoJSONSchema(Schema):
    type = fields.String(required=True, metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Dict(), required=True)


class TourStopSchema(Schema):
    position = fields.Integer(required=True)
    distance_from_previous_m = fields.Integer()
    site = fields.Nested(SiteSummarySchema, required=True)


class TourSchema(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    summary = fields.String()
    description = fields.String()
    lang = fields.String(required=True)
    machine_translated = fields.Boolean(metadata={"description": MACHINE_TRANSLATED})
    duration_min = fields.Integer()
    distance_m = fields.Integer(metadata={"description": "Along the stops, as the crow flies"})
    stop_count = fields.Integer()
    url = fields.String()
    stops = fields.List(fields.Nested(TourStopSchema))


class TourListSchema(Schema):
    items = fields.List(fields.Nested(TourSchema), required=True)


class LanguageSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "Native name"})
    source = fields.Boolean(metadata={"description": "Narration is written in this language"})
    sites_with_text = fields.Integer()
    sites_with_guide = fields.Integer(metadata={"description": "Sites with a ready audio guide"})


class LanguageListSchema(Schema):
    items = fields.List(fields.Nested(LanguageSchema), required=True)
