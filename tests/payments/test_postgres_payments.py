"""Payments on a real PostgreSQL: a busy order answers 503 (Stripe retries), racing deliveries."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from app.audit import AuditLog
from app.extensions import db
from payments import services
from payments.models import StripeEvent
from tests.conftest import (
    migrate_and_seed,
    scratch_postgres_app,
)
from tests.payments.conftest import PAYMENT_CONFIG, deliver_stripe, prepare_shop
from tests.payments.stripe_fake import FakeStripe
from ticketing.models import Order

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with scratch_postgres_app("hoian_pay", **PAYMENT_CONFIG) as app:
        migrate_and_seed(app)
        with app.app_context():
            prepare_shop(app, Path(tmp_path_factory.mktemp("keys")))
            db.session.commit()
        yield app


def _card_order(app: Flask, fake: FakeStripe) -> dict[str, Any]:
    app.extensions["hoian_stripe_http_client"] = fake
    response = app.test_client().post(
        "/api/v1/orders",
        json={
            "items": [{"product": "old-town-pass", "tier": "foreign", "quantity": 2}],
            "email": "pg@example.com",
            "payment_method": "stripe",
        },
        headers={"Idempotency-Key": f"pg-{secrets.token_hex(6)}"},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def _issued(app: Flask, code: str) -> int:
    with app.app_context():
        return int(
            db.session.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "ticket.issue", AuditLog.object_id == code)
            )
            or 0
        )


def test_a_locked_order_answers_503_so_stripe_retries(
    pg_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeStripe()
    order = _card_order(pg_app, fake)
    event = fake.pay(order["payment"]["payment_intent"])[-1]
    monkeypatch.setattr(services, "LOCK_TIMEOUT_MS", 200)
    with pg_app.app_context():
        holder = db.engine.connect()
        transaction = holder.begin()
        holder.execute(
            text("SELECT id FROM orders WHERE code = :c FOR UPDATE"), {"c": order["code"]}
        )
        try:
            busy = deliver_stripe(pg_app.test_client(), event)
        finally:
            transaction.rollback()
            holder.close()
        assert busy.status_code == 503 and busy.get_json()["reason"] == "lock_timeout"
        assert busy.headers["Retry-After"]
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(StripeEvent)
                .where(StripeEvent.event_id == event["id"])
            )
            == 0
        )
        db.session.remove()
    retried = deliver_stripe(pg_app.test_client(), event)
    assert retried.status_code == 200 and retried.get_json()["status"] == "processed"
    with pg_app.app_context():
        paid = db.session.scalar(select(Order.status).where(Order.code == order["code"]))
    assert paid == "paid" and _issued(pg_app, order["code"]) == 1


def test_racing_deliveries_of_the_same_events_pay_once(pg_app: Flask) -> None:
    fake = FakeStripe()
    order = _card_order(pg_app, fake)
    events = fake.pay(order["payment"]["payment_intent"])
    answers: list[Any] = []
    start = threading.Barrier(6)

    def deliver(event: dict[str, Any]) -> None:
        client = pg_app.test_client()
        start.wait()
        for _attempt in range(5):  # as Stripe would: again after a 503
            answer = deliver_stripe(client, event)
            if answer.status_code != 503:
                break
        answers.append(answer)

    threads = [threading.Thread(target=deliver, args=(events[n % 3],)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {200}
    assert sorted(a.get_json()["status"] for a in answers).count("processed") == 3
    with pg_app.app_context():
        status = db.session.scalar(select(Order.status).where(Order.code == order["code"]))
    assert status == "paid" and _issued(pg_app, order["code"]) == 1
