"""What finance sees and does with an order's mail: list the messages, send one again."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.apidoc import error_responses
from app.auth.access import BEARER, require_roles
from mail import presenters, services
from mail.schemas import ResendSchema
from ticketing import services as tickets
from ticketing.schemas import OrderMailMessageSchema

blp = Blueprint(
    "mail",
    __name__,
    url_prefix="/api/v1",
    description="Mail to buyers",
    template_folder="templates",
)


@blp.route("/orders/<code>/messages")
@require_roles("finance")
@blp.response(200, OrderMailMessageSchema(many=True))
@error_responses(blp, 401, 403, 404)
@blp.doc(security=BEARER)
def order_messages(code: str) -> list[dict[str, Any]]:
    """The messages sent to an order's buyer, with their delivery state (finance)."""
    order = tickets.get_order(code=code)
    return [presenters.message_view(m) for m in services.messages_of(order.id)]


@blp.route("/orders/<code>/messages/<int:message_id>/resend", methods=["POST"])
@require_roles("finance")
@blp.arguments(ResendSchema)
@blp.response(202, OrderMailMessageSchema)
@error_responses(blp, 401, 403, 404, 409, 422, reasons={409: ("illegal_transition",)})
@blp.doc(security=BEARER)
def order_message_resend(body: dict[str, Any], code: str, message_id: int) -> dict[str, Any]:
    """Send a sent or failed message again, to the same or a corrected address (finance)."""
    order = tickets.get_order(code=code)
    message = services.resend(order=order, message_id=message_id, recipient=body.get("recipient"))
    return presenters.message_view(message)
