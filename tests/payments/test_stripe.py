"""Card payment through Stripe: VND intents, verified webhooks applied once, refunds, disputes."""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import select

from payments import jobs
from payments.models import Payment, PaymentFlag, Refund, StripeEvent
from tests.app.test_shell import assert_error
from tests.payments.conftest import (
    Buyer,
    count,
    deliver_stripe,
    issuances,
    order_row,
    payments_of,
    tickets_of,
)
from tests.payments.stripe_fake import FakeStripe
from ticketing import services as ticket_services
from ticketing.verify import format_serial

PASS = "old-town-pass"


def _card_order(buyer: Buyer, *items: tuple[str, str, int]) -> dict[str, Any]:
    return buyer.order("stripe", *(items or ((PASS, "foreign", 2), (PASS, "domestic", 1))))


def _paid(buyer: Buyer, fake: FakeStripe, *items: tuple[str, str, int]) -> dict[str, Any]:
    order = _card_order(buyer, *items)
    for event in fake.pay(order["payment"]["payment_intent"]):
        assert deliver_stripe(buyer.client, event).status_code == 200
    return order


def test_a_card_order_gets_one_payment_intent_in_vnd_with_a_deterministic_key(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    order = buyer.order("stripe", (PASS, "foreign", 2), key="same-order-key-1")
    payment = order["payment"]
    assert payment["provider"] == "stripe" and payment["client_secret"].startswith("pi_")
    assert payment["amount"] == 240000 and payment["currency"] == "VND"
    ((params, key),) = stripe_fake.created("/v1/payment_intents")
    assert params["amount"] == "240000" and params["currency"] == "vnd"  # zero-decimal: as is
    assert params["metadata"]["order"] == order["code"]
    (row,) = payments_of(db, order["code"])
    assert key == f"hoian-{order['code']}-payment-{row.id}-intent"
    assert (row.state, row.provider_ref) == ("pending", payment["payment_intent"])

    again = buyer.order("stripe", (PASS, "foreign", 2), key="same-order-key-1")
    assert again["payment"]["client_secret"] == payment["client_secret"]
    assert buyer.view(order)["payment"]["client_secret"] == payment["client_secret"]
    assert len(stripe_fake.created("/v1/payment_intents")) == 1


def test_the_card_form_page_lets_only_stripe_in(buyer: Buyer) -> None:
    order = buyer.order("stripe", (PASS, "foreign", 1))
    page = buyer.client.get(f"/pay/{order['code']}", query_string={"token": order["access_token"]})
    html = page.get_data(as_text=True)
    assert (
        page.status_code == 200
        and f'data-client-secret="{order["payment"]["client_secret"]}"' in html
    )
    assert "<script>" not in html and "/pay/static/card.js" in html
    policy = dict(
        part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self' https://js.stripe.com"
    assert policy["frame-src"] == "https://js.stripe.com https://hooks.stripe.com"
    assert policy["connect-src"] == "'self' https://api.stripe.com"
    assert policy["frame-ancestors"] == "'none'"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    # Other pages keep the strict policy.
    assert "stripe" not in buyer.client.get("/buy/old-town-pass").headers["Content-Security-Policy"]
    with buyer.client.get("/pay/static/card.js") as script:
        assert script.status_code == 200 and b"confirmPayment" in script.data


def test_five_deliveries_in_shuffled_order_pay_once_and_issue_tickets_once(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    order = _card_order(buyer)
    events = stripe_fake.pay(order["payment"]["payment_intent"])
    deliveries = events * 5
    random.Random(5).shuffle(deliveries)
    answers = [deliver_stripe(buyer.client, event) for event in deliveries]
    assert {a.status_code for a in answers} == {200}
    statuses = [a.get_json()["status"] for a in answers]
    assert statuses.count("processed") == 3 and statuses.count("duplicate") == 12

    assert order_row(db, order["code"]).status == "paid"
    assert len(tickets_of(db, order["code"])) == 3 and issuances(db, order["code"]) == 1
    (payment,) = payments_of(db, order["code"])
    assert [(t.event, t.to_state) for t in payment.transitions] == [
        ("create", "created"),
        ("open", "pending"),
        ("succeed", "succeeded"),
    ]
    assert payment.received_amount == 320000
    assert count(db, StripeEvent) == 3
    view = buyer.view(order)
    assert view["status"] == "paid" and len(view["tickets"]) == 3


def test_forged_stale_or_tampered_events_are_refused_and_change_nothing(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    order = _card_order(buyer)
    event = stripe_fake.pay(order["payment"]["payment_intent"])[-1]
    calls = len(stripe_fake.calls)
    forged = deliver_stripe(buyer.client, event, secret="whsec_not_the_secret")
    assert_error(forged, 400, "invalid_signature")
    stale = deliver_stripe(buyer.client, event, timestamp=int(time.time()) - 3600)
    assert_error(stale, 400, "invalid_signature")
    tampered = buyer.client.post(
        "/api/v1/payments/stripe/webhook",
        data=b'{"id": "evt_x", "type": "payment_intent.succeeded"}',
        headers={"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
    )
    assert_error(tampered, 400, "invalid_signature")
    unsigned = buyer.client.post("/api/v1/payments/stripe/webhook", data=b"{}")
    assert_error(unsigned, 400, "invalid_signature")
    garbled = buyer.client.post(
        "/api/v1/payments/stripe/webhook", data=b"\xff{", headers={"Stripe-Signature": "t=1,v1=é"}
    )
    assert_error(garbled, 400)
    assert order_row(db, order["code"]).status == "pending"
    assert count(db, StripeEvent) == 0 and len(stripe_fake.calls) == calls


def test_the_payload_is_not_trusted_the_intent_is_fetched_again(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    order = _card_order(buyer)
    intent_id = order["payment"]["payment_intent"]
    claim = stripe_fake.event(
        "payment_intent.succeeded", {**stripe_fake.intents[intent_id], "status": "succeeded"}
    )
    assert deliver_stripe(buyer.client, claim).get_json()["status"] == "processed"
    assert ("GET", f"/v1/payment_intents/{intent_id}") in [(m, p) for m, p, *_ in stripe_fake.calls]
    assert order_row(db, order["code"]).status == "pending"  # Stripe says it is not paid
    assert issuances(db, order["code"]) == 0


def test_a_declined_card_then_a_late_success_arriving_out_of_order(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    order = _card_order(buyer)
    intent_id = order["payment"]["payment_intent"]
    declined = stripe_fake.decline(intent_id)
    assert deliver_stripe(buyer.client, declined).status_code == 200
    (payment,) = payments_of(db, order["code"])
    assert payment.state == "failed"
    assert buyer.view(order)["payment"]["client_secret"]  # the same intent, to try again

    processing, charged, succeeded = stripe_fake.pay(intent_id)
    refund_events = stripe_fake.dashboard_refund(intent_id, 80000)
    for event in [*refund_events, succeeded, charged, processing, declined]:
        assert deliver_stripe(buyer.client, event).status_code == 200
    tickets = tickets_of(db, order["code"])
    assert issuances(db, order["code"]) == 1
    assert sorted(t.status for t in tickets) == ["refunded", "valid", "valid"]
    assert next(t for t in tickets if t.status == "refunded").tier == "domestic"
    (payment,) = payments_of(db, order["code"])
    assert [t.to_state for t in payment.transitions] == [
        "created",
        "pending",
        "failed",
        "succeeded",
        "partially_refunded",
    ]


def test_ignored_event_types_and_unknown_intents_get_200(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    other = stripe_fake.event("customer.created", {"id": "cus_1", "object": "customer"})
    answer = deliver_stripe(buyer.client, other)
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"
    stranger = stripe_fake.event(
        "payment_intent.succeeded", {"id": "pi_someone_else", "object": "payment_intent"}
    )
    answer = deliver_stripe(buyer.client, stranger)
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"


def test_refunding_part_of_an_order_revokes_only_the_refunded_tickets(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any, auth: Any
) -> None:
    order = _paid(buyer, stripe_fake)
    foreign = next(t for t in tickets_of(db, order["code"]) if t.tier == "foreign")
    serial = format_serial(foreign.serial)
    finance = auth("finance")
    url = f"/api/v1/orders/{order['code']}/refund"
    answer = buyer.client.post(url, json={"tickets": [serial]}, headers=finance)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["refund_amount"] == 120000
    ((params, key),) = stripe_fake.created("/v1/refunds")
    assert params["amount"] == "120000" and key and key.startswith(f"hoian-{order['code']}-")
    by_serial = {format_serial(t.serial): t.status for t in tickets_of(db, order["code"])}
    assert by_serial.pop(serial) == "refunded" and set(by_serial.values()) == {"valid"}
    assert order_row(db, order["code"]).status == "partially_refunded"
    (payment,) = payments_of(db, order["code"])
    (refund,) = payment.refunds
    assert (payment.state, refund.tickets, refund.origin) == (
        "partially_refunded",
        [serial],
        "api",
    )

    # Stripe's own events about that refund change nothing more.
    made = stripe_fake.refunds[refund.provider_ref]
    for event in (
        stripe_fake.event("refund.created", made),
        stripe_fake.event("refund.updated", made),
    ):
        assert deliver_stripe(buyer.client, event).status_code == 200
    assert count(db, Refund) == 1
    # Asking again for the same ticket refunds nothing twice.
    assert_error(buyer.client.post(url, json={"tickets": [serial]}, headers=finance), 422)
    assert len(stripe_fake.created("/v1/refunds")) == 1


def test_a_stripe_outage_during_a_refund_leaves_the_tickets_valid(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any, auth: Any
) -> None:
    order = _paid(buyer, stripe_fake)
    stripe_fake.down = True
    answer = buyer.client.post(
        f"/api/v1/orders/{order['code']}/refund", json={}, headers=auth("finance")
    )
    assert_error(answer, 503, "stripe_unavailable")
    assert {t.status for t in tickets_of(db, order["code"])} == {"valid"}
    assert count(db, Refund) == 0 and order_row(db, order["code"]).status == "paid"


def test_dashboard_refunds_revoke_the_tickets_they_paid_for(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    order = _paid(buyer, stripe_fake)
    intent_id = order["payment"]["payment_intent"]
    for event in stripe_fake.dashboard_refund(intent_id, 120000) * 2:
        assert deliver_stripe(buyer.client, event).status_code == 200
    statuses = sorted((t.tier, t.status) for t in tickets_of(db, order["code"]))
    assert statuses == [("domestic", "valid"), ("foreign", "refunded"), ("foreign", "valid")]

    for event in stripe_fake.dashboard_refund(intent_id, 200000):
        assert deliver_stripe(buyer.client, event).status_code == 200
    assert {t.status for t in tickets_of(db, order["code"])} == {"refunded"}
    assert order_row(db, order["code"]).status == "refunded"
    (payment,) = payments_of(db, order["code"])
    assert payment.state == "refunded" and [r.origin for r in payment.refunds] == [
        "dashboard",
        "dashboard",
    ]


def test_a_dashboard_refund_no_tickets_add_up_to_is_flagged_not_guessed(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any, auth: Any
) -> None:
    order = _paid(buyer, stripe_fake)
    for event in stripe_fake.dashboard_refund(order["payment"]["payment_intent"], 50000):
        assert deliver_stripe(buyer.client, event).status_code == 200
    assert {t.status for t in tickets_of(db, order["code"])} == {"valid"}
    (flag,) = db.session.scalars(select(PaymentFlag)).all()
    assert flag.kind == "refund_unmatched" and flag.amount == 50000
    listed = buyer.client.get("/api/v1/payments/flags", headers=auth("finance")).get_json()
    assert [item["kind"] for item in listed["items"]] == ["refund_unmatched"]
    assert listed["items"][0]["order"] == order["code"]


def test_a_lost_dispute_revokes_the_tickets_a_won_one_frees_them(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any, auth: Any
) -> None:
    lost = _paid(buyer, stripe_fake)
    dispute_id, opened = stripe_fake.open_dispute(lost["payment"]["payment_intent"])
    assert deliver_stripe(buyer.client, opened).status_code == 200
    assert order_row(db, lost["code"]).status == "disputed"
    closed = stripe_fake.close_dispute(dispute_id, "lost")
    for event in (closed, opened, closed):
        assert deliver_stripe(buyer.client, event).status_code == 200
    assert order_row(db, lost["code"]).status == "refunded"
    assert {t.status for t in tickets_of(db, lost["code"])} == {"refunded"}
    (payment,) = payments_of(db, lost["code"])
    assert payment.state == "refunded" and payment.refunds[0].origin == "dispute"

    won = _paid(buyer, stripe_fake, (PASS, "foreign", 1))
    dispute_id, opened = stripe_fake.open_dispute(won["payment"]["payment_intent"])
    deliver_stripe(buyer.client, opened)
    deliver_stripe(buyer.client, stripe_fake.close_dispute(dispute_id, "won"))
    assert order_row(db, won["code"]).status == "paid"
    assert {t.status for t in tickets_of(db, won["code"])} == {"valid"}
    trail = buyer.client.get(
        f"/api/v1/orders/{won['code']}/payments", headers=auth("finance")
    ).get_json()
    assert [t["to_state"] for t in trail["payments"][0]["transitions"]][-2:] == [
        "disputed",
        "succeeded",
    ]


def test_a_stripe_outage_when_ordering_creates_nothing(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    stripe_fake.down = True
    answer = buyer.client.post(
        "/api/v1/orders",
        json={
            "items": [{"product": PASS, "tier": "foreign", "quantity": 1}],
            "email": "down@example.com",
            "payment_method": "stripe",
        },
        headers={"Idempotency-Key": "stripe-down-0001"},
    )
    assert_error(answer, 503, "stripe_unavailable")
    assert count(db, Payment) == 0
    assert ticket_services.order_for_token(code="X", token="x") is None


def test_expired_orders_have_their_intents_cancelled_and_late_money_is_flagged(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any, app: Any
) -> None:
    cancelled, late = _card_order(buyer), _card_order(buyer)
    for code in (cancelled["code"], late["code"]):
        row = order_row(db, code)
        row.expires_at = row.created_at
        db.session.flush()
    ticket_services.expire_orders()
    late_events = stripe_fake.pay(late["payment"]["payment_intent"])  # paid at the last moment
    jobs.expire_payments()
    ((_, key),) = [
        (p, k) for m, path, p, k in stripe_fake.calls if path.endswith("/cancel") and m == "POST"
    ][:1]
    assert key and key.endswith("-cancel")
    assert stripe_fake.intents[cancelled["payment"]["payment_intent"]]["status"] == "canceled"
    assert payments_of(db, cancelled["code"])[0].state == "expired"
    for event in late_events:
        deliver_stripe(buyer.client, event)
    assert payments_of(db, late["code"])[0].state == "succeeded"
    assert order_row(db, late["code"]).status == "expired"
    kinds = [flag.kind for flag in db.session.scalars(select(PaymentFlag))]
    assert kinds == ["late_payment"]
    # Finance gives the late money back in the dashboard: settled, with no ticket to revoke.
    for event in stripe_fake.dashboard_refund(late["payment"]["payment_intent"], 320000):
        assert deliver_stripe(buyer.client, event).status_code == 200
    assert payments_of(db, late["code"])[0].state == "refunded"
    assert count(db, PaymentFlag) == 1


def test_a_whole_lifecycle_delivered_five_times_shuffled_leaves_one_trail(
    buyer: Buyer, stripe_fake: FakeStripe, db: Any
) -> None:
    order = _card_order(buyer)
    intent_id = order["payment"]["payment_intent"]
    events = [*stripe_fake.pay(intent_id), *stripe_fake.dashboard_refund(intent_id, 80000)]
    dispute_id, opened = stripe_fake.open_dispute(intent_id)
    events += [opened, stripe_fake.close_dispute(dispute_id, "won")]
    deliveries = events * 5
    random.Random(55).shuffle(deliveries)
    for event in deliveries:
        assert deliver_stripe(buyer.client, event).status_code == 200
    assert issuances(db, order["code"]) == 1 and count(db, Refund) == 1
    (payment,) = payments_of(db, order["code"])
    assert [t.to_state for t in payment.transitions] == [
        "created",
        "pending",
        "succeeded",
        "partially_refunded",
    ]
    assert sorted(t.status for t in tickets_of(db, order["code"])) == [
        "refunded",
        "valid",
        "valid",
    ]
    assert count(db, StripeEvent) == len(events)
