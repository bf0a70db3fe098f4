"""Real sales in a browser test server's database: orders through the API as the city app
and the desk make them (three products, three tiers; paid in cash at the desk, by VietQR
transfer through the bank's signed notification, by card through Stripe's signed webhook with
Stripe faked at its HTTP edge), and a refund of one ticket at the desk.

Run as `python -m tests.web.seed_sales OUT.json` with the server's environment; it writes, as
JSON, the figures the sales report must show, counted here from what was sold.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.auth import services as auth
from app.extensions import db
from tests.payments.conftest import (
    PAYMENT_CONFIG,
    Buyer,
    deliver_bank,
    deliver_stripe,
    notification,
)
from tests.payments.stripe_fake import FakeStripe
from ticketing.models import Order
from ticketing.verify import format_serial
from wsgi import app

PASS, CERAMICS, SHOW = "old-town-pass", "museum-of-trade-ceramics-ticket", "evening-art-show"
#: (method, items): what each buyer orders.
SALES: list[tuple[str, tuple[tuple[str, str, int], ...]]] = [
    ("cash", ((PASS, "foreign", 2), (PASS, "domestic", 1))),
    ("vietqr", ((CERAMICS, "foreign", 1), (CERAMICS, "child", 2))),
    ("stripe", ((SHOW, "foreign", 1), (SHOW, "domestic", 1))),
    ("cash", ((SHOW, "child", 1),)),
]


def _order(buyer: Buyer, method: str, items: tuple[tuple[str, str, int], ...]) -> Any:
    """An order as the app sends it; the art show is sold by date (tomorrow's)."""
    tomorrow = (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() + timedelta(days=1)).isoformat()
    lines = [
        {"product": p, "tier": t, "quantity": q, **({"date": tomorrow} if p == SHOW else {})}
        for p, t, q in items
    ]
    response = buyer.client.post(
        "/api/v1/orders",
        json={"items": lines, "email": "visitor@example.com", "payment_method": method},
        headers={"Idempotency-Key": f"seed-{secrets.token_hex(8)}"},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def main() -> None:
    app.config.update(PAYMENT_CONFIG)
    fake = FakeStripe()
    app.extensions["hoian_stripe_http_client"] = fake
    with app.app_context():
        email = f"desk-{secrets.token_hex(3)}@hoian.test"
        auth.create_user(email=email, password="correct horse battery", roles=["finance"])
        token = auth.login(email=email, password="correct horse battery", ttl_hours=1).token
        db.session.commit()
        desk = {"Authorization": f"Bearer {token}"}
        buyer = Buyer(app.test_client())
        orders: list[dict[str, Any]] = []
        for method, items in SALES:
            order = _order(buyer, method, items)
            if method == "cash":
                paid = buyer.client.post(
                    f"/api/v1/orders/{order['code']}/cash",
                    json={"amount_received": order["total"]},
                    headers=desk,
                )
                assert paid.status_code == 200, paid.get_json()
            elif method == "vietqr":
                answer = deliver_bank(buyer.client, notification(order))
                assert answer.status_code == 200, answer.get_json()
            else:
                for event in fake.pay(order["payment"]["payment_intent"]):
                    assert deliver_stripe(buyer.client, event).status_code == 200
            orders.append(order)
        first = db.session.scalar(db.select(Order).where(Order.code == orders[0]["code"]))
        assert first is not None
        refunded = next(ticket for ticket in first.tickets if ticket.tier == "domestic")
        refunded_amount, refunded_serial = int(refunded.unit_amount), refunded.serial
        db.session.rollback()  # the request below writes in a transaction of its own
        answer = buyer.client.post(
            f"/api/v1/orders/{orders[0]['code']}/refund",
            json={"tickets": [format_serial(refunded_serial)]},
            headers=desk,
        )
        assert answer.status_code == 200, answer.get_json()
        db.session.rollback()
        paid_orders = [
            db.session.scalar(db.select(Order).where(Order.code == order["code"]))
            for order in orders
        ]
        assert all(order is not None and order.paid_at for order in paid_orders), paid_orders
        methods: Counter[str] = Counter()
        revenue: Counter[str] = Counter()
        for (method, _), order in zip(SALES, orders, strict=True):
            methods[method] += 1
            revenue[method] += int(order["total"])
        Path(sys.argv[1]).write_text(
            json.dumps(
                {
                    "orders": len(orders),
                    "tickets": sum(q for _, items in SALES for _, _, q in items),
                    "revenue": sum(revenue.values()),
                    "refunds": 1,
                    "refunded": refunded_amount,
                    "by_method": {"orders": dict(methods), "revenue": dict(revenue)},
                }
            )
        )


if __name__ == "__main__":
    main()
