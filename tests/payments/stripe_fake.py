"""Stripe, faked at its HTTP edge: a `stripe` HTTP client that answers like the real API.

Answers are built from recorded objects of the real API's shape (fixtures/*.json) and keep
state the way Stripe does: intents are paid, refunded and disputed by the helpers below, which
stand for the buyer and the Stripe dashboard and return the events Stripe would send. Requests
with an Idempotency-Key are replayed (same parameters) or refused (other parameters).
Webhook signatures are computed here with Stripe's scheme and checked by the app for real.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WEBHOOK_SECRET = "whsec_test_hoian_0123456789abcdef"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())  # type: ignore[no-any-return]


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form fields as Stripe encodes them (metadata[order]=...) back into a dict."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


def sign(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    moment = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256)
    return f"t={moment},v1={mac.hexdigest()}"


class FakeStripe(stripe.HTTPClient):
    name = "hoian-fake-stripe"

    def __init__(self) -> None:
        super().__init__()
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, Any], str | None]] = []
        self._replies: dict[str, tuple[dict[str, Any], tuple[str, int, dict[str, str]]]] = {}
        self._ids = itertools.count(1)
        self._run = secrets.token_hex(3)  # ids differ between fakes, as Stripe's never repeat
        self.down = False

    # --- the HTTP edge --------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, dict[str, str]]:
        if self.down:
            raise stripe.APIConnectionError("Could not connect to Stripe (fake outage).")
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        params = _nest(parse_qsl(body or parts.query, keep_blank_values=True))
        key = (headers or {}).get("Idempotency-Key") if method == "post" else None
        self.calls.append((method.upper(), parts.path, params, key))
        if key is not None and key in self._replies:
            first, reply = self._replies[key]
            if first != {"path": parts.path, **params}:
                return self._reply(recorded("error_idempotency"), 400)
            return reply
        reply = self._route(method.upper(), parts.path, params)
        if key is not None and reply[1] < 500:
            self._replies[key] = ({"path": parts.path, **params}, reply)
        return reply

    def close(self) -> None:
        pass

    def _reply(self, body: dict[str, Any], status: int = 200) -> tuple[str, int, dict[str, str]]:
        return json.dumps(body), status, {"Request-Id": f"req_fake{next(self._ids)}"}

    def _route(self, method: str, path: str, params: dict[str, Any]) -> Any:
        segments = path.strip("/").split("/")[1:]  # without "v1"
        if method == "POST" and segments == ["payment_intents"]:
            return self._reply(self._create_intent(params))
        if segments[:1] == ["payment_intents"] and len(segments) >= 2:
            intent = self.intents.get(segments[1])
            if intent is None:
                return self._reply(recorded("error_not_found"), 404)
            if method == "GET":
                return self._reply(intent)
            if segments[2:] == ["cancel"]:
                return self._cancel(intent, params)
        if method == "POST" and segments == ["refunds"]:
            return self._create_refund(params)
        if method == "GET" and segments in (["refunds"], ["disputes"]):
            store = self.refunds if segments == ["refunds"] else self.disputes
            items = [o for o in store.values() if o["payment_intent"] == params["payment_intent"]]
            listing = recorded("list")
            listing["data"] = sorted(items, key=lambda o: o["created"], reverse=True)
            listing["url"] = path
            return self._reply(listing)
        return self._reply(recorded("error_not_found"), 404)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_3Qfake{self._run}{next(self._ids):06d}"

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = recorded("payment_intent")
        intent_id = self._new_id("pi")
        intent.update(
            id=intent_id,
            amount=int(params["amount"]),
            currency=params["currency"],
            description=params.get("description"),
            receipt_email=params.get("receipt_email"),
            metadata=params.get("metadata", {}),
            client_secret=f"{intent_id}_secret_fake{next(self._ids)}",
            created=int(time.time()),
        )
        self.intents[intent_id] = intent
        return intent

    def _cancel(self, intent: dict[str, Any], params: dict[str, Any]) -> Any:
        if intent["status"] in ("succeeded", "canceled"):
            error = recorded("error_cancel_succeeded")
            error["error"]["payment_intent"] = intent
            return self._reply(error, 400)
        intent.update(
            status="canceled",
            canceled_at=int(time.time()),
            cancellation_reason=params.get("cancellation_reason"),
        )
        return self._reply(intent)

    def _create_refund(self, params: dict[str, Any]) -> Any:
        intent = self.intents[params["payment_intent"]]
        charge = self.charges[intent["latest_charge"]]
        amount = int(params.get("amount", charge["amount"] - charge["amount_refunded"]))
        if amount > charge["amount"] - charge["amount_refunded"]:
            error = recorded("error_not_found")
            error["error"].update(
                code="charge_already_refunded", message="Refund exceeds the charge", param="amount"
            )
            return self._reply(error, 400)
        refund = self._refund(intent, amount, metadata=params.get("metadata", {}))
        return self._reply(refund)

    # --- Stripe's side of the story (the buyer, the dashboard) ----------------------------

    def event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = recorded("event")
        event.update(
            id=self._new_id("evt"),
            type=event_type,
            created=int(time.time()),
            data={"object": copy.deepcopy(obj)},
        )
        return event

    def pay(self, intent_id: str) -> list[dict[str, Any]]:
        """The buyer pays: the intent succeeds with a charge. Returns Stripe's events."""
        intent = self.intents[intent_id]
        processing = self.event("payment_intent.processing", {**intent, "status": "processing"})
        charge = recorded("charge")
        charge.update(
            id=self._new_id("ch"),
            amount=intent["amount"],
            amount_captured=intent["amount"],
            payment_intent=intent_id,
            metadata=intent["metadata"],
            created=int(time.time()),
        )
        self.charges[charge["id"]] = charge
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=charge["id"],
            payment_method=charge["payment_method"],
            last_payment_error=None,
        )
        return [
            processing,
            self.event("charge.succeeded", charge),
            self.event("payment_intent.succeeded", intent),
        ]

    def decline(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents[intent_id]
        intent.update(
            status="requires_payment_method", last_payment_error=recorded("last_payment_error")
        )
        return self.event("payment_intent.payment_failed", intent)

    def _refund(self, intent: dict[str, Any], amount: int, *, metadata: Any) -> dict[str, Any]:
        charge = self.charges[intent["latest_charge"]]
        refund = recorded("refund")
        refund.update(
            id=self._new_id("re"),
            amount=amount,
            charge=charge["id"],
            payment_intent=intent["id"],
            metadata=metadata or {},
            created=int(time.time()) + next(self._ids),
        )
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return refund

    def dashboard_refund(self, intent_id: str, amount: int) -> list[dict[str, Any]]:
        """Someone refunds in the Stripe dashboard. Returns Stripe's events."""
        intent = self.intents[intent_id]
        refund = self._refund(intent, amount, metadata={})
        charge = self.charges[intent["latest_charge"]]
        return [self.event("refund.created", refund), self.event("charge.refunded", charge)]

    def open_dispute(self, intent_id: str) -> tuple[str, dict[str, Any]]:
        intent = self.intents[intent_id]
        dispute = recorded("dispute")
        dispute.update(
            id=self._new_id("dp"),
            amount=intent["amount"],
            charge=intent["latest_charge"],
            payment_intent=intent_id,
            created=int(time.time()),
        )
        self.disputes[dispute["id"]] = dispute
        self.charges[intent["latest_charge"]]["disputed"] = True
        return dispute["id"], self.event("charge.dispute.created", dispute)

    def close_dispute(self, dispute_id: str, status: str) -> dict[str, Any]:
        dispute = self.disputes[dispute_id]
        dispute["status"] = status
        return self.event("charge.dispute.closed", dispute)

    def created(self, path: str) -> list[tuple[dict[str, Any], str | None]]:
        """The create calls (POST) made to a path, with their idempotency keys."""
        return [(params, key) for m, p, params, key in self.calls if m == "POST" and p == path]
