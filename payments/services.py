"""Payment logic shared by every method: the state machine, refunds, flags, paying orders.

Providers (Stripe, bank transfers, the desk) decide *what* happened; this module records it
the same way for all of them and tells ticketing through its seam
(`mark_order_paid`, `refund_order`, `record_dispute`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from app import audit
from app.db import utcnow
from app.errors import Conflict, DomainError, NotFound, ServiceUnavailable
from app.extensions import db, locked
from app.states import StateMachine
from payments import signals
from payments.models import (
    MONEY_RECEIVED,
    OPEN_STATES,
    FlagKind,
    Payment,
    PaymentFlag,
    PaymentMethodName,
    PaymentState,
    PaymentTransition,
    Refund,
    RefundOrigin,
    RefundState,
)
from ticketing import services as tickets
from ticketing.models import Order, OrderStatus, Ticket, TicketStatus
from ticketing.verify import format_serial

log = logging.getLogger(__name__)

LOCK_TIMEOUT_MS = 5000

# --- the payment state machine ----------------------------------------------------------------

_S = PaymentState
PAYMENTS = StateMachine(
    kind="payment",
    states=PaymentState,
    moves={
        (_S.CREATED, "open"): _S.PENDING,
        (_S.FAILED, "open"): _S.PENDING,  # the buyer tries again with the same intent
        (_S.CREATED, "succeed"): _S.SUCCEEDED,
        (_S.PENDING, "succeed"): _S.SUCCEEDED,
        # Money that arrives after a failure or after the order ran out is still money: recorded,
        # and flagged for finance when the order can no longer take it.
        (_S.FAILED, "succeed"): _S.SUCCEEDED,
        (_S.EXPIRED, "succeed"): _S.SUCCEEDED,
        (_S.CREATED, "fail"): _S.FAILED,
        (_S.PENDING, "fail"): _S.FAILED,
        (_S.CREATED, "expire"): _S.EXPIRED,
        (_S.PENDING, "expire"): _S.EXPIRED,
        (_S.FAILED, "expire"): _S.EXPIRED,
        (_S.SUCCEEDED, "refund_part"): _S.PARTIALLY_REFUNDED,
        (_S.PARTIALLY_REFUNDED, "refund_part"): _S.PARTIALLY_REFUNDED,
        (_S.SUCCEEDED, "refund_all"): _S.REFUNDED,
        (_S.PARTIALLY_REFUNDED, "refund_all"): _S.REFUNDED,
        (_S.SUCCEEDED, "dispute"): _S.DISPUTED,
        (_S.DISPUTED, "dispute_won"): _S.SUCCEEDED,
        (_S.DISPUTED, "dispute_lost"): _S.REFUNDED,
    },
)


def transition_payment(
    payment: Payment, event: str, *, source: str, details: dict[str, Any] | None = None
) -> None:
    """Move a payment along its state machine, or refuse; every move leaves an audit row and
    a row in the payment's own history."""
    before = payment.state
    row = PAYMENTS.move(
        payment, event, changes={"method": payment.method, "source": source, **(details or {})}
    )
    assert row is not None  # payments are audited
    _history(payment, event=event, before=before, source=source, details=details, row=row)


def _history(
    payment: Payment,
    *,
    event: str,
    before: str | None,
    source: str,
    details: dict[str, Any] | None,
    row: audit.AuditLog,
) -> None:
    payment.transitions.append(
        PaymentTransition(
            event=event,
            from_state=before,
            to_state=payment.state,
            source=source[:160],
            actor_label=row.actor_label,
            details=details or {},
        )
    )
    db.session.flush()


def new_payment(
    *,
    order: Order,
    method: PaymentMethodName,
    source: str,
    reference: str | None = None,
    provider_ref: str | None = None,
) -> Payment:
    """Record a payment for the order's total in state `created` (its first audit row)."""
    payment = Payment(
        order_id=order.id,
        method=method.value,
        state=PaymentState.CREATED.value,
        amount=order.total_amount,
        currency=order.currency,
        reference=reference,
        provider_ref=provider_ref,
    )
    db.session.add(payment)
    db.session.flush()
    details = {"order": order.code}
    row = audit.record(
        action="payment.create",
        object_type="payment",
        object_id=payment.id,
        changes={"state": [None, payment.state], "method": payment.method, "source": source}
        | details,
    )
    _history(payment, event="create", before=None, source=source, details=details, row=row)
    return payment


def open_payment_for(order_id: int, *, method: PaymentMethodName | None = None) -> Payment | None:
    """The order's payment that is still waiting for money, if any."""
    query = select(Payment).where(Payment.order_id == order_id, Payment.state.in_(OPEN_STATES))
    if method is not None:
        query = query.where(Payment.method == method.value)
    return db.session.scalar(query)


def payments_of(order_id: int) -> list[Payment]:
    """Every payment of an order, oldest first."""
    return list(
        db.session.scalars(select(Payment).where(Payment.order_id == order_id).order_by(Payment.id))
    )


def order_payments(*, code: str) -> tuple[Order, list[Payment]]:
    """An order and its payments, with their transitions and refunds (for finance)."""
    order = tickets.get_order(code=code)
    return order, payments_of(order.id)


# --- locks ----------------------------------------------------------------------------------------


def set_lock_timeout() -> None:
    """Make row locks in this transaction give up after LOCK_TIMEOUT_MS (PostgreSQL)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))


def _is_lock_timeout(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code == "55P03" or "database is locked" in str(exc.orig)


@contextmanager
def lock_timeouts_as_503() -> Iterator[None]:
    """Turn a lock wait that ran out into a 503, so the sender (Stripe, the bank) retries."""
    try:
        yield
    except OperationalError as exc:
        if not _is_lock_timeout(exc):
            raise
        log.warning("lock timeout while applying a payment update: %s", exc.orig)
        raise ServiceUnavailable(
            "the order is busy; try again shortly",
            reason="lock_timeout",
            headers={"Retry-After": "5"},
        ) from None


def lock_order(order_id: int) -> Order:
    """The order, locked for this transaction (ticketing's services lock it the same way)."""
    order = locked(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def lock_payment(payment_id: int) -> Payment:
    payment = locked(Payment, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


# --- flags for finance ------------------------------------------------------------------------


def raise_flag(
    *,
    kind: FlagKind,
    message: str,
    order: Order | None = None,
    payment: Payment | None = None,
    bank_transfer_id: int | None = None,
    amount: int | None = None,
    currency: str | None = None,
    details: dict[str, Any] | None = None,
) -> PaymentFlag:
    """Put something about money in front of finance (GET /api/v1/payments/flags)."""
    flag = PaymentFlag(
        kind=kind.value,
        message=message[:500],
        order_id=order.id if order else None,
        payment_id=payment.id if payment else None,
        bank_transfer_id=bank_transfer_id,
        amount=amount,
        currency=currency or (order.currency if order else None),
        details=details or {},
    )
    db.session.add(flag)
    db.session.flush()
    audit.record(
        action="payment_flag.raise",
        object_type="payment_flag",
        object_id=flag.id,
        changes={"kind": kind.value, "message": flag.message, "amount": amount},
    )
    log.warning("payment flag %s (%s): %s", flag.id, kind.value, message)
    return flag


def list_flags(*, unresolved: bool, after: int, limit: int) -> list[PaymentFlag]:
    """Flags in the order they were raised, optionally only those still open."""
    query = select(PaymentFlag).where(PaymentFlag.id > after).order_by(PaymentFlag.id).limit(limit)
    if unresolved:
        query = query.where(PaymentFlag.resolved_at.is_(None))
    return list(db.session.scalars(query))


def resolve_flag(*, flag_id: int, user_id: int | None, note: str) -> PaymentFlag:
    """Mark a flag as dealt with, saying how; a manual refund flag also completes its refund."""
    flag = db.session.get(PaymentFlag, flag_id, with_for_update=True)
    if flag is None:
        raise NotFound(f"no payment flag {flag_id}")
    if flag.resolved_at is not None:
        raise Conflict(f"flag {flag_id} is already resolved", reason="already_resolved")
    flag.resolved_at = utcnow()
    flag.resolved_by_id = user_id
    flag.resolution_note = note
    refund_id = flag.details.get("refund_id")
    if flag.kind == FlagKind.MANUAL_REFUND.value and refund_id is not None:
        refund = db.session.get(Refund, int(refund_id))
        if refund is not None and refund.state == RefundState.PENDING.value:
            refund.state = RefundState.SUCCEEDED.value
            signals.refunded(refund)
    db.session.flush()
    audit.record(
        action="payment_flag.resolve",
        object_type="payment_flag",
        object_id=flag.id,
        changes={"kind": flag.kind, "note": note},
    )
    return flag


# --- paying an order --------------------------------------------------------------------------


def paid_reference(payment: Payment) -> str:
    """What ticketing records as the order's payment reference when this payment paid it."""
    return f"{payment.method}:{payment.id}"


def backs_tickets(order: Order, payment: Payment) -> bool:
    """Whether this payment is the one that paid for the order's tickets."""
    if payment.method == PaymentMethodName.CASH.value:
        return order.paid_at is not None
    return order.payment_reference == paid_reference(payment)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of money that arrived: whether it paid the order, or the flag it raised."""

    paid: bool
    flag: PaymentFlag | None = None


def payment_received(
    payment: Payment,
    *,
    amount: int,
    source: str,
    provider_ref: str | None = None,
    bank_transfer_id: int | None = None,
) -> Receipt:
    """Record that a payment's money arrived; pay its order when it can.

    The order must be locked by the caller. Money for an order that is no longer waiting
    (expired, cancelled, already paid by other means) is recorded and flagged, never lost.
    """
    if payment.state in MONEY_RECEIVED or payment.state == PaymentState.REFUNDED.value:
        return Receipt(paid=False)  # told before
    order = db.session.get(Order, payment.order_id)
    assert order is not None
    if provider_ref is not None:
        payment.provider_ref = provider_ref
    payment.received_amount = amount
    transition_payment(payment, "succeed", source=source, details={"amount": amount})
    if amount != payment.amount:
        flag = raise_flag(
            kind=FlagKind.AMOUNT_MISMATCH,
            message=(
                f"order {order.code}: {payment.method} confirmed {amount}, asked {payment.amount}"
            ),
            order=order,
            payment=payment,
            bank_transfer_id=bank_transfer_id,
            amount=amount,
        )
        return Receipt(paid=False, flag=flag)
    if order.status == OrderStatus.PENDING.value and order.expires_at > utcnow():
        tickets.mark_order_paid(
            order_id=order.id, amount=order.total_amount, reference=paid_reference(payment)
        )
        return Receipt(paid=True)
    paid_already = order.status != OrderStatus.PENDING.value and order.paid_at is not None
    flag = raise_flag(
        kind=FlagKind.DUPLICATE_PAYMENT if paid_already else FlagKind.LATE_PAYMENT,
        message=(
            f"order {order.code} is {order.status}"
            + (" (its time ran out)" if order.status == OrderStatus.PENDING.value else "")
            + f": {amount} {payment.currency} received by {payment.method} needs a decision"
        ),
        order=order,
        payment=payment,
        bank_transfer_id=bank_transfer_id,
        amount=amount,
    )
    return Receipt(paid=False, flag=flag)


# --- refunds ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    """A refund the provider has already made (in its dashboard, or by a lost dispute)."""

    payment_id: int
    amount: int
    provider_ref: str
    state: RefundState
    origin: RefundOrigin
    source: str


def unlinked_refunded_tickets(order: Order) -> list[str]:
    """Serials of the order's refunded tickets that no refund row accounts for yet."""
    linked: set[str] = set()
    for payment in payments_of(order.id):
        for refund in payment.refunds:
            linked.update(refund.tickets)
    return [
        format_serial(t.serial)
        for t in order.tickets
        if t.status == TicketStatus.REFUNDED.value and format_serial(t.serial) not in linked
    ]


def record_refund(
    payment: Payment,
    *,
    amount: int,
    state: RefundState,
    origin: RefundOrigin,
    source: str,
    tickets_refunded: Sequence[str] = (),
    provider_ref: str | None = None,
    idempotency_key: str | None = None,
    note: str = "",
) -> Refund:
    """Add a refund row and move the payment to partially refunded or refunded."""
    if amount > payment.refundable_amount:
        raise Conflict(
            f"payment {payment.id} has {payment.refundable_amount} {payment.currency} left to "
            f"refund, not {amount}",
            reason="refund_exceeds_payment",
        )
    refund = Refund(
        payment_id=payment.id,
        state=state.value,
        origin=origin.value,
        amount=amount,
        currency=payment.currency,
        provider_ref=provider_ref,
        idempotency_key=idempotency_key,
        tickets=list(tickets_refunded),
        note=note[:500],
    )
    payment.refunds.append(refund)
    payment.refunded_amount += amount
    if state is RefundState.SUCCEEDED:
        db.session.flush()
        signals.refunded(refund)
    if payment.state == PaymentState.DISPUTED.value:
        event = "dispute_lost"
    elif payment.refunded_amount == payment.received_amount:
        event = "refund_all"
    else:
        event = "refund_part"
    transition_payment(
        payment,
        event,
        source=source,
        details={
            "refund": provider_ref or "",
            "amount": amount,
            "origin": origin.value,
            "tickets": list(tickets_refunded),
        },
    )
    return refund


def refundable_payment(order: Order, *, method: PaymentMethodName) -> Payment:
    """The locked payment of this method that holds the order's money."""
    candidates = list(
        db.session.scalars(
            select(Payment)
            .where(
                Payment.order_id == order.id,
                Payment.method == method.value,
                Payment.state.in_(
                    (PaymentState.SUCCEEDED.value, PaymentState.PARTIALLY_REFUNDED.value)
                ),
            )
            .order_by(Payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    # The payment that paid for the tickets, not a late or duplicate one beside it.
    payment = next((p for p in candidates if backs_tickets(order, p)), None)
    if payment is None:
        raise Conflict(
            f"order {order.code} has no {method.value} payment to refund",
            reason="nothing_to_refund",
        )
    return payment


def choose_tickets_for_amount(order: Order, amount: int) -> list[Ticket] | None:
    """Unused valid tickets whose prices add up to exactly `amount`, or None if none do.

    A refund made outside this service says how much went back, not for which tickets; only
    an exact match revokes anything (refunding a part must never void the whole order).
    """
    unused = [
        t
        for t in sorted(order.tickets, key=lambda t: t.id, reverse=True)
        if t.status == TicketStatus.VALID.value and t.entries_count == 0 and t.unit_amount > 0
    ]
    groups: dict[int, list[Ticket]] = {}
    for ticket in unused:
        groups.setdefault(ticket.unit_amount, []).append(ticket)
    # Subset sum over price groups: reachable total -> how many tickets of each price.
    reachable: dict[int, tuple[int, ...]] = {0: ()}
    prices = sorted(groups, reverse=True)
    for price in prices:
        extended: dict[int, tuple[int, ...]] = {}
        for total, counts in reachable.items():
            for count in range(len(groups[price]) + 1):
                value = total + count * price
                if value > amount:
                    break
                extended.setdefault(value, (*counts, count))
        reachable = extended
    found = reachable.get(amount)
    if found is None or amount <= 0:
        return None
    return [t for price, count in zip(prices, found, strict=True) for t in groups[price][:count]]


def apply_provider_refund(order: Order, payment: Payment, refund: ProviderRefund) -> bool:
    """Revoke the tickets a refund made at the provider paid for; flag it when unclear.

    The order and the payment are locked by the caller. True if tickets were revoked.
    """
    if not backs_tickets(order, payment):
        # Late or duplicate money: no tickets were issued for it, so giving it back settles it.
        record_refund(
            payment,
            amount=refund.amount,
            state=refund.state,
            origin=refund.origin,
            source=refund.source,
            provider_ref=refund.provider_ref,
        )
        return False
    remaining = order.paid_amount - order.refunded_amount
    if order.admits and refund.amount == remaining:
        chosen: list[Ticket] | None = [
            t for t in order.tickets if t.status == TicketStatus.VALID.value
        ]
    elif order.admits:
        chosen = choose_tickets_for_amount(order, refund.amount)
    else:
        chosen = None
    if chosen and sum(t.unit_amount for t in chosen) == refund.amount:
        serials = [format_serial(t.serial) for t in chosen]
        try:
            with db.session.begin_nested():
                tickets.refund_order(
                    code=order.code,
                    serials=serials,
                    note=f"refunded at {payment.method} ({refund.provider_ref})",
                    money_already_returned=True,
                )
                record_refund(
                    payment,
                    amount=refund.amount,
                    state=refund.state,
                    origin=refund.origin,
                    source=refund.source,
                    provider_ref=refund.provider_ref,
                    tickets_refunded=serials,
                )
            return True
        except DomainError as exc:
            log.warning("refund %s could not revoke tickets: %s", refund.provider_ref, exc)
    record_refund(
        payment,
        amount=refund.amount,
        state=refund.state,
        origin=refund.origin,
        source=refund.source,
        provider_ref=refund.provider_ref,
    )
    raise_flag(
        kind=FlagKind.REFUND_UNMATCHED,
        message=(
            f"order {order.code}: {refund.amount} {payment.currency} refunded at "
            f"{payment.method} ({refund.provider_ref}) matches no set of unused tickets; "
            "no ticket was revoked"
        ),
        order=order,
        payment=payment,
        amount=refund.amount,
    )
    return False


# --- the cash desk ------------------------------------------------------------------------------


def desk_source() -> str:
    principal = g.get("principal") if has_request_context() else None
    return f"desk:{principal.label}" if principal else "desk"


def record_desk_payment(order: Order, *, amount_received: int) -> None:
    """Record the cash taken at the desk for a pending cash order as a succeeded payment."""
    received = db.session.scalar(
        select(Payment.id).where(
            Payment.order_id == order.id,
            Payment.method == PaymentMethodName.CASH.value,
            Payment.state.in_(MONEY_RECEIVED | {PaymentState.REFUNDED.value}),
        )
    )
    if received is not None:
        return
    payment = open_payment_for(order.id, method=PaymentMethodName.CASH)
    if payment is None:
        payment = new_payment(order=order, method=PaymentMethodName.CASH, source=desk_source())
    payment.received_amount = order.total_amount
    payment.provider_ref = f"desk-{order.code}-{payment.id}"
    transition_payment(
        payment,
        "succeed",
        source=desk_source(),
        details={
            "amount": order.total_amount,
            "amount_received": amount_received,
            "change": amount_received - order.total_amount,
        },
    )
