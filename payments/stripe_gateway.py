"""Card payments through Stripe PaymentIntents: the only module that imports `stripe`.

Amounts go to Stripe as they are: VND is a zero-decimal currency, so 120000 means 120,000 VND.
Every call that creates something carries an idempotency key derived from what it creates, so
a retry (ours, or the library's own network retries) can never charge or refund twice.

Webhooks are verified with the endpoint secret, deduplicated by event id (a unique
constraint), and never trusted for state: the PaymentIntent, its refunds and its disputes are
fetched again and the payment is brought in line with what Stripe says now (as pretix does).
That makes late, repeated and out-of-order events harmless.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import audit
from app.errors import (
    BadRequest,
    Conflict,
    DomainError,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from app.extensions import db
from payments import services, signals
from payments.models import (
    MONEY_RECEIVED,
    OPEN_STATES,
    FlagKind,
    Payment,
    PaymentMethodName,
    PaymentState,
    RefundOrigin,
    RefundState,
    StripeEvent,
)
from ticketing import services as tickets
from ticketing.models import Order, OrderStatus

log = logging.getLogger(__name__)

STRIPE = PaymentMethodName.STRIPE

#: Currencies whose amounts Stripe takes in whole units (no cents); VND is one.
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)

#: Event types that can change a payment; every other type is acknowledged and ignored.
HANDLED_EVENTS = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)

_REFUND_STATES = {
    "pending": RefundState.PENDING,
    "requires_action": RefundState.PENDING,
    "succeeded": RefundState.SUCCEEDED,
    "failed": RefundState.FAILED,
    "canceled": RefundState.CANCELED,
}
_STILL_PAYING = frozenset(
    {"processing", "requires_action", "requires_confirmation", "requires_capture"}
)
# Dispute statuses that hold the money; inquiries (warning_*) take nothing and are left alone.
_DISPUTE_OUTCOMES = {
    "needs_response": "opened",
    "under_review": "opened",
    "won": "won",
    "lost": "lost",
}


# --- the client -------------------------------------------------------------------------------


def client() -> stripe.StripeClient:
    """A Stripe client with the configured key; its HTTP client is kept per app (pooling)."""
    config = current_app.config
    key = config.get("STRIPE_SECRET_KEY")
    if not key:
        raise ServiceUnavailable("card payment is not configured", reason="stripe_not_configured")
    http = current_app.extensions.get("hoian_stripe_http_client")
    if http is None:
        http = stripe.RequestsClient(timeout=config["STRIPE_TIMEOUT_S"])
        current_app.extensions["hoian_stripe_http_client"] = http
    return stripe.StripeClient(
        key, http_client=http, max_network_retries=config["STRIPE_MAX_NETWORK_RETRIES"]
    )


@contextmanager
def stripe_errors(action: str) -> Iterator[None]:
    """Stripe's errors as domain errors: refusals are 4xx, outages 503 (nothing half-done)."""
    try:
        yield
    except stripe.IdempotencyError as exc:
        log.error("stripe idempotency conflict while %s: %s", action, exc.user_message)
        raise Conflict(
            f"Stripe refused to repeat a request with other values while {action}",
            reason="idempotency_conflict",
        ) from None
    except (stripe.InvalidRequestError, stripe.CardError) as exc:
        raise ValidationFailed(
            f"Stripe refused while {action}: {exc.user_message or exc.code}",
            reason="stripe_refused",
            errors={"stripe": [exc.code or "invalid_request"]},
        ) from None
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        log.error("stripe rejected our key while %s: %s", action, exc.user_message)
        raise ServiceUnavailable(
            "card payment is misconfigured; staff have been told", reason="stripe_unavailable"
        ) from None
    except stripe.StripeError as exc:
        log.warning("stripe unavailable while %s: %s", action, exc)
        raise ServiceUnavailable(
            "the card payment service did not answer; try again",
            reason="stripe_unavailable",
            headers={"Retry-After": "10"},
        ) from None


def to_stripe_amount(amount: int, currency: str) -> int:
    if currency.lower() not in ZERO_DECIMAL:
        raise ValidationFailed(
            f"card payment is set up for zero-decimal currencies such as VND, not {currency}",
            reason="unsupported_currency",
        )
    return amount


def idempotency_key(order: Order, payment: Payment, action: str) -> str:
    """The same key for the same thing: the order, the payment row and what is done to it."""
    return f"hoian-{order.code}-payment-{payment.id}-{action}"


# --- starting a payment -----------------------------------------------------------------------


def _current(order: Order) -> Payment | None:
    return db.session.scalar(
        select(Payment)
        .where(Payment.order_id == order.id, Payment.method == STRIPE.value)
        .order_by(Payment.id.desc())
        .limit(1)
    )


def instructions(order: Order) -> dict[str, Any]:
    """What the app needs to pay by card: the PaymentIntent's client secret and our key.

    The intent is created with the order (`start_payment`); later reads show the same one.
    """
    payment = _current(order)
    body: dict[str, Any] = {
        "provider": "stripe",
        "publishable_key": current_app.config.get("STRIPE_PUBLISHABLE_KEY") or None,
        "payment_state": payment.state if payment else None,
    }
    if order.status != OrderStatus.PENDING.value:
        return body
    reusable = payment is not None and (
        payment.state in OPEN_STATES or payment.state == PaymentState.FAILED.value
    )
    if not reusable or payment is None:
        return body
    return {
        **body,
        "payment_state": payment.state,
        "payment_intent": payment.provider_ref,
        "client_secret": payment.details.get("client_secret"),
        "amount": payment.amount,
        "currency": payment.currency,
    }


def start_payment(order: Order) -> Payment:
    """Create the payment row and its PaymentIntent (idempotently) and open it."""
    amount = to_stripe_amount(order.total_amount, order.currency)
    payment = services.new_payment(order=order, method=STRIPE, source="api")
    key = idempotency_key(order, payment, "intent")
    with stripe_errors("creating the card payment"):
        intent = client().v1.payment_intents.create(
            params={
                "amount": amount,
                "currency": order.currency.lower(),
                "automatic_payment_methods": {"enabled": True},
                "description": f"Hội An tickets, order {order.code}",
                "receipt_email": order.email,
                "metadata": {"order": order.code, "payment": str(payment.id)},
            },
            options={"idempotency_key": key},
        )
    if intent.amount != amount or intent.currency != order.currency.lower():
        raise ServiceUnavailable("Stripe answered for another amount", reason="stripe_mismatch")
    payment.provider_ref = intent.id
    payment.details = {"client_secret": intent.client_secret, "idempotency_key": key}
    services.transition_payment(
        payment, "open", source="api", details={"payment_intent": intent.id}
    )
    return payment


# --- refunds asked for by finance -----------------------------------------------------------


def refund(*, order: Order, amount: int) -> dict[str, Any]:
    """Send `amount` back to the card (the method's refund(); ticketing holds the order lock)."""
    if amount == 0:
        return {"provider": "stripe", "refund": None}
    payment = services.refundable_payment(order, method=STRIPE)
    serials = services.unlinked_refunded_tickets(order)
    # Keyed by what is refunded: a retry of the same refund repeats it at Stripe instead of
    # sending the money twice, and another refund of other tickets gets its own key.
    digest = hashlib.sha256(f"{amount}|{'|'.join(sorted(serials))}".encode()).hexdigest()[:20]
    key = idempotency_key(order, payment, f"refund-{digest}")
    with stripe_errors("refunding the card payment"):
        made = client().v1.refunds.create(
            params={
                "payment_intent": payment.provider_ref or "",
                "amount": to_stripe_amount(amount, order.currency),
                "reason": "requested_by_customer",
                "metadata": {
                    "order": order.code,
                    "payment": str(payment.id),
                    "tickets": ",".join(serials)[:500],
                },
            },
            options={"idempotency_key": key},
        )
    state = _REFUND_STATES.get(made.status or "", RefundState.PENDING)
    if state in (RefundState.FAILED, RefundState.CANCELED):
        raise Conflict(
            f"Stripe could not refund: {made.failure_reason or made.status}",
            reason="refund_failed",
        )
    services.record_refund(
        payment,
        amount=amount,
        state=state,
        origin=RefundOrigin.API,
        source="api",
        provider_ref=made.id,
        idempotency_key=key,
        tickets_refunded=serials,
    )
    return {"provider": "stripe", "refund": made.id, "refund_status": made.status}


# --- webhooks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookResult:
    status: str  # processed, duplicate, ignored
    event: str
    type: str
    detail: str = ""


def verify_event(*, payload: bytes, signature: str | None) -> stripe.Event:
    """The event, if the Stripe-Signature header proves it came from Stripe recently."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise NotFound("card payment webhooks are not configured", reason="method_disabled")
    try:
        event: stripe.Event = stripe.Webhook.construct_event(
            payload.decode("utf-8"),
            signature,
            secret,
            tolerance=current_app.config["STRIPE_WEBHOOK_TOLERANCE_S"],
        )
    except stripe.SignatureVerificationError as exc:
        raise BadRequest(
            f"signature check failed: {exc.user_message}", reason="invalid_signature"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise BadRequest("the body is not a Stripe event", reason="invalid_payload") from None
    return event


def _intent_id(obj: Mapping[str, Any]) -> str | None:
    if obj.get("object") == "payment_intent":
        return str(obj["id"])
    intent = obj.get("payment_intent")
    if isinstance(intent, Mapping):
        intent = intent.get("id")
    return str(intent) if intent else None


def handle_webhook(*, payload: bytes, signature: str | None) -> WebhookResult:
    """Verify a Stripe event and bring the payment it concerns in line with Stripe."""
    event = verify_event(payload=payload, signature=signature).to_dict()
    event_id, event_type = str(event.get("id")), str(event.get("type"))
    if event_type not in HANDLED_EVENTS:
        return WebhookResult("ignored", event_id, event_type, "not a payment event")
    intent_id = _intent_id((event.get("data") or {}).get("object") or {})
    if intent_id is None:
        return WebhookResult("ignored", event_id, event_type, "no payment intent")
    services.set_lock_timeout()
    with services.lock_timeouts_as_503():
        try:
            with db.session.begin_nested():
                db.session.add(
                    StripeEvent(event_id=event_id, type=event_type, payment_intent=intent_id)
                )
        except IntegrityError:
            return WebhookResult("duplicate", event_id, event_type, "already processed")
        payment_id = db.session.scalar(
            select(Payment.id).where(
                Payment.method == STRIPE.value, Payment.provider_ref == intent_id
            )
        )
        if payment_id is None:
            log.info("stripe event %s for unknown intent %s ignored", event_id, intent_id)
            return WebhookResult("ignored", event_id, event_type, "not one of our payments")
        sync_payment(payment_id=payment_id, source=f"stripe:{event_id}")
    return WebhookResult("processed", event_id, event_type)


def sync_payment(*, payment_id: int, source: str) -> Payment:
    """Fetch the PaymentIntent, its refunds and disputes, and apply what changed.

    Locks the order, then the payment (the order ticketing's refunds lock them in).
    """
    known = db.session.get(Payment, payment_id)
    if known is None:
        raise NotFound(f"no payment {payment_id}")
    order = services.lock_order(known.order_id)
    payment = services.lock_payment(payment_id)
    api = client()
    with stripe_errors_as_503("fetching the payment intent"):
        intent = api.v1.payment_intents.retrieve(payment.provider_ref or "")
    metadata = intent.to_dict().get("metadata") or {}
    if metadata.get("payment") != str(payment.id):
        log.error("intent %s does not belong to payment %s", intent.id, payment.id)
        raise Conflict("the payment intent belongs to another payment", reason="stripe_mismatch")
    _apply_intent(payment, intent, source=source)
    if payment.received_amount > 0:
        with stripe_errors_as_503("fetching refunds and disputes"):
            refunds = api.v1.refunds.list(params={"payment_intent": intent.id, "limit": 100})
            disputes = api.v1.disputes.list(params={"payment_intent": intent.id, "limit": 100})
        _apply_refunds(order, payment, list(refunds.data), source=source)
        _apply_disputes(order, payment, list(disputes.data), source=source)
    return payment


@contextmanager
def stripe_errors_as_503(action: str) -> Iterator[None]:
    """In a webhook every Stripe error is ours to retry: 503, and Stripe sends it again."""
    try:
        yield
    except stripe.StripeError as exc:
        log.warning("stripe error while %s: %s", action, exc)
        raise ServiceUnavailable(
            f"could not reach Stripe while {action}", reason="stripe_unavailable"
        ) from None


def _apply_intent(payment: Payment, intent: stripe.PaymentIntent, *, source: str) -> None:
    status = intent.status
    if status == "succeeded":
        services.payment_received(payment, amount=int(intent.amount_received or 0), source=source)
    elif status == "canceled" and (
        payment.state in OPEN_STATES or payment.state == PaymentState.FAILED.value
    ):
        services.transition_payment(
            payment,
            "expire",
            source=source,
            details={"cancellation_reason": intent.cancellation_reason or ""},
        )
    elif (
        status == "requires_payment_method"
        and intent.last_payment_error is not None
        and payment.state in OPEN_STATES
    ):
        error = intent.last_payment_error
        if payment.state == PaymentState.CREATED.value:
            services.transition_payment(payment, "open", source=source)
        services.transition_payment(
            payment,
            "fail",
            source=source,
            details={"code": error.code or "", "decline_code": error.decline_code or ""},
        )
    elif status in _STILL_PAYING and payment.state in (
        PaymentState.CREATED.value,
        PaymentState.FAILED.value,
    ):
        services.transition_payment(payment, "open", source=source)


def _apply_refunds(
    order: Order, payment: Payment, refunds: list[stripe.Refund], *, source: str
) -> None:
    known = {row.provider_ref: row for row in payment.refunds if row.provider_ref}
    for made in sorted(refunds, key=lambda r: (r.created, r.id)):
        state = _REFUND_STATES.get(made.status or "", RefundState.PENDING)
        row = known.get(made.id)
        if row is not None:
            if row.state != state.value:
                before, row.state = row.state, state.value
                audit.record(
                    action="payment_refund.update",
                    object_type="payment_refund",
                    object_id=row.id,
                    changes={"state": [before, state.value], "source": source},
                )
                if state is RefundState.SUCCEEDED:
                    signals.refunded(row)
                if state in (RefundState.FAILED, RefundState.CANCELED):
                    services.raise_flag(
                        kind=FlagKind.REFUND_FAILED,
                        message=(
                            f"order {order.code}: Stripe could not send refund {made.id} "
                            f"({made.failure_reason or made.status}); its tickets are revoked "
                            "but the money did not go back"
                        ),
                        order=order,
                        payment=payment,
                        amount=row.amount,
                    )
            continue
        if state in (RefundState.FAILED, RefundState.CANCELED):
            continue
        if payment.state not in MONEY_RECEIVED:
            continue
        services.apply_provider_refund(
            order,
            payment,
            services.ProviderRefund(
                payment_id=payment.id,
                amount=int(made.amount),
                provider_ref=made.id,
                state=state,
                origin=RefundOrigin.DASHBOARD,
                source=source,
            ),
        )


def _apply_disputes(
    order: Order, payment: Payment, disputes: list[stripe.Dispute], *, source: str
) -> None:
    applied: dict[str, str] = dict(payment.details.get("disputes") or {})
    for dispute in sorted(disputes, key=lambda d: (d.created, d.id)):
        outcome = _DISPUTE_OUTCOMES.get(dispute.status)
        done = applied.get(dispute.id)
        if outcome is None or done == outcome or done in ("won", "lost"):
            continue
        if outcome == "won" and done is None:
            applied[dispute.id] = "won"  # closed in our favour before we saw it open
            continue
        if done is None:
            _dispute_opened(order, payment, dispute, source=source)
        if outcome == "won":
            _dispute_closed(order, payment, dispute, won=True, source=source)
        elif outcome == "lost":
            _dispute_closed(order, payment, dispute, won=False, source=source)
        applied[dispute.id] = outcome
    if applied != payment.details.get("disputes"):
        payment.details = {**payment.details, "disputes": applied}
        db.session.flush()


def _dispute_opened(
    order: Order, payment: Payment, dispute: stripe.Dispute, *, source: str
) -> None:
    if payment.state != PaymentState.SUCCEEDED.value:
        services.raise_flag(
            kind=FlagKind.DISPUTE_CONFLICT,
            message=(
                f"order {order.code}: chargeback {dispute.id} on a payment that is "
                f"{payment.state}; its tickets were not held"
            ),
            order=order,
            payment=payment,
            amount=int(dispute.amount),
        )
        return
    services.transition_payment(payment, "dispute", source=source, details={"dispute": dispute.id})
    _tell_ticketing(order, payment, dispute, outcome="opened")


def _dispute_closed(
    order: Order, payment: Payment, dispute: stripe.Dispute, *, won: bool, source: str
) -> None:
    held = payment.state == PaymentState.DISPUTED.value
    if won:
        if held:
            services.transition_payment(
                payment, "dispute_won", source=source, details={"dispute": dispute.id}
            )
            _tell_ticketing(order, payment, dispute, outcome="won")
        return
    taken = min(int(dispute.amount), payment.refundable_amount)
    if held:
        _tell_ticketing(order, payment, dispute, outcome="lost")
    if taken > 0:
        services.record_refund(
            payment,
            amount=taken,
            state=RefundState.SUCCEEDED,
            origin=RefundOrigin.DISPUTE,
            source=source,
            provider_ref=dispute.id,
            tickets_refunded=services.unlinked_refunded_tickets(order) if held else (),
        )


def _tell_ticketing(
    order: Order, payment: Payment, dispute: stripe.Dispute, *, outcome: str
) -> None:
    try:
        with db.session.begin_nested():
            tickets.record_dispute(
                code=order.code, outcome=outcome, note=f"Stripe dispute {dispute.id}"
            )
    except DomainError as exc:
        services.raise_flag(
            kind=FlagKind.DISPUTE_CONFLICT,
            message=f"order {order.code}: dispute {dispute.id} {outcome}: {exc.message}",
            order=order,
            payment=payment,
            amount=int(dispute.amount),
        )


# --- housekeeping -------------------------------------------------------------------------------


def cancel_payment(payment: Payment, *, source: str) -> None:
    """Cancel an open intent whose order can no longer be paid (the payment row is locked)."""
    order = db.session.get(Order, payment.order_id)
    assert order is not None
    if payment.provider_ref:
        try:
            with stripe_errors("cancelling the card payment"):
                client().v1.payment_intents.cancel(
                    payment.provider_ref,
                    params={"cancellation_reason": "abandoned"},
                    options={"idempotency_key": idempotency_key(order, payment, "cancel")},
                )
        except ValidationFailed:
            # Stripe will not cancel an intent that succeeded or is processing: look at it.
            sync_payment(payment_id=payment.id, source=source)
            return
    if payment.state in OPEN_STATES or payment.state == PaymentState.FAILED.value:
        services.transition_payment(payment, "expire", source=source)
