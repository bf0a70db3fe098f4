"""Fixtures for ticketing: a signing key in a temporary folder, the seeded products, factories."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.auth import services as auth_services
from ticketing import services
from ticketing.models import Order, Ticket
from ticketing.seeding import load_products
from ticketing.verify import format_serial

BRIDGE = "japanese-covered-bridge"
TAN_KY = "tan-ky-old-house"
CERAMICS = "museum-of-trade-ceramics"
FOLK = "museum-of-folk-culture"
OLD_TOWN_SITES = [
    BRIDGE,
    TAN_KY,
    "fujian-assembly-hall",
    "quan-cong-temple",
    "phung-hung-old-house",
    "cantonese-assembly-hall",
    CERAMICS,
]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def nonce() -> str:
    return secrets.token_hex(8)


@dataclass
class Shop:
    """The seeded products and a signing key, with helpers to sell and scan tickets."""

    app: Flask
    keys_dir: Path

    def order(
        self,
        *items: tuple[str, str, int],
        paid: bool = True,
        method: str = "cash",
        email: str = "visitor@example.com",
    ) -> Order:
        created = services.create_order(
            items=[{"product": p, "tier": t, "quantity": q} for p, t, q in items],
            email=email,
            payment_method=method,
            language="en",
            idempotency_key=None,
        )
        order = created.order
        order.token = created.access_token  # type: ignore[attr-defined]
        if paid and order.status == "pending" and method == "cash":
            services.pay_cash(code=order.code, amount_received=order.total_amount)
        elif paid and order.status == "pending":
            services.mark_order_paid(order_id=order.id, amount=order.total_amount)
        return order

    def ticket(self, product: str = "old-town-pass", tier: str = "foreign") -> Ticket:
        order = self.order((product, tier, 1))
        (ticket,) = order.tickets
        return ticket


@pytest.fixture
def shop(app: Flask, db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    monkeypatch.setitem(app.config, "TICKET_KEYS_DIR", str(tmp_path / "keys"))
    services.forget_caches()
    services.ensure_signing_key()
    load_products(languages=app.config["LANGUAGES"])
    db.session.flush()
    try:
        yield Shop(app=app, keys_dir=tmp_path / "keys")
    finally:
        services.forget_caches()


@pytest.fixture
def device(db: Any) -> Callable[..., dict[str, str]]:
    """Headers of a newly enrolled inspector device."""

    def factory(name: str = "gate") -> dict[str, str]:
        _, issued = auth_services.enroll_device(name=name, enrolled_by_id=None, ttl_days=1)
        return {"Authorization": f"Bearer {issued.token}"}

    return factory


def redeem(
    client: Any,
    headers: dict[str, str],
    *,
    site: str,
    code: str | None = None,
    serial: int | None = None,
    nonce_value: str | None = None,
) -> Any:
    body: dict[str, Any] = {
        "site": site,
        "nonce": nonce_value or nonce(),
        "scanned_at": now_iso(),
    }
    if code is not None:
        body["secret"] = code
    if serial is not None:
        body["serial"] = format_serial(serial)
    return client.post("/api/v1/checkin/redeem", json=body, headers=headers)
