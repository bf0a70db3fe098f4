"""Finance in the console: find an order by email, take cash, refund one chosen ticket,
resolve a flag with a note, preview a bank statement and then record it."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from payments.models import BankTransfer, PaymentFlag
from tests.payments.conftest import Buyer
from tests.web.console.conftest import Console
from ticketing.models import Order

PASS = "old-town-pass"


def _order(db: Any, code: str) -> Order:
    return db.session.scalar(select(Order).where(Order.code == code))


def test_finance_finds_an_order_takes_cash_and_refunds_one_ticket(
    db: Any, buyer: Buyer, signed_in: Callable[..., Console]
) -> None:
    order = buyer.order("cash", (PASS, "foreign", 2), email="lan.nguyen@example.com")
    other = buyer.order("cash", (PASS, "domestic", 1), email="someone@example.com")
    finance = signed_in("finance")
    found = finance.get("/console/orders?q=lan.nguyen")
    assert found.status_code == 200
    assert order["code"] in found.text and other["code"] not in found.text
    by_code = finance.get(f"/console/orders?q={order['code'].lower()}")
    assert order["code"] in by_code.text
    page = finance.get(f"/console/orders/{order['code']}")
    assert "Thu tiền mặt" in page.text
    short = finance.post(f"/console/orders/{order['code']}/cash", {"amount_received": "1000"})
    assert short.status_code == 422
    paid = finance.post(f"/console/orders/{order['code']}/cash", {"amount_received": "250.000"})
    assert paid.status_code == 302
    assert _order(db, order["code"]).status == "paid"
    page = finance.get(f"/console/orders/{order['code']}")
    assert "Trả lại khách 10.000 ₫" in page.text  # 250.000 given for 240.000
    serials = re.findall(r'name="ticket" value="([^"]+)"', page.text)
    assert len(serials) == 2
    by_serial = finance.get(f"/console/orders?q={serials[0]}")
    assert order["code"] in by_serial.text
    no_note = finance.post(f"/console/orders/{order['code']}/refund", {"ticket": serials[0]})
    assert no_note.status_code == 422
    refunded = finance.post(
        f"/console/orders/{order['code']}/refund", {"ticket": serials[0], "note": "ốm"}
    )
    assert refunded.status_code == 302
    row = _order(db, order["code"])
    assert row.status == "partially_refunded" and row.refunded_amount == 120_000
    page = finance.get(f"/console/orders/{order['code']}")
    assert "ticket.refund" in page.text or "order.refund" in page.text  # the audit trail


def test_finance_previews_a_statement_then_records_it_and_resolves_the_flag(
    db: Any, buyer: Buyer, signed_in: Callable[..., Console]
) -> None:
    good = buyer.order("vietqr", (PASS, "foreign", 1))
    short = buyer.order("vietqr", (PASS, "foreign", 1))
    statement = "\n".join(
        [
            "Ngày giao dịch,Số tham chiếu,Số tiền ghi có,Nội dung",
            f"23/11/2026 15:02:00,FT1001,120.000,IBFT {good['payment']['reference']} ve",
            f"23/11/2026 15:03:00,FT1002,100000,{short['payment']['reference']}",
            "23/11/2026 15:04:00,FT1003,-50000,phi",
        ]
    ).encode()
    finance = signed_in("finance")
    finance.get("/console/statements")
    preview = finance.post(
        "/console/statements",
        {"statement": (io.BytesIO(statement), "statement.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200, preview.text
    assert "FT1001" in preview.text and "Khớp (1)" in preview.text
    assert "Bị cảnh báo (1)" in preview.text and "Bỏ qua (1)" in preview.text
    assert db.session.scalar(select(func.count()).select_from(BankTransfer)) == 0
    assert _order(db, good["code"]).status == "pending"
    token = re.search(r'name="token" value="([^"]+)"', preview.text)
    assert token is not None
    confirmed = finance.post("/console/statements/confirm", {"token": token.group(1)})
    assert confirmed.status_code == 302
    assert _order(db, good["code"]).status == "paid"
    again = finance.post("/console/statements/confirm", {"token": token.group(1)})
    assert again.status_code == 422  # a preview is recorded once
    flag = db.session.scalar(select(PaymentFlag).where(PaymentFlag.kind == "underpaid"))
    assert flag is not None
    flags = finance.get("/console/flags")
    assert f'id="flag-{flag.id}"' in flags.text
    assert finance.post(f"/console/flags/{flag.id}/resolve", {"note": " "}).status_code == 422
    done = finance.post(f"/console/flags/{flag.id}/resolve", {"note": "Khách chuyển thêm"})
    assert done.status_code == 302
    db.session.refresh(flag)
    assert flag.resolution_note == "Khách chuyển thêm"


def test_only_finance_and_admins_use_the_finance_pages(signed_in: Callable[..., Console]) -> None:
    for role, status in (("admin", 200), ("manager", 403), ("editor", 403)):
        browser = signed_in(role)
        for path in ("/console/orders", "/console/flags", "/console/statements"):
            assert browser.get(path).status_code == status, (role, path)
