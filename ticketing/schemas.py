"""Request and response schemas of products, orders, tickets and check-in."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.schemas import INT32_MAX, INT64_MAX, ServedLanguage
from content.schemas import LangArgsSchema
from ticketing.models import TIERS
from ticketing.payment_methods import KNOWN_METHODS

_NONCE = validate.Regexp(r"^[A-Za-z0-9._:-]{8,64}$", error="8 to 64 of A-Z a-z 0-9 . _ : -")
_NOTE = fields.String(load_default="", validate=validate.Length(max=500))


class ProductListArgsSchema(LangArgsSchema):
    pass


class ProductSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "Product number in QR codes"})
    slug = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String()
    lang = fields.String(required=True)
    currency = fields.String(required=True, metadata={"example": "VND"})
    prices = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "tier -> amount in the currency's unit (VND has no cents)"},
    )
    entries = fields.Integer(required=True, metadata={"description": "Distinct sites admitted"})
    entries_by_tier = fields.Dict(keys=fields.String(), values=fields.Integer())
    sites = fields.List(fields.String(), required=True)
    validity = fields.Dict(required=True)
    sale = fields.Dict()


class ProductListSchema(Schema):
    items = fields.List(fields.Nested(ProductSchema), required=True)


class OrderItemInSchema(Schema):
    product = fields.String(required=True, validate=validate.Length(min=1, max=80))
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    date = fields.Date(metadata={"description": "Visit date, for products sold by date"})


class OrderCreateSchema(Schema):
    items = fields.List(
        fields.Nested(OrderItemInSchema), required=True, validate=validate.Length(min=1, max=20)
    )
    email = fields.Email(required=True)
    payment_method = fields.String(required=True, validate=validate.OneOf(KNOWN_METHODS))
    language = ServedLanguage(
        metadata={"description": "For the ticket page and messages; default: negotiated"},
    )


class OrderTokenArgsSchema(Schema):
    token = fields.String(
        metadata={"description": "The order's access token (or send it as a Bearer token)"}
    )


class TicketSchema(Schema):
    serial = fields.String(required=True, metadata={"example": "3KX9Q-7M2PA"})
    product = fields.String(allow_none=True)
    tier = fields.String(required=True)
    status = fields.String(required=True)
    amount = fields.Integer()
    max_sites = fields.Integer(required=True)
    entries_left = fields.Integer(required=True)
    sites_used = fields.List(fields.String())
    sites_open = fields.List(fields.String())
    valid_from = fields.DateTime(required=True)
    valid_until = fields.DateTime(required=True)
    hours_after_first_use = fields.Integer(allow_none=True)
    first_used_at = fields.DateTime(allow_none=True)
    code = fields.String(allow_none=True, metadata={"description": "The QR text"})
    qr_svg_url = fields.String()
    qr_png_url = fields.String()
    page_url = fields.String()


class OrderItemSchema(Schema):
    product = fields.String(required=True)
    tier = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_amount = fields.Integer(required=True)
    amount = fields.Integer(required=True)
    date = fields.Date(allow_none=True)


class OrderSchema(Schema):
    code = fields.String(required=True)
    access_token = fields.String(
        metadata={"description": "Only in the answer to the create request (and its retries)"}
    )
    status = fields.String(required=True)
    email = fields.String()
    language = fields.String()
    currency = fields.String(required=True)
    total = fields.Integer(required=True)
    paid = fields.Integer()
    refunded = fields.Integer()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    items = fields.List(fields.Nested(OrderItemSchema))
    payment = fields.Dict(required=True)
    tickets = fields.List(fields.Nested(TicketSchema))


class CashPaymentSchema(Schema):
    amount_received = fields.Integer(required=True, validate=validate.Range(min=0, max=INT64_MAX))


class CashReceiptSchema(OrderSchema):
    change = fields.Integer(required=True, metadata={"description": "Cash to hand back"})


class NoteSchema(Schema):
    note = _NOTE


class RefundSchema(Schema):
    tickets = fields.List(
        fields.String(validate=validate.Length(max=20)),
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Serials to refund; all unused tickets when left out"},
    )
    note = _NOTE


class RefundResultSchema(OrderSchema):
    refund_amount = fields.Integer(required=True)


class DisputeSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(("opened", "won", "lost")))
    note = _NOTE


class ScanInSchema(Schema):
    secret = fields.String(
        validate=validate.Length(min=1, max=400), metadata={"description": "The QR text"}
    )
    serial = fields.String(
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Instead of secret, for a code too damaged to scan"},
    )
    site = fields.String(required=True, validate=validate.Length(min=1, max=80))
    nonce = fields.String(
        required=True,
        validate=_NONCE,
        metadata={"description": "Unique per scan; a repeated nonce gets the first answer"},
    )
    scanned_at = fields.AwareDateTime(required=True)

    @validates_schema
    def _one_identifier(self, data: dict[str, Any], **_: Any) -> None:
        if ("secret" in data) == ("serial" in data):
            raise ValidationError("send exactly one of secret or serial", "secret")


class OfflineScanInSchema(ScanInSchema):
    admitted = fields.Boolean(
        load_default=True, metadata={"description": "Whether the device let the person in"}
    )


class SyncInSchema(Schema):
    scans = fields.List(
        fields.Nested(OfflineScanInSchema), required=True, validate=validate.Length(min=1, max=500)
    )


class ScanTicketSchema(Schema):
    serial = fields.String(required=True)
    product = fields.String(allow_none=True)
    tier = fields.String()
    status = fields.String()
    generation = fields.Integer()
    max_sites = fields.Integer()
    sites_used = fields.List(fields.Dict())
    valid_from = fields.String()
    valid_until = fields.String()
    first_used_at = fields.String(allow_none=True)


class ScanResultSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok or error"})
    reason = fields.String(
        required=True,
        metadata={
            "description": "ok, invalid, revoked, expired, not_yet_valid, wrong_site, "
            "already_redeemed, quota_exhausted, unpaid"
        },
    )
    detail = fields.String(allow_none=True, metadata={"description": "Why, for invalid/revoked"})
    message = fields.String()
    entries_left = fields.Integer(allow_none=True)
    site = fields.String()
    nonce = fields.String()
    mode = fields.String()
    scanned_at = fields.String()
    decided_at = fields.String()
    admitted = fields.Boolean()
    conflict = fields.String(allow_none=True)
    ticket = fields.Nested(ScanTicketSchema, allow_none=True)


class SyncResultSchema(Schema):
    results = fields.List(fields.Nested(ScanResultSchema), required=True)
    conflicts = fields.Integer(required=True)


class KeySchema(Schema):
    kid = fields.Integer(required=True)
    algorithm = fields.String(required=True)
    public_key = fields.String(required=True, metadata={"description": "Raw 32 bytes, base64url"})
    status = fields.String(required=True, metadata={"description": "active, verify_only, retired"})
    created_at = fields.DateTime()
    retired_at = fields.DateTime(allow_none=True)


class KeyListSchema(Schema):
    format = fields.Integer(required=True, metadata={"description": "Code format version"})
    keys = fields.List(fields.Nested(KeySchema), required=True)


class RevocationArgsSchema(Schema):
    since = fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT32_MAX))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=5000))


class RevocationSchema(Schema):
    seq = fields.Integer(required=True)
    serial = fields.String(required=True)
    below_generation = fields.Integer(
        required=True,
        metadata={"description": "Codes of lower generations are revoked; 256 means all"},
    )
    reason = fields.String(required=True)
    revoked_at = fields.DateTime(required=True)


class RevocationPageSchema(Schema):
    items = fields.List(fields.Nested(RevocationSchema), required=True)
    cursor = fields.Integer(required=True, metadata={"description": "Send as since= next time"})
    more = fields.Boolean(required=True)


class ConflictArgsSchema(Schema):
    site = fields.String(validate=validate.Length(max=80))
    unresolved = fields.Boolean(load_default=False)
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT32_MAX))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class ConflictSchema(Schema):
    id = fields.Integer(required=True)
    conflict = fields.String(required=True)
    site = fields.String(required=True)
    serial = fields.String(allow_none=True)
    device_id = fields.Integer(allow_none=True)
    nonce = fields.String(required=True)
    scanned_at = fields.DateTime(required=True)
    received_at = fields.DateTime(required=True)
    reason = fields.String(required=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolution_note = fields.String(allow_none=True)


class ResolveSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))


class SearchArgsSchema(Schema):
    q = fields.String(
        required=True,
        validate=validate.Length(min=4, max=40),
        metadata={"description": "Order code or ticket serial"},
    )


class SearchResultSchema(Schema):
    items = fields.List(fields.Nested(TicketSchema), required=True)


class EntriesArgsSchema(Schema):
    date = fields.Date(metadata={"description": "Local day (Asia/Ho_Chi_Minh); default today"})


class SiteEntriesSchema(Schema):
    site = fields.String(required=True)
    date = fields.String(required=True)
    timezone = fields.String(required=True)
    entries = fields.Integer(required=True)
    online = fields.Integer(required=True)
    offline = fields.Integer(required=True)
    conflicts = fields.Integer(required=True)
    by_hour = fields.List(fields.Dict(), required=True)
