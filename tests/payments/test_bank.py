"""VietQR bank transfer: instructions and QR image, signed notifications, flags, statements."""

from __future__ import annotations

import contextvars
import json
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from payments import bank
from payments.models import BankTransfer, Payment, PaymentFlag, Refund
from payments.vietqr import parse_payload
from tests.app.test_shell import assert_error
from tests.payments.conftest import (
    ACCOUNT,
    BANK_BIN,
    NOTIFY_SECRET,
    Buyer,
    count,
    deliver_bank,
    issuances,
    notification,
    order_row,
    payments_of,
    tickets_of,
)
from ticketing import services as ticket_services
from ticketing.verify import format_serial

PASS = "old-town-pass"


def _transfer_order(buyer: Buyer, *items: tuple[str, str, int]) -> dict[str, Any]:
    return buyer.order("vietqr", *(items or ((PASS, "foreign", 2), (PASS, "domestic", 1))))


def _zbarimg(image: bytes) -> str:
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbar-tools is installed by make test (Makefile system-deps)"
    done = subprocess.run(
        [zbarimg, "--raw", "--quiet", "-"], input=image, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def test_a_transfer_order_shows_a_vietqr_code_a_banking_app_can_read(buyer: Buyer, db: Any) -> None:
    order = _transfer_order(buyer)
    payment = order["payment"]
    assert payment["reference"] == f"HA{order['code']}"
    assert (payment["bank_bin"], payment["account"], payment["amount"]) == (
        BANK_BIN,
        ACCOUNT,
        320000,
    )
    parsed = parse_payload(payment["payload"])
    assert (parsed.bank_bin, parsed.account, parsed.amount, parsed.service) == (
        BANK_BIN,
        ACCOUNT,
        320000,
        "QRIBFTTA",
    )
    assert parsed.note.startswith(payment["reference"]) and parsed.dynamic

    image = buyer.client.get(payment["qr_url"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert _zbarimg(image.data) == payment["payload"]
    svg = buyer.client.get(payment["qr_svg_url"])
    assert svg.status_code == 200 and svg.data.startswith(b"<svg")
    forged = payment["qr_url"].split("sig=")[0] + "sig=" + "0" * 32
    assert_error(buyer.client.get(forged), 404)
    assert_error(buyer.client.get(payment["qr_url"].split("sig=")[0] + "sig=%C3%A9"), 404)
    (row,) = payments_of(db, order["code"])
    assert (row.method, row.state, row.reference) == ("vietqr", "pending", payment["reference"])


def test_five_deliveries_in_shuffled_order_pay_once_and_flag_once(
    buyer: Buyer, db: Any, auth: Any
) -> None:
    first, second = _transfer_order(buyer), _transfer_order(buyer, (PASS, "foreign", 1))
    notes = [
        notification(first),
        notification(second, note=f"{second['payment']['reference'].lower()} chuyen tien"),
        notification(None, amount=150000, note="tien ve tham quan"),
    ]
    deliveries = notes * 5
    random.Random(7).shuffle(deliveries)
    answers = [deliver_bank(buyer.client, body) for body in deliveries]
    assert {a.status_code for a in answers} == {200}
    assert sum(not a.get_json()["duplicate"] for a in answers) == 3

    for order, quantity in ((first, 3), (second, 1)):
        assert order_row(db, order["code"]).status == "paid"
        assert len(tickets_of(db, order["code"])) == quantity
        assert issuances(db, order["code"]) == 1
        (payment,) = payments_of(db, order["code"])
        assert [t.to_state for t in payment.transitions] == ["created", "pending", "succeeded"]
    assert count(db, BankTransfer) == 3
    flags = buyer.client.get("/api/v1/payments/flags", headers=auth("finance")).get_json()
    assert [f["kind"] for f in flags["items"]] == ["unknown_reference"]
    assert flags["items"][0]["transaction_id"] == notes[2]["transaction_id"]


@pytest.mark.parametrize(
    "tamper",
    ["forged", "stale", "missing", "body_changed", "non_ascii"],
)
def test_unsigned_forged_or_stale_notifications_change_nothing(
    buyer: Buyer, db: Any, tamper: str
) -> None:
    order = _transfer_order(buyer)
    body = notification(order)
    if tamper == "forged":
        answer = deliver_bank(buyer.client, body, secret="not-the-shared-secret-0123456789")
    elif tamper == "stale":
        answer = deliver_bank(buyer.client, body, timestamp=int(time.time()) - 3600)
    elif tamper == "missing":
        answer = buyer.client.post("/api/v1/payments/vietqr/notify", json=body)
    elif tamper == "non_ascii":
        answer = buyer.client.post(
            "/api/v1/payments/vietqr/notify",
            json=body,
            headers={bank.TIMESTAMP_HEADER: str(int(time.time())), bank.SIGNATURE_HEADER: "v1=é"},
        )
    else:
        moment = int(time.time())
        signature = bank.sign(json.dumps(body).encode(), secret=NOTIFY_SECRET, timestamp=moment)
        answer = buyer.client.post(
            "/api/v1/payments/vietqr/notify",
            data=json.dumps({**body, "amount": 1}).encode(),
            headers={bank.TIMESTAMP_HEADER: str(moment), bank.SIGNATURE_HEADER: signature},
        )
    assert answer.status_code == 400
    assert answer.get_json()["reason"] in ("invalid_signature", "stale_timestamp")
    assert order_row(db, order["code"]).status == "pending"
    assert count(db, BankTransfer) == 0


def test_wrong_amounts_are_flagged_for_finance_never_accepted(
    buyer: Buyer, db: Any, auth: Any
) -> None:
    under, over = _transfer_order(buyer), _transfer_order(buyer)
    assert deliver_bank(buyer.client, notification(under, amount=300000)).get_json()["status"] == (
        "underpaid"
    )
    assert deliver_bank(buyer.client, notification(over, amount=400000)).get_json()["status"] == (
        "overpaid"
    )
    for order in (under, over):
        assert order_row(db, order["code"]).status == "pending"
        assert issuances(db, order["code"]) == 0
        assert payments_of(db, order["code"])[0].state == "pending"
    finance = auth("finance")
    flags = buyer.client.get("/api/v1/payments/flags", headers=finance).get_json()["items"]
    assert [(f["kind"], f["order"], f["amount"]) for f in flags] == [
        ("underpaid", under["code"], 300000),
        ("overpaid", over["code"], 400000),
    ]
    assert_error(buyer.client.get("/api/v1/payments/flags", headers=auth("editor")), 403)
    resolved = buyer.client.post(
        f"/api/v1/payments/flags/{flags[0]['id']}/resolve",
        json={"note": "buyer sent the remaining 20,000 VND in cash"},
        headers=finance,
    )
    assert resolved.status_code == 200 and resolved.get_json()["resolved_at"]
    still_open = buyer.client.get("/api/v1/payments/flags", headers=finance).get_json()["items"]
    assert [f["kind"] for f in still_open] == ["overpaid"]


def test_transfers_to_another_account_or_malformed_are_refused(buyer: Buyer, db: Any) -> None:
    order = _transfer_order(buyer)
    assert_error(
        deliver_bank(buyer.client, notification(order, account="123456789")),
        422,
        "not_our_account",
    )
    assert_error(deliver_bank(buyer.client, {**notification(order), "amount": -5}), 422)
    assert_error(deliver_bank(buyer.client, {"transaction_id": "FT1"}), 422)
    assert count(db, BankTransfer) == 0 and order_row(db, order["code"]).status == "pending"


def test_money_for_an_expired_or_paid_order_is_recorded_and_flagged(buyer: Buyer, db: Any) -> None:
    late, twice = _transfer_order(buyer), _transfer_order(buyer)
    row = order_row(db, late["code"])
    row.expires_at = row.created_at
    db.session.flush()
    ticket_services.expire_orders()
    late_answer = deliver_bank(buyer.client, notification(late)).get_json()
    assert late_answer["status"] == "late"
    assert deliver_bank(buyer.client, notification(twice)).get_json()["status"] == "matched"
    second = deliver_bank(buyer.client, notification(twice)).get_json()
    assert second["status"] == "duplicate" and second["duplicate"] is False  # not a resend
    assert order_row(db, late["code"]).status == "expired"
    assert issuances(db, twice["code"]) == 1
    flags = list(db.session.scalars(select(PaymentFlag).order_by(PaymentFlag.id)))
    assert [flag.kind for flag in flags] == ["late_payment", "duplicate_payment"]
    # Each answer names the flag it raised, and the flag names the transfer.
    assert [late_answer["flag"], second["flag"]] == [flag.id for flag in flags]
    assert all(flag.bank_transfer_id is not None for flag in flags)
    assert [p.state for p in payments_of(db, twice["code"])] == ["succeeded", "succeeded"]


def test_refunding_part_of_a_transfer_order_asks_finance_to_send_it(
    buyer: Buyer, db: Any, auth: Any
) -> None:
    order = _transfer_order(buyer)
    deliver_bank(buyer.client, notification(order))
    domestic = next(t for t in tickets_of(db, order["code"]) if t.tier == "domestic")
    finance = auth("finance")
    answer = buyer.client.post(
        f"/api/v1/orders/{order['code']}/refund",
        json={"tickets": [format_serial(domestic.serial)]},
        headers=finance,
    )
    assert answer.status_code == 200, answer.get_json()
    statuses = sorted((t.tier, t.status) for t in tickets_of(db, order["code"]))
    assert statuses == [("domestic", "refunded"), ("foreign", "valid"), ("foreign", "valid")]
    (refund,) = db.session.scalars(select(Refund)).all()
    assert (refund.state, refund.amount, refund.tickets) == (
        "pending",
        80000,
        [format_serial(domestic.serial)],
    )
    (flag,) = buyer.client.get("/api/v1/payments/flags", headers=finance).get_json()["items"]
    assert flag["kind"] == "manual_refund" and flag["amount"] == 80000
    buyer.client.post(
        f"/api/v1/payments/flags/{flag['id']}/resolve",
        json={"note": "sent back, Vietcombank FT999"},
        headers=finance,
    )
    db.session.expire_all()
    assert db.session.get(Refund, refund.id).state == "succeeded"


def run_cli(app: Flask, *args: str) -> Any:
    """Run a CLI command in its own app context (its own session), as the shell would."""

    return contextvars.Context().run(app.test_cli_runner().invoke, args=list(args))


def _statement(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "statement.csv"
    header = "Ngày giao dịch,Số tham chiếu,Số tiền ghi có,Nội dung"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_reconcile_matches_a_statement_to_open_orders(
    app: Flask, buyer: Buyer, db: Any, tmp_path: Path
) -> None:
    notified, missed, short, unpaid = (_transfer_order(buyer) for _ in range(4))
    already = notification(notified)
    deliver_bank(buyer.client, already)
    statement = _statement(
        tmp_path,
        [
            f'23/11/2026 15:01:00,{already["transaction_id"]},"320,000",{already["description"]}',
            f"23/11/2026 15:02:00,FT0002,320.000,IBFT {missed['payment']['reference']} ve",
            f"23/11/2026 15:03:00,FT0003,300000,{short['payment']['reference']}",
            "23/11/2026 15:04:00,FT0004,-50000,phi dich vu",
            "23/11/2026 15:05:00,FT0005,90000,chuyen khoan khong ghi chu",
        ],
    )
    dry = run_cli(app, "payments", "reconcile", str(statement), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "1 matched, 2 flagged, 1 already recorded, 1 skipped" in dry.output
    assert order_row(db, missed["code"]).status == "pending"
    assert count(db, BankTransfer) == 1

    result = run_cli(app, "payments", "reconcile", str(statement))
    assert result.exit_code == 0, result.output
    assert f"matched    line 3: FT0002 320000 VND -> matched order {missed['code']}" in (
        result.output
    )
    assert "flagged    line 4: FT0003 300000 VND -> underpaid" in result.output
    assert "already recorded" in result.output and "line 5: not a credit" in result.output
    assert f"unpaid     order {unpaid['code']}" in result.output
    assert f"unpaid     order {short['code']}" in result.output
    assert order_row(db, missed["code"]).status == "paid"
    assert issuances(db, notified["code"]) == 1
    again = run_cli(app, "payments", "reconcile", str(statement))
    assert "0 matched, 0 flagged, 4 already recorded" in again.output
    assert count(db, Payment, Payment.state == "succeeded") == 2


def test_the_order_page_shows_the_code_to_scan_then_the_tickets(buyer: Buyer, db: Any) -> None:
    order = _transfer_order(buyer)
    url = f"/pay/{order['code']}?token={order['access_token']}"
    page = buyer.client.get(url)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert order["payment"]["reference"] in html and "<svg" in html and "320.000 ₫" in html
    assert buyer.client.get(f"/pay/{order['code']}?token=hot_wrong").status_code == 404
    assert buyer.client.get(f"/pay/{order['code']}").status_code == 404

    deliver_bank(buyer.client, notification(order))
    html = buyer.client.get(url).get_data(as_text=True)
    assert "<svg" not in html and "Your tickets" in html
    for ticket in tickets_of(db, order["code"]):
        assert format_serial(ticket.serial) in html
