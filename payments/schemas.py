"""Request and response schemas of payment webhooks, flags and payment records."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas import INT32_MAX, INT64_MAX
from payments.models import FlagKind


class WebhookAnswerSchema(Schema):
    status = fields.String(
        required=True, metadata={"description": "processed, duplicate or ignored"}
    )
    event = fields.String(required=True)
    type = fields.String(required=True)
    detail = fields.String()


class BankNotificationSchema(Schema):
    """A credit to the town's account, as the bank (or its aggregator) reports it."""

    transaction_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The bank's own id of the transaction (unique)"},
    )
    account = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9A-Za-z]{1,19}$"),
        metadata={"description": "The credited account (must be the configured one)"},
    )
    amount = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=INT64_MAX),
        metadata={"description": "VND"},
    )
    currency = fields.String(load_default="VND", validate=validate.OneOf(("VND",)))
    description = fields.String(
        required=True,
        validate=validate.Length(max=500),
        metadata={"description": "The transfer note, with the order reference"},
    )
    transacted_at = fields.AwareDateTime(load_default=None)
    bank_bin = fields.String(validate=validate.Regexp(r"^\d{6}$"))


class BankNotificationAnswerSchema(Schema):
    status = fields.String(
        required=True,
        metadata={"description": "matched, underpaid, overpaid, unmatched, late or duplicate"},
    )
    duplicate = fields.Boolean(required=True)
    transaction_id = fields.String(required=True)
    order = fields.String(allow_none=True)
    flag = fields.Integer(allow_none=True)


class QrArgsSchema(Schema):
    sig = fields.String(required=True, validate=validate.Length(max=64))


class FlagArgsSchema(Schema):
    unresolved = fields.Boolean(load_default=True)
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT32_MAX))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class FlagSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(
        required=True, metadata={"description": ", ".join(kind.value for kind in FlagKind)}
    )
    message = fields.String(required=True)
    order = fields.String(allow_none=True)
    payment_id = fields.Integer(allow_none=True)
    transaction_id = fields.String(allow_none=True)
    amount = fields.Integer(allow_none=True)
    currency = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolution_note = fields.String(allow_none=True)


class FlagListSchema(Schema):
    items = fields.List(fields.Nested(FlagSchema), required=True)


class ResolveFlagSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))


class TransitionSchema(Schema):
    event = fields.String(required=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(required=True)
    source = fields.String(required=True)
    actor = fields.String(required=True)
    at = fields.DateTime(required=True)
    details = fields.Dict()


class RefundRecordSchema(Schema):
    id = fields.Integer(required=True)
    state = fields.String(required=True)
    origin = fields.String(required=True)
    amount = fields.Integer(required=True)
    currency = fields.String(required=True)
    provider_ref = fields.String(allow_none=True)
    tickets = fields.List(fields.String())
    created_at = fields.DateTime(required=True)


class PaymentRecordSchema(Schema):
    id = fields.Integer(required=True)
    method = fields.String(required=True)
    state = fields.String(required=True)
    amount = fields.Integer(required=True)
    received = fields.Integer(required=True)
    refunded = fields.Integer(required=True)
    currency = fields.String(required=True)
    provider_ref = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    transitions = fields.List(fields.Nested(TransitionSchema), required=True)
    refunds = fields.List(fields.Nested(RefundRecordSchema), required=True)


class OrderPaymentsSchema(Schema):
    order = fields.String(required=True)
    status = fields.String(required=True)
    payments = fields.List(fields.Nested(PaymentRecordSchema), required=True)
