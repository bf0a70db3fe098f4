"""Mail rows as the order's document and finance show them."""

from __future__ import annotations

from typing import Any

from mail import services
from mail.models import MailMessage
from ticketing.models import Order


def message_view(message: MailMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind,
        "state": message.state,
        "recipient": message.recipient,
        "attempts": message.attempts,
        "error": message.error,
        "next_attempt_at": message.next_attempt_at if message.state == "queued" else None,
        "sent_at": message.sent_at,
        "transport": message.transport,
    }


def order_mail_section(order: Order) -> dict[str, Any]:
    """The `mail` of an order's document (a receiver of `ticketing.signals.order_document`)."""
    return {
        "mail": {
            "delivery": services.delivery_mode(),
            "messages": [message_view(m) for m in services.messages_of(order.id)],
        }
    }
