"""Check-in: every rule and reason, nonces, revocation, offline sync and its conflicts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.audit import AuditLog
from app.db import utcnow
from tests.app.test_shell import assert_error
from tests.ticketing.conftest import (
    BRIDGE,
    CERAMICS,
    OLD_TOWN_SITES,
    TAN_KY,
    Shop,
    nonce,
    now_iso,
    redeem,
)
from ticketing import services
from ticketing.models import CheckinScan, Ticket, TicketEntry
from ticketing.verify import format_serial

Headers = Callable[..., dict[str, str]]


def test_redeem_admits_once_per_site_and_counts_down(
    client: Any, shop: Shop, device: Headers
) -> None:
    gate = device()
    ticket = shop.ticket()
    first = redeem(client, gate, site=BRIDGE, code=ticket.code)
    assert first.status_code == 200
    body = first.get_json()
    assert (body["status"], body["reason"], body["entries_left"]) == ("ok", "ok", 4)
    assert body["ticket"]["serial"] == format_serial(ticket.serial)
    again = redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()
    assert (again["status"], again["reason"], again["entries_left"]) == (
        "error",
        "already_redeemed",
        4,
    )
    assert again["ticket"]["sites_used"] == [BRIDGE]
    assert [entry["site"] for entry in again["ticket"]["entries"]] == [BRIDGE]


def test_a_repeated_nonce_gets_the_first_answer(
    client: Any, shop: Shop, device: Headers, db: Any
) -> None:
    gate = device()
    ticket = shop.ticket()
    first = redeem(client, gate, site=BRIDGE, code=ticket.code, nonce_value="nonce-0001")
    second = redeem(client, gate, site=BRIDGE, code=ticket.code, nonce_value="nonce-0001")
    assert second.get_json() == first.get_json() and first.get_json()["reason"] == "ok"
    assert second.headers["Idempotent-Replayed"] == "true"
    entries = db.session.scalars(
        select(TicketEntry).where(TicketEntry.ticket_id == ticket.id)
    ).all()
    assert len(entries) == 1
    # The same nonce from another device is another scan.
    other = redeem(
        client, device("gate-2"), site=BRIDGE, code=ticket.code, nonce_value="nonce-0001"
    )
    assert other.get_json()["reason"] == "already_redeemed"


def test_quota_of_distinct_sites(client: Any, shop: Shop, device: Headers) -> None:
    gate = device()
    ticket = shop.ticket(tier="domestic")  # 3 sites
    answers = [
        redeem(client, gate, site=site, code=ticket.code).get_json() for site in OLD_TOWN_SITES[:4]
    ]
    assert [a["reason"] for a in answers] == ["ok", "ok", "ok", "quota_exhausted"]
    assert [a["entries_left"] for a in answers] == [2, 1, 0, 0]


def test_wrong_site_and_invalid_codes(client: Any, shop: Shop, device: Headers) -> None:
    gate = device()
    museum = shop.ticket(product="museum-of-trade-ceramics-ticket")
    wrong = redeem(client, gate, site=BRIDGE, code=museum.code).get_json()
    assert (wrong["reason"], wrong["entries_left"]) == ("wrong_site", 1)
    assert redeem(client, gate, site=CERAMICS, code=museum.code).get_json()["reason"] == "ok"
    garbage = redeem(client, gate, site=BRIDGE, code="HELLO WORLD").get_json()
    assert (garbage["status"], garbage["reason"], garbage["detail"]) == (
        "error",
        "invalid",
        "bad_length",
    )
    assert garbage["ticket"] is None and garbage["entries_left"] is None
    tampered = museum.code[:20] + ("A" if museum.code[20] != "A" else "B") + museum.code[21:]
    assert (
        redeem(client, gate, site=CERAMICS, code=tampered).get_json()["detail"] == "bad_signature"
    )
    assert_error(redeem(client, gate, site="no-such-site", code=museum.code), 422, "unknown_site")


def test_validity_window(client: Any, shop: Shop, device: Headers, db: Any) -> None:
    gate = device()
    ticket = shop.ticket()
    ticket.valid_from = utcnow() - timedelta(days=31)
    ticket.valid_until = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()["reason"] == "expired"
    later = shop.ticket()
    later.valid_from = utcnow() + timedelta(hours=1)
    db.session.flush()
    assert (
        redeem(client, gate, site=BRIDGE, code=later.code).get_json()["reason"] == "not_yet_valid"
    )


def test_first_use_opens_a_24_hour_window(
    client: Any, shop: Shop, device: Headers, db: Any
) -> None:
    gate = device()
    ticket = shop.ticket()
    assert redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()["reason"] == "ok"
    db.session.expire_all()
    row = db.session.get(Ticket, ticket.id)
    assert row.first_used_at is not None
    row.first_used_at = utcnow() - timedelta(hours=24, minutes=1)
    db.session.flush()
    assert redeem(client, gate, site=TAN_KY, code=ticket.code).get_json()["reason"] == "expired"


def test_dated_show_is_not_valid_before_its_evening(
    client: Any, shop: Shop, device: Headers
) -> None:
    from ticketing.models import Order

    created = services.create_order(
        items=[
            {
                "product": "evening-art-show",
                "tier": "foreign",
                "quantity": 1,
                "date": services.local_today() + timedelta(days=2),
            }
        ],
        email="a@b.org",
        payment_method="cash",
        language="en",
        idempotency_key=None,
    )
    order: Order = created.order
    services.mark_order_paid(order_id=order.id, amount=order.total_amount)
    (ticket,) = order.tickets
    answer = redeem(client, device(), site="museum-of-folk-culture", code=ticket.code).get_json()
    assert answer["reason"] == "not_yet_valid"


def test_refund_cancel_and_reissue_revoke_codes(
    client: Any, shop: Shop, device: Headers, auth: Any
) -> None:
    gate, finance = device(), auth("finance")
    order = shop.order(("old-town-pass", "foreign", 3))
    refunded, cancelled, reissued = order.tickets
    codes = {t.serial: t.code for t in order.tickets}
    before = client.get("/api/v1/checkin/revocations", headers=gate).get_json()["cursor"]

    refund = client.post(
        f"/api/v1/orders/{order.code}/refund",
        json={"tickets": [format_serial(refunded.serial)], "note": "changed plans"},
        headers=finance,
    )
    assert refund.status_code == 200, refund.get_json()
    assert refund.get_json()["refund_amount"] == 120000
    assert refund.get_json()["status"] == "partially_refunded"
    serial = format_serial(cancelled.serial)
    assert (
        client.post(f"/api/v1/tickets/{serial}/cancel", json={}, headers=finance).status_code == 200
    )
    serial = format_serial(reissued.serial)
    new = client.post(
        f"/api/v1/tickets/{serial}/reissue", json={"note": "phone lost"}, headers=finance
    )
    new_code = new.get_json()["code"]
    assert new_code != codes[reissued.serial]

    answers = {
        name: redeem(client, gate, site=BRIDGE, code=code).get_json()
        for name, code in (
            ("refunded", codes[refunded.serial]),
            ("cancelled", codes[cancelled.serial]),
            ("reissued", codes[reissued.serial]),
        )
    }
    assert {name: (a["reason"], a["detail"]) for name, a in answers.items()} == {
        "refunded": ("revoked", "refunded"),
        "cancelled": ("revoked", "cancelled"),
        "reissued": ("revoked", "reissued"),
    }
    assert redeem(client, gate, site=BRIDGE, code=new_code).get_json()["reason"] == "ok"

    page = client.get("/api/v1/checkin/revocations", query_string={"since": before}, headers=gate)
    items = page.get_json()["items"]
    assert [(i["serial"], i["reason"], i["below_generation"]) for i in items] == [
        (format_serial(refunded.serial), "refunded", 256),
        (format_serial(cancelled.serial), "cancelled", 256),
        (format_serial(reissued.serial), "reissued", 1),
    ]
    cursor = page.get_json()["cursor"]
    empty = client.get("/api/v1/checkin/revocations", query_string={"since": cursor}, headers=gate)
    assert empty.get_json() == {"items": [], "cursor": cursor, "more": False}
    one = client.get(
        "/api/v1/checkin/revocations", query_string={"since": before, "limit": 1}, headers=gate
    )
    assert one.get_json()["more"] is True and len(one.get_json()["items"]) == 1


def test_used_tickets_are_not_refunded(client: Any, shop: Shop, device: Headers, auth: Any) -> None:
    order = shop.order(("old-town-pass", "foreign", 1))
    (ticket,) = order.tickets
    redeem(client, device(), site=BRIDGE, code=ticket.code)
    refund = client.post(f"/api/v1/orders/{order.code}/refund", json={}, headers=auth("finance"))
    assert_error(refund, 409, "ticket_used")


def test_disputed_payment_answers_unpaid(
    client: Any, shop: Shop, device: Headers, auth: Any
) -> None:
    gate, finance = device(), auth("finance")
    order = shop.order(("old-town-pass", "foreign", 1))
    (ticket,) = order.tickets
    url = f"/api/v1/orders/{order.code}/dispute"
    assert (
        client.post(url, json={"outcome": "opened"}, headers=finance).get_json()["status"]
        == "disputed"
    )
    assert redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()["reason"] == "unpaid"
    assert client.post(url, json={"outcome": "won"}, headers=finance).get_json()["status"] == "paid"
    assert redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()["reason"] == "ok"


def test_only_enrolled_devices_and_admins_scan(
    client: Any, shop: Shop, device: Headers, auth: Any
) -> None:
    ticket = shop.ticket()
    denied = redeem(client, auth("inspector"), site=BRIDGE, code=ticket.code)
    assert_error(denied, 403, "device_required")
    assert_error(redeem(client, {}, site=BRIDGE, code=ticket.code), 401)
    assert redeem(client, auth("admin"), site=BRIDGE, code=ticket.code).get_json()["reason"] == "ok"

    admin = auth("admin")
    enrolled = client.post(
        "/api/v1/devices", json={"name": "Tấn Ký gate"}, headers=admin
    ).get_json()
    gate = {"Authorization": f"Bearer {enrolled['access_token']}"}
    assert redeem(client, gate, site=TAN_KY, code=ticket.code).get_json()["reason"] == "ok"
    client.delete(f"/api/v1/devices/{enrolled['id']}", headers=admin)
    assert_error(redeem(client, gate, site=CERAMICS, code=ticket.code), 401)
    sync = client.post("/api/v1/checkin/sync", json={"scans": []}, headers=gate)
    assert_error(sync, 401)


def test_damaged_code_fallback_search_then_redeem_by_serial(
    client: Any, shop: Shop, device: Headers
) -> None:
    gate = device()
    order = shop.order(("old-town-pass", "foreign", 2))
    by_order = client.get("/api/v1/checkin/search", query_string={"q": order.code}, headers=gate)
    found = by_order.get_json()["items"]
    assert len(found) == 2 and all(item["code"] is None for item in found)
    serial = found[0]["serial"]
    typed = serial.lower().replace("-", " ")
    by_serial = client.get("/api/v1/checkin/search", query_string={"q": typed}, headers=gate)
    assert [item["serial"] for item in by_serial.get_json()["items"]] == [serial]
    body = {"serial": serial, "site": BRIDGE, "nonce": nonce(), "scanned_at": now_iso()}
    answer = client.post("/api/v1/checkin/redeem", json=body, headers=gate).get_json()
    assert answer["reason"] == "ok" and answer["entries_left"] == 4
    both = {**body, "secret": order.tickets[1].code}
    assert_error(client.post("/api/v1/checkin/redeem", json=both, headers=gate), 422)


def _offline(code: str, site: str, minutes_ago: int, **extra: Any) -> dict[str, Any]:
    at = (utcnow() - timedelta(minutes=minutes_ago)).isoformat()
    return {"secret": code, "site": site, "nonce": nonce(), "scanned_at": at, **extra}


def test_offline_sync_keeps_conflicts_and_names_them(
    client: Any, shop: Shop, device: Headers, auth: Any, db: Any
) -> None:
    one, two = device("gate-a"), device("gate-b")
    ticket = shop.ticket(tier="domestic")  # 3 sites
    ticket.valid_from -= timedelta(hours=2)  # bought before the gates went offline
    db.session.flush()
    code = ticket.code
    first = [_offline(code, BRIDGE, 50), _offline(code, TAN_KY, 40)]
    second = [
        _offline(code, BRIDGE, 45),  # the same site on another device
        _offline("NOT A CODE", BRIDGE, 44),
        _offline(code, "fujian-assembly-hall", 30),
        _offline(code, "quan-cong-temple", 20),  # a fourth site: over quota
        _offline(code, "phung-hung-old-house", 10, admitted=False),  # refused at the gate
    ]
    answer_one = client.post("/api/v1/checkin/sync", json={"scans": first}, headers=one)
    assert [r["reason"] for r in answer_one.get_json()["results"]] == ["ok", "ok"]
    answer_two = client.post("/api/v1/checkin/sync", json={"scans": second}, headers=two).get_json()
    results = answer_two["results"]
    assert [(r["reason"], r["conflict"]) for r in results] == [
        ("already_redeemed", "double_entry"),
        ("invalid", "invalid_code"),
        ("ok", None),
        ("quota_exhausted", "over_quota"),
        ("quota_exhausted", None),
    ]
    assert answer_two["conflicts"] == 3
    retried = client.post("/api/v1/checkin/sync", json={"scans": second}, headers=two).get_json()
    assert retried["results"] == results

    manager = auth("finance")
    conflicts = client.get("/api/v1/checkin/conflicts", headers=manager).get_json()
    assert [c["conflict"] for c in conflicts] == ["double_entry", "invalid_code", "over_quota"]
    assert conflicts[0]["serial"] == format_serial(ticket.serial) and conflicts[0]["site"] == BRIDGE
    resolved = client.post(
        f"/api/v1/checkin/conflicts/{conflicts[0]['id']}/resolve",
        json={"note": "one visitor, two gates: warned both"},
        headers=manager,
    )
    assert resolved.get_json()["resolved_at"]
    open_ones = client.get("/api/v1/checkin/conflicts?unresolved=true", headers=manager).get_json()
    assert [c["conflict"] for c in open_ones] == ["invalid_code", "over_quota"]
    at_bridge = client.get(f"/api/v1/checkin/conflicts?site={BRIDGE}", headers=manager).get_json()
    assert len(at_bridge) == 2

    db.session.expire_all()
    row = db.session.get(Ticket, ticket.id)
    assert row.entries_count == 3 and len(row.entries) == 3
    assert db.session.scalar(select(CheckinScan).where(CheckinScan.conflict == "over_quota"))
    audit_actions = db.session.scalars(select(AuditLog.action)).all()
    assert audit_actions.count("checkin.conflict") == 3
    # An offline entry is dated when the gate scanned it, not when the phone uploaded it.
    redeems = db.session.scalars(
        select(AuditLog).where(
            AuditLog.action == "ticket.redeem", AuditLog.object_id == format_serial(ticket.serial)
        )
    ).all()
    scanned = {datetime.fromisoformat(s["scanned_at"]) for s in [*first, *second]}
    assert len(redeems) == 3 and all(row.at in scanned for row in redeems)
    assert all(row.changes["recorded_at"] for row in redeems)


def test_offline_scan_before_a_refund_was_a_rightful_entry(
    client: Any, shop: Shop, device: Headers, auth: Any, db: Any
) -> None:
    order = shop.order(("old-town-pass", "foreign", 1))
    (ticket,) = order.tickets
    ticket.valid_from -= timedelta(hours=2)
    db.session.flush()
    code = ticket.code
    client.post(
        f"/api/v1/tickets/{format_serial(ticket.serial)}/cancel", json={}, headers=auth("admin")
    )
    scans = [_offline(code, BRIDGE, 30), _offline(code, TAN_KY, -1)]
    scans[1]["scanned_at"] = (utcnow() + timedelta(seconds=5)).isoformat()
    results = client.post(
        "/api/v1/checkin/sync", json={"scans": scans}, headers=device()
    ).get_json()
    assert [(r["reason"], r["conflict"]) for r in results["results"]] == [
        ("ok", None),
        ("revoked", "revoked_ticket"),
    ]


def test_site_entries_today_and_by_hour(
    client: Any, shop: Shop, device: Headers, auth: Any
) -> None:
    gate = device()
    for _ in range(3):
        redeem(client, gate, site=BRIDGE, code=shop.ticket().code)
    stats = client.get(f"/api/v1/sites/{BRIDGE}/entries", headers=auth("finance")).get_json()
    assert (
        stats["entries"] == 3 and stats["online"] == 3 and stats["timezone"] == "Asia/Ho_Chi_Minh"
    )
    assert sum(hour["entries"] for hour in stats["by_hour"]) == 3 and len(stats["by_hour"]) == 24
    other_day = client.get(
        f"/api/v1/sites/{BRIDGE}/entries",
        query_string={"date": "2020-01-01"},
        headers=auth("finance"),
    )
    assert other_day.get_json()["entries"] == 0
    assert_error(client.get("/api/v1/sites/nowhere/entries", headers=auth("finance")), 404)
    assert_error(client.get(f"/api/v1/sites/{BRIDGE}/entries", headers=auth("editor")), 403)


def test_keys_are_public_and_hold_no_private_material(client: Any, shop: Shop) -> None:
    body = client.get("/api/v1/checkin/keys").get_json()
    assert body["format"] == 1
    (key,) = body["keys"]
    assert key["status"] == "active" and key["algorithm"] == "Ed25519"
    assert len(key["public_key"]) == 43
    pem = next(shop.keys_dir.glob("*.pem")).read_text()
    assert "PRIVATE" in pem and pem.splitlines()[1] not in client.get(
        "/api/v1/checkin/keys"
    ).get_data(as_text=True)
