"""Mail to buyers: queue a message when an order is paid or a refund succeeds, deliver it in a
background job after the commit, retry with backoff, record the outcome, resend on request.

`deliver` is the job (`app.tasks`, name "mail.deliver"): it claims the message (queued ->
sending, committed), composes and hands it over without holding any lock, then records sent,
a retry at `next_attempt_at`, or failed with the reason. A sender that died mid-way leaves a
`sending` row that `queue_due` takes back once its claim is older than the SMTP timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from app import audit, tasks
from app.db import begin_write, utcnow
from app.errors import NotFound
from app.extensions import db
from app.states import StateMachine
from mail import transport
from mail.compose import compose
from mail.models import MailMessage, MessageKind, MessageState
from payments.models import Refund, RefundOrigin
from ticketing.models import Order

log = logging.getLogger(__name__)

JOB = "mail.deliver"


def _delivery_history(
    message: MailMessage, event: str, before: str, after: str, changes: Mapping[str, Any]
) -> None:
    # The machine's moves (claim, sent, retry, fail, requeue) stay out of the people's audit
    # log: the message row keeps its attempts, error and times; the log line keeps the rest.
    log.debug("mail %s: %s (%s -> %s) %s", message.id, event, before, after, changes)


MESSAGES = StateMachine(
    kind="mail_message",
    history=_delivery_history,
    states=MessageState,
    moves={
        (MessageState.QUEUED, "claim"): MessageState.SENDING,
        (MessageState.SENDING, "sent"): MessageState.SENT,
        (MessageState.SENDING, "retry"): MessageState.QUEUED,
        (MessageState.SENDING, "fail"): MessageState.FAILED,
        (MessageState.SENDING, "requeue"): MessageState.QUEUED,
        (MessageState.SENT, "resend"): MessageState.QUEUED,
        (MessageState.FAILED, "resend"): MessageState.QUEUED,
    },
)


# --- queueing (signal receivers) ----------------------------------------------------------------


def order_paid(order: Order) -> None:
    """Queue the order confirmation (a receiver of `ticketing.signals.order_paid`)."""
    existing = db.session.scalar(
        select(MailMessage.id).where(
            MailMessage.order_id == order.id,
            MailMessage.kind == MessageKind.ORDER_CONFIRMATION.value,
        )
    )
    if existing is None:
        _queue(order, kind=MessageKind.ORDER_CONFIRMATION)


def refund_succeeded(refund: Refund) -> None:
    """Queue the refund notice (a receiver of `payments.signals.refund_succeeded`).

    Not for a lost chargeback: the buyer took the money back through their bank themselves.
    """
    if refund.origin == RefundOrigin.DISPUTE.value:
        return
    order = db.session.get(Order, refund.payment.order_id)
    assert order is not None
    _queue(order, kind=MessageKind.REFUND_NOTICE, refund_id=refund.id)


def _queue(order: Order, *, kind: MessageKind, refund_id: int | None = None) -> MailMessage:
    message = MailMessage(
        order_id=order.id,
        kind=kind.value,
        refund_id=refund_id,
        recipient=order.email,
        language=order.language,
        state=MessageState.QUEUED.value,
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    tasks.enqueue_after_commit(JOB, message.id)
    return message


# --- the job ------------------------------------------------------------------------------------


def deliver(message_id: int) -> str:
    """Send one message if it is due (the job; safe to run twice): its state afterwards."""
    begin_write()
    message = db.session.get(MailMessage, message_id, with_for_update=True)
    now = utcnow()
    if message is None or message.state != MessageState.QUEUED.value:
        db.session.rollback()
        return message.state if message is not None else "gone"
    MESSAGES.move(message, "claim", changes={"attempt": message.attempts + 1})
    message.attempts += 1
    message.claimed_at = now
    db.session.commit()

    error: transport.DeliveryError | None = None
    delivered: transport.Delivered | None = None
    composed = None
    try:
        composed = compose(message)
        delivered = transport.deliver(
            composed.email,
            config=current_app.config,
            filename=f"{message.id:07d}-{message.kind}-{message.attempts}.eml",
        )
    except transport.DeliveryError as exc:
        error = exc
    except Exception as exc:  # a bug composing: recorded, never retried in a loop
        log.exception("mail message %s could not be composed", message_id)
        error = transport.DeliveryError(f"{type(exc).__name__}: {exc}", permanent=True)
    db.session.rollback()
    begin_write()
    message = db.session.get(MailMessage, message_id, with_for_update=True)
    assert message is not None
    if message.state != MessageState.SENDING.value:
        db.session.rollback()  # taken back by a sweep meanwhile: its outcome wins
        return message.state
    retry_in = _record(message, composed, delivered, error)
    state = message.state
    db.session.commit()
    if retry_in is not None:
        tasks.enqueue(JOB, message_id, delay_s=retry_in)
    return state


def _record(
    message: MailMessage,
    composed: Any,
    delivered: transport.Delivered | None,
    error: transport.DeliveryError | None,
) -> float | None:
    """Write the outcome of an attempt; the delay before the next one, if any."""
    message.claimed_at = None
    if composed is not None:
        message.subject = composed.subject[:200]
        message.message_id = composed.message_id
    if delivered is not None:
        MESSAGES.move(message, "sent", changes={"transport": delivered.transport.value})
        message.transport = delivered.transport.value
        message.stored_path = delivered.stored_path
        message.sent_at = utcnow()
        message.error = None
        message.next_attempt_at = None
        log.info("mail %s (%s) sent by %s", message.id, message.kind, message.transport)
        return None
    assert error is not None
    message.error = error.reason
    if error.permanent or message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        MESSAGES.move(message, "fail", changes={"error": error.reason})
        message.next_attempt_at = None
        log.warning("mail %s failed for good: %s", message.id, error.reason)
        return None
    delay = retry_delay(message.attempts)
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    MESSAGES.move(message, "retry", changes={"error": error.reason, "in_s": delay})
    log.info(
        "mail %s attempt %s failed (%s); again in %ss",
        message.id,
        message.attempts,
        error.reason,
        delay,
    )
    return delay


def retry_delay(attempts: int) -> float:
    """Backoff after the n-th failed attempt: the base, growing 4x each time."""
    base = float(current_app.config["MAIL_RETRY_BASE_S"])
    return base * 4.0 ** (attempts - 1)


def queue_due(*, now: datetime | None = None) -> list[int]:
    """Queue every message that should be on its way: due retries (a process that stopped
    forgot them) and claims left by a sender that died. The ids queued."""
    moment = now or utcnow()
    stale = moment - timedelta(seconds=2 * float(current_app.config["SMTP_TIMEOUT_S"]) + 60)
    begin_write()
    for message in db.session.scalars(
        select(MailMessage)
        .where(MailMessage.state == MessageState.SENDING.value, MailMessage.claimed_at < stale)
        .with_for_update()
    ):
        claimed = message.claimed_at.isoformat() if message.claimed_at else None
        MESSAGES.move(message, "requeue", changes={"claimed_at": claimed})
        message.claimed_at = None
        message.next_attempt_at = moment
    ids = list(
        db.session.scalars(
            select(MailMessage.id)
            .where(
                MailMessage.state == MessageState.QUEUED.value,
                or_(MailMessage.next_attempt_at.is_(None), MailMessage.next_attempt_at <= moment),
            )
            .order_by(MailMessage.id)
        )
    )
    db.session.commit()
    for message_id in ids:
        tasks.enqueue(JOB, message_id)
    return ids


# --- reading and resending ----------------------------------------------------------------------


def messages_of(order_id: int) -> list[MailMessage]:
    """An order's messages, oldest first."""
    return list(
        db.session.scalars(
            select(MailMessage).where(MailMessage.order_id == order_id).order_by(MailMessage.id)
        )
    )


def resend(*, order: Order, message_id: int, recipient: str | None = None) -> MailMessage:
    """Queue a sent or failed message again, to the order's address or a corrected one."""
    message = db.session.get(MailMessage, message_id, with_for_update=True)
    if message is None or message.order_id != order.id:
        raise NotFound(f"order {order.code} has no message {message_id}")
    changes: dict[str, Any] = {"attempts_before": message.attempts}
    if recipient and recipient.strip().lower() != message.recipient:
        changes["recipient"] = [message.recipient, recipient.strip().lower()]
        message.recipient = recipient.strip().lower()
    before = message.state
    MESSAGES.move(message, "resend", changes=changes)
    audit.record(
        action="mail_message.resend",
        object_type="order",
        object_id=order.code,
        changes={"message": message.id, "state": [before, message.state], **changes},
    )
    message.attempts = 0
    message.error = None
    message.next_attempt_at = utcnow()
    db.session.flush()
    tasks.enqueue_after_commit(JOB, message.id)
    return message


def delivery_mode() -> str:
    """How messages reach buyers here: smtp, or file (no SMTP server configured)."""
    return transport.transport_for(current_app.config).value
