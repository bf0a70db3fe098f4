"""The payment methods ticketing offers orders, registered through its seam (`register`)."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from app.ticketing.models import Order, OrderStatus
from payments import bank, services, stripe_gateway
from payments.models import PaymentMethodName, RefundOrigin, RefundState

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _writing() -> bool:
    """Whether this request commits: only then may showing an order start its payment."""
    return not has_request_context() or request.method in _WRITES


class StripeCard:
    """Card (and wallet) payment through a Stripe PaymentIntent."""

    name = PaymentMethodName.STRIPE.value

    def instructions(self, order: Order) -> dict[str, Any]:
        return stripe_gateway.instructions(order, may_start=_writing())

    def refund(self, *, order: Order, amount: int) -> dict[str, Any]:
        return stripe_gateway.refund(order=order, amount=amount)


class VietQRTransfer:
    """NAPAS 247 bank transfer from any Vietnamese banking app, by scanning a VietQR code."""

    name = PaymentMethodName.VIETQR.value

    def instructions(self, order: Order) -> dict[str, Any]:
        return bank.instructions(order, may_start=_writing())

    def refund(self, *, order: Order, amount: int) -> dict[str, Any]:
        return bank.refund(order=order, amount=amount)


class CashDesk:
    """Paid and refunded in cash at a ticket desk, with payment rows like the other methods."""

    name = PaymentMethodName.CASH.value

    def instructions(self, order: Order) -> dict[str, Any]:
        if order.status != OrderStatus.PENDING.value:
            return {}
        if _writing() and services.open_payment_for(order.id) is None:
            payment = services.new_payment(order=order, method=PaymentMethodName.CASH, source="api")
            services.transition_payment(payment, "open", source="api")
        return {
            "pay_at": "ticket desk",
            "reference": order.code,
            "amount": order.total_amount,
            "currency": order.currency,
        }

    def refund(self, *, order: Order, amount: int) -> dict[str, Any]:
        answer = {"handed_back_at": "ticket desk", "amount": amount, "currency": order.currency}
        if amount == 0:
            return answer
        services.ensure_desk_payment(order)
        payment, recorded = services.record_method_refund(
            order=order, amount=amount, method=PaymentMethodName.CASH
        )
        if recorded is None:
            services.record_refund(
                payment,
                amount=amount,
                state=RefundState.SUCCEEDED,
                origin=RefundOrigin.DESK,
                source=services.desk_source(),
                tickets_refunded=services.unlinked_refunded_tickets(order),
            )
        return answer
