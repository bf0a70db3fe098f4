"""Schemas shared by every domain: the error shape and pagination."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = fields.String(required=True, metadata={"description": "HTTP status phrase"})
    message = fields.String(metadata={"description": "What went wrong, for people"})
    reason = fields.String(metadata={"description": "Stable machine-readable reason"})
    errors = fields.Dict(metadata={"description": "Details, e.g. field -> messages"})


class PaginationArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
