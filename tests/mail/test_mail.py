"""Mail to buyers, against a real SMTP server: the confirmation carries every ticket (its QR
code decodes to a code that redeems, its link opens the ticket), retries back off and end in
`failed` with the reason, finance resends, refunds are told, and without a mail server the
messages are .eml files and the pages say so."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.db import utcnow
from mail import services as mail
from mail.models import MailMessage
from tests.mail.conftest import SmtpServer, qr_codes
from tests.ticketing.conftest import BRIDGE, TAN_KY, Shop, redeem

FAMILY = [
    {"product": "old-town-pass", "tier": "foreign", "quantity": 2},
    {"product": "old-town-pass", "tier": "domestic", "quantity": 1},
]


def _paid_order(client: Any, auth: Any, *, language: str = "en", email: str = "") -> dict[str, Any]:
    created = client.post(
        "/api/v1/orders",
        json={
            "items": FAMILY,
            "email": email or "family@example.com",
            "payment_method": "cash",
            "language": language,
        },
    )
    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    paid = client.post(
        f"/api/v1/orders/{order['code']}/cash",
        json={"amount_received": order["total"]},
        headers=auth("finance"),
    )
    assert paid.status_code == 200, paid.get_json()
    return order


def _messages(db: Any, code: str) -> list[MailMessage]:
    from ticketing.models import Order

    order = db.session.query(Order).filter_by(code=code).one()
    db.session.expire_all()
    return mail.messages_of(order.id)


def test_a_paid_order_mails_its_tickets_and_each_qr_code_redeems(
    client: Any, db: Any, shop: Shop, smtp: SmtpServer, auth: Any, device: Any, tmp_path: Path
) -> None:
    order = _paid_order(client, auth, language="fr")
    (message,) = smtp.inbox.received
    assert message["To"] == "family@example.com"
    assert message["Subject"] == f"Vos billets pour Hội An, commande {order['code']}"
    assert message["Content-Language"] == "fr" and message["Message-ID"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Billet 1 sur 3" in text and "Billet 3 sur 3" in text
    assert "Visiteur étranger" in text and "Visiteur vietnamien" in text
    assert "Donne accès à 5 sites" in text and "Première entrée avant le" in text
    assert "Pont couvert japonais" in text or "Japanese Covered Bridge" in text
    # Every ticket's printable link carries the order's access token and opens the ticket.
    links = re.findall(r"http://127\.0\.0\.1:8000(/t/[0-9A-Z-]+\?token=hot_[0-9a-f]+)", text)
    assert len(links) == 3
    page = client.get(links[0])
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Montrez ce code" in page.get_data(as_text=True)
    phone = re.findall(r"http://127\.0\.0\.1:8000(/t/[^/]+/phone\.png\?token=\S+)", text)
    assert len(phone) == 3 and client.get(phone[0]).mimetype == "image/png"
    # Each QR code is an inline image of the HTML part, and decodes to a code that admits.
    assert html.count('src="cid:') == 3
    codes = qr_codes(message, tmp_path)
    assert len(codes) == 3 and len(set(codes)) == 3
    gate = device()
    for code, site in zip(codes, (BRIDGE, TAN_KY, BRIDGE), strict=True):
        answer = redeem(client, gate, site=site, code=code).get_json()
        assert answer["status"] == "ok", answer
    (row,) = _messages(db, order["code"])
    assert (row.state, row.transport, row.attempts, row.error) == ("sent", "smtp", 1, None)
    read = client.get(
        f"/api/v1/orders/{order['code']}",
        headers={"Authorization": f"Bearer {order['access_token']}"},
    ).get_json()
    assert read["mail"]["delivery"] == "smtp"
    assert [(m["kind"], m["state"]) for m in read["mail"]["messages"]] == [
        ("order_confirmation", "sent")
    ]
    assert all("token=hot_" in t["page_url"] for t in read["tickets"])


def test_a_failing_server_is_retried_with_backoff_then_the_message_fails_with_the_reason(
    app: Flask,
    client: Any,
    db: Any,
    shop: Shop,
    smtp: SmtpServer,
    auth: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_S", 30.0)
    smtp.inbox.refuse = "451 4.3.0 Mailbox busy, try later"
    order = _paid_order(client, auth)
    (row,) = _messages(db, order["code"])
    assert (row.state, row.attempts) == ("queued", 1)
    assert row.error == "SMTP 451: 4.3.0 Mailbox busy, try later"
    first_wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=25) < first_wait <= timedelta(seconds=30)
    # Not due yet: the sweep leaves it alone.
    assert mail.queue_due() == []
    assert mail.queue_due(now=utcnow() + timedelta(seconds=31)) == [row.id]
    (row,) = _messages(db, order["code"])
    assert (row.state, row.attempts) == ("queued", 2)
    assert timedelta(seconds=115) < row.next_attempt_at - utcnow() <= timedelta(seconds=120)
    mail.queue_due(now=utcnow() + timedelta(seconds=121))
    (row,) = _messages(db, order["code"])
    assert (row.state, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert "451" in (row.error or "") and smtp.inbox.received == []
    # The buyer's page says so.
    page = client.get(f"/pay/{order['code']}?token={order['access_token']}&lang=en")
    assert "We could not send your tickets to family@example.com" in page.get_data(as_text=True)

    # Finance resends once the server is back; the same row goes out.
    smtp.inbox.refuse = None
    refused = client.post(
        f"/api/v1/orders/{order['code']}/messages/{row.id}/resend", json={}, headers=auth("editor")
    )
    assert refused.status_code == 403
    again = client.post(
        f"/api/v1/orders/{order['code']}/messages/{row.id}/resend",
        json={"recipient": "Family.Fixed@example.com"},
        headers=auth("finance"),
    )
    assert again.status_code == 202, again.get_json()
    (message,) = smtp.inbox.received
    assert message["To"] == "family.fixed@example.com"
    (row,) = _messages(db, order["code"])
    assert (row.state, row.attempts, row.error) == ("sent", 1, None)
    listed = client.get(f"/api/v1/orders/{order['code']}/messages", headers=auth("finance"))
    assert [m["state"] for m in listed.get_json()] == ["sent"]


def test_a_refused_recipient_fails_at_once(
    client: Any, db: Any, shop: Shop, smtp: SmtpServer, auth: Any
) -> None:
    smtp.inbox.refuse = "550 5.1.1 No such user"
    order = _paid_order(client, auth)
    (row,) = _messages(db, order["code"])
    assert (row.state, row.attempts, row.error) == ("failed", 1, "SMTP 550: 5.1.1 No such user")


def test_a_server_that_is_down_is_retried(
    app: Flask, client: Any, db: Any, shop: Shop, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.mail.conftest import _free_port

    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", _free_port())
    monkeypatch.setitem(app.config, "SMTP_TLS", "none")
    order = _paid_order(client, auth)
    (row,) = _messages(db, order["code"])
    assert row.state == "queued" and "ConnectionRefusedError" in (row.error or "")


def test_a_refund_sends_a_notice(
    client: Any, db: Any, shop: Shop, smtp: SmtpServer, auth: Any
) -> None:
    order = _paid_order(client, auth, language="vi")
    serial = client.get(f"/api/v1/orders/{order['code']}", headers=auth("finance")).get_json()[
        "tickets"
    ][0]["serial"]
    refunded = client.post(
        f"/api/v1/orders/{order['code']}/refund",
        json={"tickets": [serial], "note": "changed plans"},
        headers=auth("finance"),
    )
    assert refunded.status_code == 200, refunded.get_json()
    confirmation, notice = smtp.inbox.received
    assert notice["Subject"] == f"Hoàn tiền cho đơn hàng Hội An {order['code']}"
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert "120.000 ₫" in text and serial in text and "tại quầy vé" in text
    assert "Các vé khác của bạn vẫn còn giá trị." in text
    kinds = [(m.kind, m.state) for m in _messages(db, order["code"])]
    assert kinds == [("order_confirmation", "sent"), ("refund_notice", "sent")]
    # The refunded ticket's page says so, as a page.
    link = re.search(r"(/t/[0-9A-Z-]+\?token=\S+)", confirmation.get_body(("plain",)).get_content())
    assert link
    pages = [client.get(f"/t/{serial}?token={order['access_token']}&lang=en")]
    assert pages[0].status_code == 200 and pages[0].mimetype == "text/html"
    assert "This ticket was refunded and no longer admits." in pages[0].get_data(as_text=True)


@pytest.mark.parametrize("tls_smtp", ["starttls", "ssl"], indirect=True)
# aiosmtpd's warning about its own AUTH without STARTTLS: the implicit TLS server's connection
# is TLS from the first byte.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_mail_goes_over_tls_with_credentials(
    client: Any, db: Any, shop: Shop, tls_smtp: SmtpServer, auth: Any
) -> None:
    order = _paid_order(client, auth)
    (message,) = tls_smtp.inbox.received
    assert order["code"] in message["Subject"]


def test_without_a_mail_server_messages_are_eml_files_and_the_pages_say_so(
    app: Flask, client: Any, db: Any, shop: Shop, auth: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    import email
    import email.policy

    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    monkeypatch.setitem(app.config, "MAIL_DIR", str(tmp_path / "outbox"))
    order = _paid_order(client, auth)
    (row,) = _messages(db, order["code"])
    assert (row.state, row.transport) == ("sent", "file")
    saved = Path(row.stored_path or "")
    assert saved.parent == tmp_path / "outbox" and saved.suffix == ".eml"
    message = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
    assert order["code"] in message["Subject"] and qr_codes(message, tmp_path)
    read = client.get(f"/api/v1/orders/{order['code']}?token={order['access_token']}").get_json()
    assert read["mail"]["delivery"] == "file"
    page = client.get(f"/pay/{order['code']}?token={order['access_token']}&lang=en")
    assert "This server does not send email yet" in page.get_data(as_text=True)


def test_staff_find_an_order_by_the_buyers_email(
    client: Any, db: Any, shop: Shop, smtp: SmtpServer, auth: Any, device: Any
) -> None:
    order = _paid_order(client, auth, email="Lost.Tickets@Example.com")
    found = client.get(
        "/api/v1/checkin/search?q=lost.tickets@example.com", headers=device()
    ).get_json()
    assert len(found["items"]) == 3
    assert all(item["code"] is None and "token=" not in item["page_url"] for item in found["items"])
    assert order["code"]
