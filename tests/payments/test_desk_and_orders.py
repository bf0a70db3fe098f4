"""The cash desk through payment rows; bad orders refused whole; the payment state machine."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.audit import AuditLog
from app.errors import Conflict
from payments import services
from payments.models import Payment, PaymentState, PaymentTransition
from tests.app.test_shell import assert_error
from tests.payments.conftest import Buyer, count, payments_of, tickets_of
from tests.payments.stripe_fake import FakeStripe
from ticketing.models import Order
from ticketing.verify import format_serial

PASS = "old-town-pass"


def test_cash_at_the_desk_goes_through_payment_rows_and_the_audit_log(
    buyer: Buyer, db: Any, auth: Any
) -> None:
    order = buyer.order("cash", (PASS, "foreign", 2), (PASS, "domestic", 1))
    assert order["payment"]["pay_at"] == "ticket desk"
    (pending,) = payments_of(db, order["code"])
    assert (pending.method, pending.state) == ("cash", "pending")

    desk = auth("finance")
    paid = buyer.client.post(
        f"/api/v1/orders/{order['code']}/cash", json={"amount_received": 500000}, headers=desk
    )
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["change"] == 180000
    (payment,) = payments_of(db, order["code"])
    assert (payment.state, payment.received_amount) == ("succeeded", 320000)
    assert [t.to_state for t in payment.transitions] == ["created", "pending", "succeeded"]
    assert payment.transitions[-1].actor_label.startswith("finance-")
    audited = db.session.scalars(
        select(AuditLog.action).where(
            AuditLog.object_type == "payment", AuditLog.object_id == str(payment.id)
        )
    ).all()
    assert audited == ["payment.create", "payment.open", "payment.succeed"]

    domestic = next(t for t in tickets_of(db, order["code"]) if t.tier == "domestic")
    refunded = buyer.client.post(
        f"/api/v1/orders/{order['code']}/refund",
        json={"tickets": [format_serial(domestic.serial)]},
        headers=desk,
    )
    assert refunded.status_code == 200, refunded.get_json()
    (payment,) = payments_of(db, order["code"])
    (refund,) = payment.refunds
    assert (payment.state, refund.origin, refund.amount, refund.tickets) == (
        "partially_refunded",
        "desk",
        80000,
        [format_serial(domestic.serial)],
    )
    assert sorted(t.status for t in tickets_of(db, order["code"])) == ["refunded", "valid", "valid"]


def _post_order(buyer: Buyer, body: dict[str, Any]) -> Any:
    return buyer.client.post(
        "/api/v1/orders", json=body, headers={"Idempotency-Key": "bad-input-0001"}
    )


BASE = {
    "items": [{"product": PASS, "tier": "foreign", "quantity": 1}],
    "email": "visitor@example.com",
    "payment_method": "stripe",
}


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"items": [{"product": "no-such-ticket", "tier": "foreign", "quantity": 1}]}, 422),
        ({"items": [{"product": PASS, "tier": "martian", "quantity": 1}]}, 422),
        ({"items": [{"product": PASS, "tier": "foreign", "quantity": 0}]}, 422),
        ({"items": [{"product": PASS, "tier": "foreign", "quantity": -2}]}, 422),
        ({"items": [{"product": PASS, "tier": "foreign", "quantity": 101}]}, 422),
        ({"items": [{"product": PASS, "tier": "foreign", "quantity": 21}]}, 422),
        ({"items": []}, 422),
        ({"email": "not-an-email"}, 422),
        ({"items": [{"product": PASS, "tier": "foreign", "quantity": 1, "price": 1}]}, 422),
        ({"total": 1000}, 422),
        ({"payment_method": "bitcoin"}, 422),
        ({"payment_method": "vietqr", "switched_off": "vietqr"}, 422),
        ({"payment_method": "stripe", "switched_off": "stripe"}, 422),
    ],
)
def test_bad_orders_are_refused_whole(
    buyer: Buyer,
    db: Any,
    app: Any,
    stripe_fake: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    status: int,
) -> None:
    change = dict(change)
    off = change.pop("switched_off", None)
    if off:
        methods = [m for m in app.config["TICKET_PAYMENT_METHODS"] if m != off]
        monkeypatch.setitem(app.config, "TICKET_PAYMENT_METHODS", methods)
    body = {**BASE, **change}
    assert_error(_post_order(buyer, body), status)
    assert count(db, Order) == 0 and count(db, Payment) == 0
    assert stripe_fake.calls == []


def test_a_sold_out_day_is_refused_whole(buyer: Buyer, db: Any, stripe_fake: FakeStripe) -> None:
    from ticketing.services import local_today

    show = {"product": "evening-art-show", "tier": "foreign", "date": local_today().isoformat()}
    for n in range(12):
        response = buyer.client.post(
            "/api/v1/orders",
            json={
                "items": [{**show, "quantity": 10}],
                "email": f"v{n}@example.com",
                "payment_method": "vietqr",
            },
            headers={"Idempotency-Key": f"show-order-{n:04d}"},
        )
        assert response.status_code == 201, response.get_json()
    orders, payments = count(db, Order), count(db, Payment)
    response = buyer.client.post(
        "/api/v1/orders",
        json={
            "items": [{**show, "quantity": 1}],
            "email": "late@example.com",
            "payment_method": "stripe",
        },
        headers={"Idempotency-Key": "show-order-late"},
    )
    assert_error(response, 409, "sold_out")
    assert (count(db, Order), count(db, Payment)) == (orders, payments)
    assert stripe_fake.calls == []


def test_the_payment_state_machine_refuses_illegal_moves_and_audits_legal_ones(
    buyer: Buyer, db: Any
) -> None:
    order = buyer.order("vietqr", (PASS, "foreign", 1))
    (payment,) = payments_of(db, order["code"])
    for illegal in ("refund_all", "dispute", "dispute_won", "open"):
        with pytest.raises(Conflict) as refused:
            services.transition_payment(payment, illegal, source="test")
        assert refused.value.reason == "illegal_transition"
    assert payment.state == PaymentState.PENDING.value
    before = count(db, PaymentTransition)
    services.transition_payment(payment, "expire", source="test")
    services.transition_payment(payment, "succeed", source="test")  # late money is still money
    assert count(db, PaymentTransition) == before + 2
    assert payment.state == "succeeded"


@given(
    prices=st.lists(st.sampled_from([120000, 80000, 50000]), min_size=1, max_size=8),
    pick=st.data(),
)
def test_tickets_are_chosen_only_when_their_prices_add_up_exactly(
    prices: list[int], pick: st.DataObject
) -> None:
    class FakeTicket:
        def __init__(self, n: int, amount: int) -> None:
            self.id, self.unit_amount, self.status, self.entries_count = n, amount, "valid", 0

    class FakeOrder:
        tickets = [FakeTicket(n, price) for n, price in enumerate(prices)]

    subset = pick.draw(st.lists(st.sampled_from(range(len(prices))), unique=True))
    amount = sum(prices[i] for i in subset)
    chosen = services.choose_tickets_for_amount(FakeOrder(), amount)  # type: ignore[arg-type]
    if amount == 0:
        assert chosen is None
    else:
        assert chosen is not None and sum(t.unit_amount for t in chosen) == amount
        assert len({t.id for t in chosen}) == len(chosen)
    assert services.choose_tickets_for_amount(FakeOrder(), 10000) is None  # type: ignore[arg-type]
