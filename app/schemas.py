"""Schemas shared by every domain: the error shape, pagination, served languages, PATCH bodies."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

#: The largest value of the database's `integer` (ids, cursors) and `bigint` (money) columns:
#: request fields that end up in a query are bounded by them, so PostgreSQL never sees more.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


class ErrorSchema(Schema):
    code = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = fields.String(required=True, metadata={"description": "HTTP status phrase"})
    message = fields.String(metadata={"description": "What went wrong, for people"})
    reason = fields.String(metadata={"description": "Stable machine-readable reason"})
    errors = fields.Dict(metadata={"description": "Details, e.g. field -> messages"})


class PaginationArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ServedLanguage(fields.String):
    """A code of a language this install serves (HOIAN_LANGUAGES); the OpenAPI document lists
    them as its enum (app.apidoc), so a client knows what is refused before asking."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        code: str = super()._deserialize(value, attr, data, **kwargs)
        languages = current_app.config["LANGUAGES"]
        if code not in languages:
            raise ValidationError(f"one of: {', '.join(languages)}")
        return code


class PatchSchema(Schema):
    """A PATCH body: each field optional, but one with none of them changes nothing and is
    refused (422); the OpenAPI document says so with minProperties (app.apidoc)."""

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError(f"send at least one of: {', '.join(self.fields)}")
