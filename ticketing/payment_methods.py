"""The seam between orders and payment providers.

Ticketing knows orders and tickets; how money moves is a payment method's business. A method
registers itself under its name (`register(app, method)`); an order may use it when it is both
registered and listed in `HOIAN_PAYMENT_METHODS`. The cash desk ships here; Stripe and VietQR
register from `payments/`, which tells ticketing about money through
`services.mark_order_paid(...)`, `services.refund_order(...)` and `services.record_dispute(...)`.
Ticketing calls the method at each step: `start` when an order is created, `instructions` when it
is shown, `collect` when cash is taken at the desk, `refund` when money must go back (not when it
already went back at the provider: `refund_order(money_already_returned=True)`).
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import Flask, current_app

from app.config import PAYMENT_METHODS as KNOWN_METHODS
from ticketing.models import Order, OrderStatus

__all__ = ["KNOWN_METHODS", "CashDesk", "PaymentMethod", "available", "register"]


class PaymentMethod(Protocol):
    name: str

    def start(self, order: Order) -> None:
        """Begin collecting the money for a new order (not called for free orders)."""

    def instructions(self, order: Order) -> dict[str, Any]:
        """How the buyer pays this order (shown in the order's `payment`); reads only."""

    def collect(self, *, order: Order, amount_received: int) -> dict[str, Any]:
        """Money handed over at a desk for this order; returns what to record about it."""

    def refund(self, *, order: Order, amount: int) -> dict[str, Any]:
        """Send `amount` back for this order; returns what to record about it."""


class CashDesk:
    """Paid and refunded in cash at a ticket desk; finance confirms with POST .../cash."""

    name = "cash"

    def start(self, order: Order) -> None:
        """Nothing to prepare: the buyer pays at the desk."""

    def collect(self, *, order: Order, amount_received: int) -> dict[str, Any]:
        return {"amount_received": amount_received}

    def instructions(self, order: Order) -> dict[str, Any]:
        if order.status != OrderStatus.PENDING.value:
            return {}
        return {
            "pay_at": "ticket desk",
            "reference": order.code,
            "amount": order.total_amount,
            "currency": order.currency,
        }

    def refund(self, *, order: Order, amount: int) -> dict[str, Any]:
        return {"handed_back_at": "ticket desk", "amount": amount, "currency": order.currency}


def register(app: Flask, method: PaymentMethod) -> None:
    """Make a payment method available to orders (when the configuration enables it)."""
    app.extensions.setdefault("hoian_payment_methods", {})[method.name] = method


def enabled() -> list[str]:
    """The names of the methods orders may use now: configured and registered, in the
    configuration's order."""
    registered = current_app.extensions.get("hoian_payment_methods", {})
    return [name for name in current_app.config["TICKET_PAYMENT_METHODS"] if name in registered]


def available(name: str) -> PaymentMethod | None:
    """The method with this name if it is enabled and registered, else None."""
    if name not in current_app.config["TICKET_PAYMENT_METHODS"]:
        return None
    methods: dict[str, PaymentMethod] = current_app.extensions.get("hoian_payment_methods", {})
    return methods.get(name)
