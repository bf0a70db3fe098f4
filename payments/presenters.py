"""Turn payment rows into their JSON, and VietQR payloads into images."""

from __future__ import annotations

import io
import json
from typing import Any

import qrcode
import qrcode.constants
from marshmallow import Schema, ValidationError
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

from app.errors import ValidationFailed
from app.extensions import db
from payments.models import BankTransfer, Payment, PaymentFlag
from ticketing.models import Order


def load_json(body: bytes, schema: Schema) -> dict[str, Any]:
    """Parse a signed JSON body (read raw, for its signature) with a schema, or 422."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed("the body is not JSON", reason="invalid_payload") from None
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        raise ValidationFailed("The input is not valid; see errors.", errors=messages) from None
    return loaded


def _symbol(text: str, *, box_size: int) -> qrcode.QRCode:
    # Banking apps scan VietQR codes from screens and paper alike: error correction M.
    symbol = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4
    )
    symbol.add_data(text.encode("utf-8"))
    symbol.make(fit=True)
    return symbol


def qr_png(text: str, *, box_size: int = 8) -> bytes:
    image = _symbol(text, box_size=box_size).make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def qr_svg(text: str) -> bytes:
    image = _symbol(text, box_size=10).make_image(image_factory=SvgPathImage)
    return bytes(image.to_string(encoding="utf-8"))


def flag_view(flag: PaymentFlag) -> dict[str, Any]:
    order = db.session.get(Order, flag.order_id) if flag.order_id else None
    transfer = (
        db.session.get(BankTransfer, flag.bank_transfer_id) if flag.bank_transfer_id else None
    )
    return {
        "id": flag.id,
        "kind": flag.kind,
        "message": flag.message,
        "order": order.code if order else None,
        "payment_id": flag.payment_id,
        "transaction_id": transfer.transaction_id if transfer else None,
        "amount": flag.amount,
        "currency": flag.currency,
        "created_at": flag.created_at,
        "resolved_at": flag.resolved_at,
        "resolution_note": flag.resolution_note,
    }


def payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "method": payment.method,
        "state": payment.state,
        "amount": payment.amount,
        "received": payment.received_amount,
        "refunded": payment.refunded_amount,
        "currency": payment.currency,
        "provider_ref": payment.provider_ref,
        "reference": payment.reference,
        "created_at": payment.created_at,
        "transitions": [
            {
                "event": row.event,
                "from_state": row.from_state,
                "to_state": row.to_state,
                "source": row.source,
                "actor": row.actor_label,
                "at": row.at,
                "details": row.details,
            }
            for row in payment.transitions
        ],
        "refunds": [
            {
                "id": refund.id,
                "state": refund.state,
                "origin": refund.origin,
                "amount": refund.amount,
                "currency": refund.currency,
                "provider_ref": refund.provider_ref,
                "tickets": refund.tickets,
                "created_at": refund.created_at,
            }
            for refund in payment.refunds
        ],
    }


def order_payments_view(order: Order, payments: list[Payment]) -> dict[str, Any]:
    return {
        "order": order.code,
        "status": order.status,
        "payments": [payment_view(payment) for payment in payments],
    }
