"""Payment webhooks, VietQR images, and what finance sees of payments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, request
from flask_smorest import Blueprint

from app.apidoc import BINARY, error_responses
from app.auth.access import BEARER, current_principal, public_write, require_roles
from payments import bank, presenters, services, stripe_gateway
from payments.schemas import (
    BankNotificationAnswerSchema,
    BankNotificationSchema,
    FlagArgsSchema,
    FlagListSchema,
    FlagSchema,
    OrderPaymentsSchema,
    QrArgsSchema,
    ResolveFlagSchema,
    WebhookAnswerSchema,
)

blp = Blueprint(
    "payments",
    __name__,
    url_prefix="/api/v1",
    description="Payments: Stripe and bank webhooks, VietQR codes, flags for finance",
)

F = TypeVar("F", bound=Callable[..., Any])
_FINANCE = ("finance",)  # admins always may
_RAW_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object"}}},
}


def raw_body(view: F) -> F:
    """The view reads and verifies the exact bytes it was sent (signatures cover them)."""
    view.accepts_any_body = True  # type: ignore[attr-defined]
    return view


@blp.route("/payments/stripe/webhook", methods=["POST"])
@public_write
@raw_body
@blp.response(200, WebhookAnswerSchema)
@error_responses(
    blp,
    400,
    404,
    503,
    reasons={
        400: ("invalid_signature", "invalid_payload"),
        404: ("method_disabled",),
        409: ("stripe_mismatch",),
        503: ("lock_timeout", "stripe_unavailable", "stripe_not_configured"),
    },
)
@blp.doc(
    requestBody=_RAW_BODY,
    parameters=[{"in": "header", "name": "Stripe-Signature", "schema": {"type": "string"}}],
)
def stripe_webhook() -> dict[str, Any]:
    """Stripe events: signature checked, each event applied once, the payment re-fetched."""
    result = stripe_gateway.handle_webhook(
        payload=request.get_data(cache=False), signature=request.headers.get("Stripe-Signature")
    )
    return {
        "status": result.status,
        "event": result.event,
        "type": result.type,
        "detail": result.detail,
    }


@blp.route("/payments/vietqr/notify", methods=["POST"])
@public_write
@raw_body
@blp.response(200, BankNotificationAnswerSchema)
@error_responses(
    blp,
    400,
    404,
    422,
    503,
    reasons={
        400: ("invalid_signature", "stale_timestamp", "invalid_payload"),
        404: ("method_disabled",),
        422: ("not_our_account", "unsupported_currency"),
        503: ("lock_timeout",),
    },
)
@blp.doc(
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": BankNotificationSchema}},
    },
    parameters=[
        {"in": "header", "name": bank.TIMESTAMP_HEADER, "schema": {"type": "string"}},
        {"in": "header", "name": bank.SIGNATURE_HEADER, "schema": {"type": "string"}},
    ],
)
def vietqr_notify() -> dict[str, Any]:
    """A bank transfer notification (HMAC-signed): matched by reference and amount, or flagged."""
    result = bank.handle_notification(
        body=request.get_data(cache=False),
        timestamp=request.headers.get(bank.TIMESTAMP_HEADER),
        signature=request.headers.get(bank.SIGNATURE_HEADER),
    )
    return {
        "status": result.transfer.outcome,
        "duplicate": result.duplicate,
        "transaction_id": result.transfer.transaction_id,
        "order": result.order_code,
        "flag": result.flag_id,
    }


def _qr_response(body: bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/payments/vietqr/<code>/qr.png")
@blp.arguments(QrArgsSchema, location="query")
@blp.response(200, BINARY, content_type="image/png", description="The order's VietQR code")
@error_responses(blp, 404, reasons={404: ("not_payable",)})
def vietqr_qr_png(args: dict[str, Any], code: str) -> Response:
    """The VietQR code to scan with a banking app (the signed URL from the order's payment)."""
    order = bank.payable_order(code=code, signature=args["sig"])
    return _qr_response(presenters.qr_png(bank.payload_for(order)), "image/png")


@blp.route("/payments/vietqr/<code>/qr.svg")
@blp.arguments(QrArgsSchema, location="query")
@blp.response(200, BINARY, content_type="image/svg+xml", description="The order's VietQR code")
@error_responses(blp, 404, reasons={404: ("not_payable",)})
def vietqr_qr_svg(args: dict[str, Any], code: str) -> Response:
    """The VietQR code as SVG (the signed URL from the order's payment)."""
    order = bank.payable_order(code=code, signature=args["sig"])
    return _qr_response(presenters.qr_svg(bank.payload_for(order)), "image/svg+xml")


@blp.route("/payments/flags")
@require_roles(*_FINANCE)
@blp.arguments(FlagArgsSchema, location="query")
@blp.response(200, FlagListSchema)
@error_responses(blp, 401, 403)
@blp.doc(security=BEARER)
def flag_list(args: dict[str, Any]) -> dict[str, Any]:
    """Money that needs a person: under- and over-payments, unknown references, late money..."""
    flags = services.list_flags(
        unresolved=args["unresolved"], after=args["after"], limit=args["limit"]
    )
    return {"items": [presenters.flag_view(flag) for flag in flags]}


@blp.route("/payments/flags/<int:flag_id>/resolve", methods=["POST"])
@require_roles(*_FINANCE)
@blp.arguments(ResolveFlagSchema)
@blp.response(200, FlagSchema)
@error_responses(blp, 401, 403, 404, 409)
@blp.doc(security=BEARER)
def flag_resolve(body: dict[str, Any], flag_id: int) -> dict[str, Any]:
    """Mark a flag as dealt with, saying how (a manual refund flag: the money was sent)."""
    principal = current_principal()
    flag = services.resolve_flag(
        flag_id=flag_id, user_id=principal.user_id if principal else None, note=body["note"]
    )
    return presenters.flag_view(flag)


@blp.route("/orders/<code>/payments")
@require_roles(*_FINANCE)
@blp.response(200, OrderPaymentsSchema)
@error_responses(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def order_payments(code: str) -> dict[str, Any]:
    """Every payment of an order with its audit trail and refunds (finance)."""
    order, payments = services.order_payments(code=code)
    return presenters.order_payments_view(order, payments)
