"""Schemas of the sync and pack answers (the OpenAPI document is generated from them)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas import INT32_MAX
from content.schemas import LangArgsSchema, SiteDetailSchema, TourSchema
from guides.schemas import GuideSchema
from ticketing.schemas import ProductSchema


class SyncArgsSchema(LangArgsSchema):
    since = fields.Integer(
        validate=validate.Range(min=0, max=INT32_MAX),
        metadata={"description": "The `cursor` of your last sync; leave out for everything"},
    )


class TombstoneSchema(Schema):
    type = fields.String(required=True, metadata={"description": "site, tour, guide or product"})
    slug = fields.String(metadata={"description": "The site, tour or product (not for guides)"})
    site = fields.String(metadata={"description": "A guide's site"})
    lang = fields.String(metadata={"description": "A guide's language"})


class SyncSchema(Schema):
    cursor = fields.Integer(
        required=True, metadata={"description": "Send as `since` next time (opaque, increasing)"}
    )
    since = fields.Integer(allow_none=True)
    full = fields.Boolean(
        required=True,
        metadata={"description": "A full snapshot: replace everything you hold with this"},
    )
    lang = fields.String(required=True)
    sites = fields.List(fields.Nested(SiteDetailSchema), required=True)
    tours = fields.List(fields.Nested(TourSchema), required=True)
    products = fields.List(fields.Nested(ProductSchema), required=True)
    guides = fields.List(
        fields.Nested(GuideSchema),
        required=True,
        metadata={"description": "Each changed guide in its own language (no fallback)"},
    )
    deleted = fields.List(
        fields.Nested(TombstoneSchema),
        required=True,
        metadata={"description": "Gone from the public view: deleted, unpublished, withdrawn"},
    )


class PackFileSchema(Schema):
    path = fields.String(required=True, metadata={"description": "Path inside the zip"})
    url = fields.String(required=True, metadata={"description": "The file alone (Range, ETag)"})
    bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    mime = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "document, audio or captions"})
    version = fields.String(required=True)


class PackSchema(Schema):
    format = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "site or tour"})
    slug = fields.String(required=True)
    lang = fields.String(required=True)
    version = fields.String(
        required=True, metadata={"description": "Changes exactly when a file in the pack does"}
    )
    url = fields.String(
        required=True, metadata={"description": "The zip (Range, ETag, cached for a year)"}
    )
    bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    files = fields.List(fields.Nested(PackFileSchema), required=True)
    pages = fields.List(
        fields.String(), required=True, metadata={"description": "Tourist pages of the pack"}
    )


class ClientLanguageSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "Native name"})


class ClientConfigSchema(Schema):
    api_version = fields.String(required=True, metadata={"example": "v1"})
    languages = fields.List(
        fields.Nested(ClientLanguageSchema),
        required=True,
        metadata={"description": "Served languages, the source language first"},
    )
    source_language = fields.String(required=True)
    default_language = fields.String(
        required=True, metadata={"description": "What a caller who states no language gets"}
    )
    payment_methods = fields.List(
        fields.String(validate=validate.OneOf(("cash", "vietqr", "stripe"))),
        required=True,
        metadata={"description": "Methods a new order may name now, in the town's order"},
    )
    currency = fields.String(
        allow_none=True, metadata={"description": "What tickets are priced in (no products: null)"}
    )
    timezone = fields.String(required=True, metadata={"example": "Asia/Ho_Chi_Minh"})
    public_base_url = fields.String(required=True)
