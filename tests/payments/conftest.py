"""Fixtures for payments: every method switched on, Stripe faked at its HTTP edge, helpers."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit import AuditLog
from payments import bank
from payments.models import Payment
from tests.payments.stripe_fake import WEBHOOK_SECRET, FakeStripe, sign
from ticketing import services as ticket_services
from ticketing.models import Order, Ticket
from ticketing.seeding import load_products

BANK_BIN = "970436"  # Vietcombank
ACCOUNT = "0071000888999"
NOTIFY_SECRET = "notify-secret-for-tests-0123456789abcdef"

PAYMENT_CONFIG = {
    "TICKET_PAYMENT_METHODS": ["cash", "vietqr", "stripe"],
    "STRIPE_SECRET_KEY": "sk_test_hoian_fake",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_hoian_fake",
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "STRIPE_MAX_NETWORK_RETRIES": 0,
    "VIETQR_BANK_BIN": BANK_BIN,
    "VIETQR_ACCOUNT": ACCOUNT,
    "VIETQR_ACCOUNT_NAME": "TRUNG TAM QUAN LY BAO TON DI SAN VAN HOA HOI AN",
    "VIETQR_NOTIFY_SECRET": NOTIFY_SECRET,
}


def configure(app: Flask, monkeypatch: pytest.MonkeyPatch, fake: FakeStripe) -> None:
    for key, value in PAYMENT_CONFIG.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.extensions, "hoian_stripe_http_client", fake)


def prepare_shop(app: Flask, keys_dir: Path) -> None:
    """A signing key and the seeded products (what `flask tickets setup` does)."""
    app.config["TICKET_KEYS_DIR"] = str(keys_dir)
    ticket_services.forget_caches()
    ticket_services.ensure_signing_key()
    load_products(languages=app.config["LANGUAGES"])


@pytest.fixture
def stripe_fake() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def shop(
    app: Flask, db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stripe_fake: FakeStripe
) -> Iterator[None]:
    monkeypatch.setitem(app.config, "TICKET_KEYS_DIR", app.config["TICKET_KEYS_DIR"])
    configure(app, monkeypatch, stripe_fake)
    prepare_shop(app, tmp_path / "keys")
    db.session.flush()
    try:
        yield
    finally:
        ticket_services.forget_caches()


@dataclass
class Buyer:
    """Orders through the API, as the city app does."""

    client: FlaskClient

    def order(
        self,
        method: str,
        *items: tuple[str, str, int],
        email: str = "visitor@example.com",
        key: str | None = None,
    ) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/orders",
            json={
                "items": [{"product": p, "tier": t, "quantity": q} for p, t, q in items],
                "email": email,
                "payment_method": method,
            },
            headers={"Idempotency-Key": key or f"order-{secrets.token_hex(8)}"},
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    def view(self, order: dict[str, Any]) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/orders/{order['code']}", query_string={"token": order["access_token"]}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def buyer(client: FlaskClient, shop: None) -> Buyer:
    return Buyer(client)


def deliver_stripe(
    client: FlaskClient,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> Any:
    payload = json.dumps(event).encode()
    return client.post(
        "/api/v1/payments/stripe/webhook",
        data=payload,
        headers={
            "Stripe-Signature": sign(payload, secret=secret, timestamp=timestamp),
            "Content-Type": "application/json; charset=utf-8",
        },
    )


def notification(
    order: dict[str, Any] | None,
    *,
    amount: int | None = None,
    transaction_id: str | None = None,
    note: str | None = None,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    reference = order["payment"]["reference"] if order else "HAZZZZZZZZ"
    return {
        "transaction_id": transaction_id or f"FT{secrets.randbelow(10**12):012d}",
        "account": account,
        "amount": order["total"] if amount is None and order else (amount or 1),
        "currency": "VND",
        "description": note if note is not None else f"MBVCB.8812345.{reference}.CT tu 0123",
        "transacted_at": "2026-11-23T15:00:00+07:00",
    }


def deliver_bank(
    client: FlaskClient,
    body: dict[str, Any],
    *,
    secret: str = NOTIFY_SECRET,
    timestamp: int | None = None,
) -> Any:
    raw = json.dumps(body).encode()
    moment = int(time.time()) if timestamp is None else timestamp
    return client.post(
        "/api/v1/payments/vietqr/notify",
        data=raw,
        headers={
            bank.TIMESTAMP_HEADER: str(moment),
            bank.SIGNATURE_HEADER: bank.sign(raw, secret=secret, timestamp=moment),
            "Content-Type": "application/json",
        },
    )


def count(db: Any, model: Any, *where: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def order_row(db: Any, code: str) -> Order:
    db.session.expire_all()
    order: Order = db.session.scalar(select(Order).where(Order.code == code))
    return order


def tickets_of(db: Any, code: str) -> list[Ticket]:
    return list(order_row(db, code).tickets)


def issuances(db: Any, code: str) -> int:
    return count(db, AuditLog, AuditLog.action == "ticket.issue", AuditLog.object_id == code)


def payments_of(db: Any, code: str) -> list[Payment]:
    order = order_row(db, code)
    return list(
        db.session.scalars(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id))
    )


Deliver = Callable[..., Any]
