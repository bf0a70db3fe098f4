"""Orders: priced from products, idempotent, paid once, tickets issued exactly once, audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit import AuditLog
from app.errors import Conflict
from tests.app.test_shell import assert_error
from tests.ticketing.conftest import Shop
from ticketing import services
from ticketing.models import Order, Ticket

ORDER = {
    "items": [
        {"product": "old-town-pass", "tier": "foreign", "quantity": 2},
        {"product": "old-town-pass", "tier": "domestic", "quantity": 1},
        {"product": "old-town-pass", "tier": "child", "quantity": 1},
    ],
    "email": "Visitor@Example.com",
    "payment_method": "cash",
}


def create(client: Any, body: dict[str, Any] = ORDER, key: str | None = "key-0001-abcd") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/orders", json=body, headers=headers)


def test_products_list_prices_entries_sites_and_validity(client: Any, shop: Shop) -> None:
    items = client.get("/api/v1/products?lang=vi").get_json()["items"]
    by_slug = {item["slug"]: item for item in items}
    town = by_slug["old-town-pass"]
    assert town["prices"] == {"foreign": 120000, "domestic": 80000, "child": 0}
    assert town["currency"] == "VND" and town["entries"] == 5
    assert town["entries_by_tier"] == {"foreign": 5, "domestic": 3, "child": 5}
    assert len(town["sites"]) == 16 and "japanese-covered-bridge" in town["sites"]
    assert town["validity"] == {"kind": "first_use", "days": 30, "hours_after_first_use": 24}
    assert town["name"] == "Vé tham quan phố cổ Hội An" and town["lang"] == "vi"
    assert by_slug["evening-art-show"]["sale"]["daily_capacity"] == 120
    assert by_slug["museum-of-trade-ceramics-ticket"]["sites"] == ["museum-of-trade-ceramics"]


def test_site_detail_shows_the_products_that_admit_there(client: Any, shop: Shop) -> None:
    detail = client.get("/api/v1/sites/museum-of-trade-ceramics?lang=en").get_json()
    slugs = {product["slug"] for product in detail["ticket_products"]}
    assert slugs == {"old-town-pass", "museum-of-trade-ceramics-ticket"}
    museum = next(p for p in detail["ticket_products"] if p["entries"] == 1)
    assert museum["prices"]["foreign"] == 50000 and museum["name"].startswith("Museum")


def test_order_is_priced_from_products_never_the_client(client: Any, shop: Shop, db: Any) -> None:
    body = {**ORDER, "items": [{**ORDER["items"][0], "price": 1}]}
    assert_error(create(client, body), 422)  # unknown field: prices are not for clients
    response = create(client)
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["total"] == 2 * 120000 + 80000 and order["currency"] == "VND"
    assert order["status"] == "pending" and order["tickets"] == []
    assert order["payment"]["method"] == "cash" and order["payment"]["reference"] == order["code"]
    assert order["email"] == "visitor@example.com"
    token = order["access_token"]
    row = db.session.scalar(select(Order).where(Order.code == order["code"]))
    assert token not in (row.access_token_hash, row.access_token_salt)
    assert row.access_token_hash == services.hash_access_token(token)


def test_same_key_same_body_is_the_same_order(client: Any, shop: Shop, db: Any) -> None:
    first = create(client)
    again = create(client)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["code"] == first.get_json()["code"]
    assert again.get_json()["access_token"] == first.get_json()["access_token"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    other = create(client, {**ORDER, "email": "someone@else.org"})
    assert_error(other, 409, "idempotency_key_reused")
    fresh = create(client, key="key-0002-abcd")
    assert fresh.get_json()["code"] != first.get_json()["code"]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"product": "no-such-thing", "tier": "foreign", "quantity": 1}, "unknown_product"),
        ({"product": "old-town-pass", "tier": "senior", "quantity": 1}, "not_sellable"),
        ({"product": "old-town-pass", "tier": "foreign", "quantity": 21}, "too_many_tickets"),
        ({"product": "evening-art-show", "tier": "foreign", "quantity": 1}, "not_sellable"),
        (
            {"product": "old-town-pass", "tier": "foreign", "quantity": 1, "date": "2030-01-01"},
            "not_sellable",
        ),
    ],
)
def test_unsellable_items_are_422_with_a_reason(
    client: Any, shop: Shop, item: dict[str, Any], reason: str
) -> None:
    response = create(client, {**ORDER, "items": [item]}, key=None)
    assert_error(response, 422, reason)


def test_disabled_payment_methods_are_refused(client: Any, shop: Shop) -> None:
    assert_error(
        create(client, {**ORDER, "payment_method": "stripe"}), 422, "payment_method_unavailable"
    )
    assert_error(create(client, {**ORDER, "payment_method": "paypal"}), 422)


def test_order_needs_its_token(client: Any, shop: Shop, auth: Any) -> None:
    order = create(client).get_json()
    url = f"/api/v1/orders/{order['code']}"
    assert_error(client.get(url), 401)
    assert_error(client.get(url, query_string={"token": "hot_wrong"}), 404)
    assert client.get(url, query_string={"token": order["access_token"]}).status_code == 200
    bearer = {"Authorization": f"Bearer {order['access_token']}"}
    assert client.get(url, headers=bearer).get_json()["code"] == order["code"]
    assert client.get(url, headers=auth("finance")).status_code == 200
    assert_error(client.get(url, headers=auth("editor")), 404)  # not its token


def test_cash_desk_issues_tickets_exactly_once(client: Any, shop: Shop, auth: Any, db: Any) -> None:
    order = create(client).get_json()
    finance = auth("finance")
    url = f"/api/v1/orders/{order['code']}/cash"
    assert_error(
        client.post(url, json={"amount_received": 1000}, headers=finance),
        422,
        "insufficient_amount",
    )
    paid = client.post(url, json={"amount_received": 400000}, headers=finance)
    assert paid.status_code == 200, paid.get_json()
    body = paid.get_json()
    assert body["change"] == 400000 - 320000 and body["status"] == "paid"
    assert [t["tier"] for t in body["tickets"]] == ["foreign", "foreign", "domestic", "child"]
    assert [t["max_sites"] for t in body["tickets"]] == [5, 5, 3, 5]
    assert_error(client.post(url, json={"amount_received": 400000}, headers=finance), 409)
    row = db.session.scalar(select(Order).where(Order.code == order["code"]))
    with pytest.raises(Conflict):
        services.transition_order(row, "pay")
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 4
    actions = db.session.scalars(
        select(AuditLog.action).where(AuditLog.object_id == order["code"]).order_by(AuditLog.id)
    ).all()
    assert actions == ["order.create", "order.pay", "ticket.issue"]
    mine = client.get(
        f"/api/v1/orders/{order['code']}", query_string={"token": order["access_token"]}
    )
    tickets = mine.get_json()["tickets"]
    assert all(t["code"] and t["qr_svg_url"].endswith(order["access_token"]) for t in tickets)


def test_mark_order_paid_is_the_idempotent_payments_seam(shop: Shop) -> None:
    order = shop.order(("old-town-pass", "foreign", 2), paid=False)
    services.mark_order_paid(order_id=order.id, amount=240000, reference="bank-123")
    again = services.mark_order_paid(order_id=order.id, amount=240000, reference="bank-123")
    assert again is order and len(order.tickets) == 2
    with pytest.raises(Conflict):
        services.mark_order_paid(order_id=order.id, amount=240000, reference="bank-999")


def test_free_orders_are_paid_at_once(shop: Shop) -> None:
    order = shop.order(("old-town-pass", "child", 2), paid=False)
    assert order.status == "paid" and len(order.tickets) == 2


def test_dated_show_sells_up_to_its_capacity(client: Any, shop: Shop, db: Any) -> None:
    from ticketing.models import Product

    show = db.session.scalar(select(Product).where(Product.slug == "evening-art-show"))
    show.daily_capacity = 3
    db.session.flush()
    day = services.local_today().isoformat()
    item = {"product": "evening-art-show", "tier": "foreign", "quantity": 2, "date": day}
    assert create(client, {**ORDER, "items": [item]}, key=None).status_code == 201
    assert_error(create(client, {**ORDER, "items": [item]}, key=None), 409, "sold_out")
    one = {**item, "quantity": 1}
    assert create(client, {**ORDER, "items": [one]}, key=None).status_code == 201


def test_illegal_order_moves_are_refused(client: Any, shop: Shop, auth: Any) -> None:
    order = create(client).get_json()
    finance = auth("finance")
    cancelled = client.post(f"/api/v1/orders/{order['code']}/cancel", json={}, headers=finance)
    assert cancelled.get_json()["status"] == "cancelled"
    again = client.post(
        f"/api/v1/orders/{order['code']}/cash", json={"amount_received": 10**6}, headers=finance
    )
    assert_error(again, 409, "illegal_transition")
    assert_error(
        client.post(f"/api/v1/orders/{order['code']}/refund", json={}, headers=finance), 409
    )


def test_expired_orders_cannot_be_paid(shop: Shop, db: Any) -> None:
    from datetime import timedelta

    from app.db import utcnow

    order = shop.order(("old-town-pass", "foreign", 1), paid=False)
    order.expires_at = utcnow() - timedelta(minutes=1)
    db.session.flush()
    with pytest.raises(Conflict, match="expired"):
        services.mark_order_paid(order_id=order.id, amount=order.total_amount)
    assert [o.code for o in services.expire_orders()] == [order.code]
    assert order.status == "expired"
