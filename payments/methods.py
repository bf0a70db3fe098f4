"""The payment methods ticketing offers orders, registered through its seam (`register`)."""

from __future__ import annotations

from typing import Any

from app.errors import Conflict
from payments import bank, services, stripe_gateway
from payments.models import PaymentMethodName, RefundOrigin, RefundState
from ticketing import payment_methods
from ticketing.models import Order


class StripeCard:
    """Card (and wallet) payment through a Stripe PaymentIntent."""

    name = PaymentMethodName.STRIPE.value

    def start(self, order: Order) -> None:
        stripe_gateway.start_payment(order)

    def instructions(self, order: Order) -> dict[str, Any]:
        return stripe_gateway.instructions(order)

    def collect(self, *, order: Order, amount_received: int) -> dict[str, Any]:
        raise Conflict("card orders are not paid at the desk", reason="not_a_cash_order")

    def refund(self, *, order: Order, amount: int) -> dict[str, Any]:
        return stripe_gateway.refund(order=order, amount=amount)


class VietQRTransfer:
    """NAPAS 247 bank transfer from any Vietnamese banking app, by scanning a VietQR code."""

    name = PaymentMethodName.VIETQR.value

    def start(self, order: Order) -> None:
        bank.start_payment(order)

    def instructions(self, order: Order) -> dict[str, Any]:
        return bank.instructions(order)

    def collect(self, *, order: Order, amount_received: int) -> dict[str, Any]:
        raise Conflict("transfer orders are not paid at the desk", reason="not_a_cash_order")

    def refund(self, *, order: Order, amount: int) -> dict[str, Any]:
        return bank.refund(order=order, amount=amount)


class CashDesk(payment_methods.CashDesk):
    """Ticketing's cash desk, with payment and refund rows like the other methods."""

    def start(self, order: Order) -> None:
        payment = services.new_payment(order=order, method=PaymentMethodName.CASH, source="api")
        services.transition_payment(payment, "open", source="api")

    def collect(self, *, order: Order, amount_received: int) -> dict[str, Any]:
        services.record_desk_payment(order, amount_received=amount_received)
        return super().collect(order=order, amount_received=amount_received)

    def refund(self, *, order: Order, amount: int) -> dict[str, Any]:
        if amount:
            payment = services.refundable_payment(order, method=PaymentMethodName.CASH)
            services.record_refund(
                payment,
                amount=amount,
                state=RefundState.SUCCEEDED,
                origin=RefundOrigin.DESK,
                source=services.desk_source(),
                tickets_refunded=services.unlinked_refunded_tickets(order),
            )
        return super().refund(order=order, amount=amount)
