"""Request and response schemas of products, orders, tickets and check-in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.schemas import INT32_MAX, INT64_MAX, ServedLanguage
from content.schemas import LangArgsSchema
from ticketing.models import TIERS
from ticketing.payment_methods import KNOWN_METHODS
from ticketing.verify import Reason

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
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    status = fields.String(
        required=True, validate=validate.OneOf(("valid", "refunded", "cancelled"))
    )
    amount = fields.Integer()
    max_sites = fields.Integer(required=True)
    entries_left = fields.Integer(required=True)
    sites_used = fields.List(fields.String(), metadata={"description": "Sites entered (slugs)"})
    sites_open = fields.List(fields.String())
    valid_from = fields.DateTime(required=True)
    valid_until = fields.DateTime(required=True)
    hours_after_first_use = fields.Integer(allow_none=True)
    first_used_at = fields.DateTime(allow_none=True)
    code = fields.String(allow_none=True, metadata={"description": "The QR text"})
    qr_svg_url = fields.String()
    qr_png_url = fields.String()
    page_url = fields.String(
        metadata={"description": "The printable page; carries the order's token for its buyer"}
    )


class OrderItemSchema(Schema):
    product = fields.String(required=True, metadata={"description": "The product's slug"})
    name = fields.String(metadata={"description": "The product's name, in the order's language"})
    tier = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_amount = fields.Integer(required=True)
    amount = fields.Integer(required=True)
    date = fields.Date(allow_none=True)


class OrderMailMessageSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(
        required=True, validate=validate.OneOf(("order_confirmation", "refund_notice"))
    )
    state = fields.String(
        required=True,
        validate=validate.OneOf(("queued", "sending", "sent", "failed")),
        metadata={"description": "queued (or waiting to retry), sending, sent, failed"},
    )
    recipient = fields.String(required=True)
    attempts = fields.Integer(required=True)
    error = fields.String(allow_none=True, metadata={"description": "Why the last try failed"})
    next_attempt_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    transport = fields.String(
        allow_none=True,
        validate=validate.OneOf(("smtp", "file")),
        metadata={"description": "smtp, or file: written as .eml on the server, not mailed"},
    )


class OrderMailSchema(Schema):
    delivery = fields.String(
        required=True,
        validate=validate.OneOf(("smtp", "file")),
        metadata={
            "description": "How messages reach the buyer here: smtp, or file when no mail "
            "server is configured (nothing is mailed; keep the order's links)"
        },
    )
    messages = fields.List(fields.Nested(OrderMailMessageSchema), required=True)


class PaymentInstructionsSchema(Schema):
    """How to pay an order; which fields appear depends on `method` (see docs/api.md)."""

    method = fields.String(required=True, validate=validate.OneOf(KNOWN_METHODS))
    status = fields.String(required=True, metadata={"description": "The order's status"})
    provider = fields.String(metadata={"description": "stripe or vietqr"})
    payment_state = fields.String(
        allow_none=True, metadata={"description": "The current payment row's state"}
    )
    amount = fields.Integer(metadata={"description": "What to pay, in the currency's unit"})
    currency = fields.String()
    reference = fields.String(
        metadata={"description": "cash: the order code; vietqr: the transfer note to keep"}
    )
    pay_at = fields.String(metadata={"description": "cash: where (a ticket desk)"})
    bank_bin = fields.String(metadata={"description": "vietqr: the bank's 6-digit NAPAS BIN"})
    account = fields.String(metadata={"description": "vietqr: the receiving account"})
    account_name = fields.String(allow_none=True)
    payload = fields.String(metadata={"description": "vietqr: the EMVCo QR text"})
    qr_url = fields.String(metadata={"description": "vietqr: the QR code as PNG"})
    qr_svg_url = fields.String(metadata={"description": "vietqr: the QR code as SVG"})
    publishable_key = fields.String(allow_none=True, metadata={"description": "stripe"})
    payment_intent = fields.String(allow_none=True, metadata={"description": "stripe"})
    client_secret = fields.String(
        allow_none=True, metadata={"description": "stripe: confirm the PaymentIntent with it"}
    )


ORDER_STATUSES = (
    "pending",
    "paid",
    "partially_refunded",
    "refunded",
    "disputed",
    "cancelled",
    "expired",
)


class OrderSchema(Schema):
    code = fields.String(required=True)
    access_token = fields.String(
        metadata={"description": "Only in the answer to the create request (and its retries)"}
    )
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
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
    payment = fields.Nested(PaymentInstructionsSchema, required=True)
    tickets = fields.List(fields.Nested(TicketSchema))
    mail = fields.Nested(OrderMailSchema, metadata={"description": "Mail to the buyer"})


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
    direction = fields.String(
        load_default="entry",
        validate=validate.OneOf(("entry", "exit")),
        metadata={"description": "entry (default), or exit: a visitor leaving (occupancy)"},
    )

    @validates_schema
    def _one_identifier(self, data: dict[str, Any], **_: Any) -> None:
        if ("secret" in data) == ("serial" in data):
            raise ValidationError("send exactly one of secret or serial", "secret")


class OfflineScanInSchema(ScanInSchema):
    admitted = fields.Boolean(
        load_default=True, metadata={"description": "Whether the device let the person in"}
    )
    annulled_at = fields.AwareDateTime(
        metadata={
            "description": "When the device annulled this check-in (it then admitted nobody); "
            "within CHECKIN_ANNUL_MINUTES of scanned_at"
        }
    )

    @validates_schema
    def _annulled_in_time(self, data: dict[str, Any], **_: Any) -> None:
        annulled = data.get("annulled_at")
        if annulled is None:
            return
        window = timedelta(minutes=current_app.config["CHECKIN_ANNUL_MINUTES"])
        if data.get("direction") == "exit" or not (
            data["scanned_at"] <= annulled <= data["scanned_at"] + window
        ):
            raise ValidationError(
                "an entry is annulled after its scan and within the annul window", "annulled_at"
            )


class SyncInSchema(Schema):
    scans = fields.List(
        fields.Nested(OfflineScanInSchema), required=True, validate=validate.Length(min=1, max=500)
    )
    sent_at = fields.AwareDateTime(
        metadata={
            "description": "The device's clock as it sends the batch: a clock off by more than "
            "a minute has its scans' times corrected by the difference"
        }
    )


class ScanEntrySchema(Schema):
    site = fields.String(required=True)
    at = fields.String(required=True, metadata={"description": "ISO-8601, the gate's time"})


SCAN_REASONS = tuple(reason.value for reason in Reason)


class ScanTicketSchema(Schema):
    serial = fields.String(required=True)
    product = fields.String(allow_none=True)
    tier = fields.String()
    status = fields.String()
    generation = fields.Integer()
    max_sites = fields.Integer()
    sites_used = fields.List(
        fields.String(), metadata={"description": "Sites entered (slugs), as in Ticket"}
    )
    entries = fields.List(
        fields.Nested(ScanEntrySchema), metadata={"description": "Each entry and its time"}
    )
    valid_from = fields.String()
    valid_until = fields.String()
    first_used_at = fields.String(allow_none=True)


class ScanResultSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("ok", "error")))
    reason = fields.String(required=True, validate=validate.OneOf(SCAN_REASONS))
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
    direction = fields.String(metadata={"description": "entry or exit"})
    annulled_at = fields.String(allow_none=True)
    ticket = fields.Nested(ScanTicketSchema, allow_none=True)


class SyncResultSchema(Schema):
    results = fields.List(fields.Nested(ScanResultSchema), required=True)
    conflicts = fields.Integer(required=True)
    clock_offset_s = fields.Integer(
        required=True, metadata={"description": "Seconds added to the scans' times (0: none)"}
    )
    server_time = fields.DateTime(required=True)


class AnnulInSchema(Schema):
    nonce = fields.String(
        required=True, validate=_NONCE, metadata={"description": "The nonce of the check-in"}
    )


class AnnulResultSchema(Schema):
    nonce = fields.String(required=True)
    site = fields.String(required=True)
    serial = fields.String(required=True)
    annulled_at = fields.DateTime(required=True)
    entries_left = fields.Integer(required=True)


class OccupancySchema(Schema):
    site = fields.String(required=True)
    date = fields.String(required=True)
    entries = fields.Integer(required=True)
    exits = fields.Integer(required=True)
    occupancy = fields.Integer(
        required=True, metadata={"description": "Entries minus exits on that local day"}
    )
    entries_here = fields.Integer(metadata={"description": "Entries this device recorded"})


class GateStatusSchema(Schema):
    device_id = fields.Integer(required=True)
    site = fields.String(required=True)
    site_names = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    server_time = fields.DateTime(required=True, metadata={"description": "For the clock offset"})
    annul_minutes = fields.Integer(required=True)
    today = fields.Nested(OccupancySchema, required=True)


class EntryArgsSchema(Schema):
    site = fields.String(validate=validate.Length(min=1, max=80))
    after = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=5000))


class EntrySchema(Schema):
    id = fields.Integer(required=True)
    serial = fields.String(required=True)
    site = fields.String(required=True)
    entered_at = fields.DateTime(required=True)
    exited_at = fields.DateTime(allow_none=True)


class EntryPageSchema(Schema):
    items = fields.List(fields.Nested(EntrySchema), required=True)
    cursor = fields.Integer(required=True, metadata={"description": "Send as after= next time"})
    more = fields.Boolean(required=True)


class DeviceCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    site = fields.String(
        validate=validate.Length(min=1, max=80),
        metadata={"description": "Slug of the site (gate) it scans at"},
    )


class DeviceUpdateSchema(Schema):
    site = fields.String(required=True, validate=validate.Length(min=1, max=80))


class DeviceSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    active = fields.Boolean(required=True)
    site = fields.String(allow_none=True)
    site_assigned_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True)


class EnrolledDeviceSchema(DeviceSchema):
    access_token = fields.String(
        required=True, metadata={"description": "Shown once; store it in the scanner app"}
    )
    expires_at = fields.String(required=True)


class PairingInSchema(Schema):
    device = fields.Integer(required=True, metadata={"description": "The enrolled device's id"})


class PairingSchema(Schema):
    device = fields.Nested(DeviceSchema, required=True)
    code = fields.String(
        required=True, metadata={"description": "One-time, short-lived; shown once"}
    )
    expires_at = fields.DateTime(required=True)


class PairInSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=10, max=20))


class PairedSchema(Schema):
    access_token = fields.String(required=True, metadata={"description": "Keep it on the device"})
    token_type = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    device = fields.Nested(DeviceSchema, required=True)


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
        validate=validate.Length(min=4, max=254),
        metadata={"description": "Order code, ticket serial or the buyer's email"},
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
