"""Request and response schemas for authentication and staff management."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.auth.models import ROLE_VALUES
from app.schemas import PatchSchema

_ROLE = fields.String(validate=validate.OneOf(ROLE_VALUES))


class LoginSchema(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_at = fields.String(required=True)


class UserCreateSchema(Schema):
    email = fields.Email(required=True)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    password = fields.String(required=True, validate=validate.Length(min=10, max=1024))
    roles = fields.List(_ROLE, required=True, validate=validate.Length(min=1))


class UserUpdateSchema(PatchSchema):
    name = fields.String(validate=validate.Length(max=200))
    password = fields.String(validate=validate.Length(min=10, max=1024))
    roles = fields.List(_ROLE, validate=validate.Length(min=1))
    active = fields.Boolean()


class UserSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String()
    roles = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class MeSchema(Schema):
    label = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    user_id = fields.Integer(allow_none=True)
    device_id = fields.Integer(allow_none=True)


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    actor_label = fields.String(required=True)
    action = fields.String(required=True)
    object_type = fields.String(required=True)
    object_id = fields.String(required=True)
    changes = fields.Dict()
    request_id = fields.String(allow_none=True)


class AuditQuerySchema(Schema):
    object_type = fields.String(validate=validate.Length(min=1, max=40))
    object_id = fields.String(validate=validate.Length(min=1, max=80))
    action = fields.String(
        validate=validate.Length(min=1, max=80),
        metadata={"description": "An action or its prefix, e.g. `site.` or `order.refund`"},
    )
    actor_user_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    since = fields.AwareDateTime(metadata={"description": "From this moment on (ISO 8601)"})
    until = fields.AwareDateTime(metadata={"description": "Before this moment (ISO 8601)"})
    before_id = fields.Integer(
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "Cursor: rows older than this id (the last id of a page)"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
