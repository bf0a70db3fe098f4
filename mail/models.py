"""The mail to buyers: one row per message, with its delivery state and attempts."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import TimestampMixin, in_values
from app.extensions import db


class MessageKind(enum.StrEnum):
    ORDER_CONFIRMATION = "order_confirmation"  # the paid order and its tickets
    REFUND_NOTICE = "refund_notice"  # money went back for some tickets


class MessageState(enum.StrEnum):
    QUEUED = "queued"  # waiting to be sent: first time, a retry at next_attempt_at, or a resend
    SENDING = "sending"  # claimed by a sender since claimed_at (taken over if it never finishes)
    SENT = "sent"  # accepted by the SMTP server, or written to an .eml file (see transport)
    FAILED = "failed"  # refused for good, or every attempt failed; `error` says why


class Transport(enum.StrEnum):
    SMTP = "smtp"  # handed to the configured SMTP server
    FILE = "file"  # no SMTP server configured: written to MAIL_DIR as an .eml file


class MailMessage(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """A message to an order's buyer; a resend queues the same row again."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        CheckConstraint(in_values("kind", tuple(MessageKind)), name="kind_known"),
        CheckConstraint(in_values("state", tuple(MessageState)), name="state_known"),
        CheckConstraint(
            "transport IS NULL OR " + in_values("transport", tuple(Transport)),
            name="transport_known",
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "(kind = 'refund_notice') = (refund_id IS NOT NULL)", name="refund_for_notices"
        ),
        # One confirmation per order and one notice per refund, however often a signal comes.
        Index(
            "uq_mail_messages_one_confirmation",
            "order_id",
            unique=True,
            sqlite_where=text("kind = 'order_confirmation'"),
            postgresql_where=text("kind = 'order_confirmation'"),
        ),
        Index("ix_mail_messages_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    refund_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_refunds.id", ondelete="CASCADE"), unique=True, default=None
    )
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(10), default=MessageState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    transport: Mapped[str | None] = mapped_column(String(8), default=None)
    subject: Mapped[str | None] = mapped_column(String(200), default=None)
    message_id: Mapped[str | None] = mapped_column(String(255), default=None)  # the header
    stored_path: Mapped[str | None] = mapped_column(String(500), default=None)  # .eml file
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:
        return f"<MailMessage {self.id} {self.kind} order={self.order_id} {self.state}>"
