"""Payment tables: payments and their transitions, refunds, Stripe events, bank transfers, flags.

Ticketing owns orders and tickets; these rows record how money moved for them. Every payment
has its own state machine (`PaymentState`), and every move leaves a `PaymentTransition`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, in_values, utcnow
from app.extensions import db


class PaymentMethodName(enum.StrEnum):
    CASH = "cash"  # handed over at a ticket desk
    VIETQR = "vietqr"  # NAPAS 247 bank transfer to the town's account
    STRIPE = "stripe"  # card (and wallets) through a Stripe PaymentIntent


class PaymentState(enum.StrEnum):
    CREATED = "created"  # recorded; nothing asked of the buyer or the provider yet
    PENDING = "pending"  # waiting for the money: intent open, transfer expected, desk
    SUCCEEDED = "succeeded"  # the money arrived in full
    FAILED = "failed"  # the provider refused the attempt (the buyer may try again)
    EXPIRED = "expired"  # the order ran out of time, or the intent was cancelled
    PARTIALLY_REFUNDED = "partially_refunded"  # some of the money went back
    REFUNDED = "refunded"  # all of the money went back (final)
    DISPUTED = "disputed"  # a chargeback is open: the money may be taken back


#: States in which the money is (or was) with us.
MONEY_RECEIVED = frozenset(
    {
        PaymentState.SUCCEEDED.value,
        PaymentState.PARTIALLY_REFUNDED.value,
        PaymentState.DISPUTED.value,
    }
)
#: States of a payment still waiting for its money.
OPEN_STATES = frozenset({PaymentState.CREATED.value, PaymentState.PENDING.value})


class RefundState(enum.StrEnum):
    PENDING = "pending"  # asked for; the provider (or finance, for transfers) still has to act
    SUCCEEDED = "succeeded"  # the money went back
    FAILED = "failed"  # the provider could not send it back (finance is told)
    CANCELED = "canceled"  # withdrawn before it was sent


class RefundOrigin(enum.StrEnum):
    API = "api"  # finance through POST /orders/<code>/refund
    DASHBOARD = "dashboard"  # made in the provider's dashboard, picked up by its webhook
    DISPUTE = "dispute"  # a chargeback the town lost
    DESK = "desk"  # cash handed back at a desk


class FlagKind(enum.StrEnum):
    UNDERPAID = "underpaid"  # a transfer for less than the order's total
    OVERPAID = "overpaid"  # a transfer for more than the order's total
    UNKNOWN_REFERENCE = "unknown_reference"  # money with no order reference we know
    LATE_PAYMENT = "late_payment"  # money for an order that is expired or cancelled
    DUPLICATE_PAYMENT = "duplicate_payment"  # money for an order already paid
    AMOUNT_MISMATCH = "amount_mismatch"  # a provider confirmed another amount than asked
    REFUND_UNMATCHED = "refund_unmatched"  # a dashboard refund no set of tickets adds up to
    REFUND_FAILED = "refund_failed"  # a refund the provider could not send
    MANUAL_REFUND = "manual_refund"  # a bank transfer finance has to send back by hand
    DISPUTE_CONFLICT = "dispute_conflict"  # a chargeback on an order that cannot take it


class Payment(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """One attempt to take money for an order, by one method."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(in_values("method", tuple(PaymentMethodName)), name="method_known"),
        CheckConstraint(in_values("state", tuple(PaymentState)), name="state_known"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("received_amount >= 0", name="received_not_negative"),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= received_amount",
            name="refund_within_received",
        ),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        UniqueConstraint("method", "provider_ref"),
        # At most one payment per order waits for money: a second attempt needs the first to end.
        Index(
            "uq_payments_one_open_per_order",
            "order_id",
            unique=True,
            sqlite_where=text("state IN ('created', 'pending')"),
            postgresql_where=text("state IN ('created', 'pending')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=PaymentState.CREATED.value)
    amount: Mapped[int] = mapped_column(BigInteger)  # what the order asked for
    received_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # The provider's id: the PaymentIntent (pi_...), the bank transaction, the desk receipt.
    provider_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    # The transfer reference a VietQR payer sends in the note (order code with a prefix).
    reference: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    transitions: Mapped[list[PaymentTransition]] = relationship(
        back_populates="payment", order_by="PaymentTransition.id", lazy="selectin"
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="payment", order_by="Refund.id", lazy="selectin"
    )

    @property
    def refundable_amount(self) -> int:
        return self.received_amount - self.refunded_amount

    def __repr__(self) -> str:
        return f"<Payment {self.id} {self.method} {self.state} {self.amount} {self.currency}>"


class PaymentTransition(db.Model):  # type: ignore[name-defined,misc]
    """The audit trail of a payment: one row per move of its state machine."""

    __tablename__ = "payment_transitions"
    __table_args__ = (
        CheckConstraint(
            "from_state IS NULL OR " + in_values("from_state", tuple(PaymentState)),
            name="from_state_known",
        ),
        CheckConstraint(in_values("to_state", tuple(PaymentState)), name="to_state_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    # What caused it: "api", "desk", "stripe:evt_...", "bank:<transaction id>", "statement:..."
    source: Mapped[str] = mapped_column(String(160))
    actor_label: Mapped[str] = mapped_column(String(254), default="system")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="transitions")

    def __repr__(self) -> str:
        return f"<PaymentTransition {self.payment_id} {self.from_state}->{self.to_state}>"


class Refund(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """Money sent back for (part of) a payment, and the tickets it paid for."""

    __tablename__ = "payment_refunds"
    __table_args__ = (
        CheckConstraint(in_values("state", tuple(RefundState)), name="state_known"),
        CheckConstraint(in_values("origin", tuple(RefundOrigin)), name="origin_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        UniqueConstraint("provider_ref"),
        UniqueConstraint("idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[str] = mapped_column(String(12))
    origin: Mapped[str] = mapped_column(String(12))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider_ref: Mapped[str | None] = mapped_column(String(255), default=None)  # re_..., dp_...
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    tickets: Mapped[list[Any]] = mapped_column(default=list)  # serials, as printed
    note: Mapped[str] = mapped_column(String(500), default="")

    payment: Mapped[Payment] = relationship(back_populates="refunds")

    def __repr__(self) -> str:
        return f"<Refund {self.id} payment={self.payment_id} {self.state} {self.amount}>"


class StripeEvent(db.Model):  # type: ignore[name-defined,misc]
    """A Stripe event we acted on; the unique event id makes a redelivery a no-op."""

    __tablename__ = "stripe_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(80))
    payment_intent: Mapped[str | None] = mapped_column(String(255), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<StripeEvent {self.event_id} {self.type}>"


class TransferOutcome(enum.StrEnum):
    MATCHED = "matched"  # reference and amount match a pending order: it is paid
    UNDERPAID = "underpaid"  # flagged
    OVERPAID = "overpaid"  # flagged
    UNMATCHED = "unmatched"  # no known reference: flagged
    LATE = "late"  # the order is expired or cancelled: flagged
    DUPLICATE = "duplicate"  # the order was already paid: flagged


class BankTransfer(db.Model):  # type: ignore[name-defined,misc]
    """A credit to the town's account, from a bank notification or a statement line."""

    __tablename__ = "bank_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(in_values("outcome", tuple(TransferOutcome)), name="outcome_known"),
        CheckConstraint("source IN ('notify', 'statement')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The bank's own id of the transaction: a notification and the statement line of the same
    # transfer carry the same one, so neither can count it twice.
    transaction_id: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    account: Mapped[str] = mapped_column(String(19))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND")
    description: Mapped[str] = mapped_column(String(500), default="")
    transacted_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(12))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), default=None, index=True
    )
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), default=None
    )

    def __repr__(self) -> str:
        return f"<BankTransfer {self.transaction_id} {self.amount} {self.outcome}>"


class PaymentFlag(db.Model):  # type: ignore[name-defined,misc]
    """Something about money that a person in finance has to look at."""

    __tablename__ = "payment_flags"
    __table_args__ = (
        CheckConstraint(in_values("kind", tuple(FlagKind)), name="kind_known"),
        Index("ix_payment_flags_resolved_at_id", "resolved_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(String(500))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), default=None, index=True
    )
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), default=None
    )
    bank_transfer_id: Mapped[int | None] = mapped_column(
        ForeignKey("bank_transfers.id", ondelete="RESTRICT"), default=None
    )
    amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    resolution_note: Mapped[str | None] = mapped_column(String(500), default=None)

    def __repr__(self) -> str:
        return f"<PaymentFlag {self.id} {self.kind} open={self.resolved_at is None}>"
