"""Payment housekeeping: close payments whose order can no longer be paid."""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.extensions import db
from payments import services, stripe_gateway
from payments.models import OPEN_STATES, Payment, PaymentMethodName, PaymentState
from ticketing.models import Order, OrderStatus

log = logging.getLogger(__name__)

_CLOSED_ORDERS = (OrderStatus.EXPIRED.value, OrderStatus.CANCELLED.value)


def expire_payments(*, limit: int = 500) -> list[int]:
    """Cancel open payments of expired or cancelled orders (Stripe intents included).

    Idempotent and safe to stop at any point: each payment is locked, closed and audited on
    its own, and an intent Stripe will not cancel (it was paid after all) is looked at instead.
    """
    ids = list(
        db.session.scalars(
            select(Payment.id)
            .join(Order, Order.id == Payment.order_id)
            .where(
                Payment.state.in_(OPEN_STATES | {PaymentState.FAILED.value}),
                Order.status.in_(_CLOSED_ORDERS),
            )
            .order_by(Payment.id)
            .limit(limit)
        )
    )
    closed: list[int] = []
    for payment_id in ids:
        with db.session.begin_nested():
            order_id = db.session.scalar(select(Payment.order_id).where(Payment.id == payment_id))
            assert order_id is not None
            services.lock_order(order_id)  # order before payment, as everywhere else
            payment = services.lock_payment(payment_id)
            if payment.method == PaymentMethodName.STRIPE.value:
                stripe_gateway.cancel_payment(payment, source="job:expire")
            elif payment.state in OPEN_STATES or payment.state == PaymentState.FAILED.value:
                services.transition_payment(payment, "expire", source="job:expire")
            closed.append(payment_id)
    log.info("expired %d payments", len(closed))
    return closed
