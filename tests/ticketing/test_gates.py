"""Gates: devices enrolled for a site and paired with one-time codes; nonces bound to their
scan; annulling a check-in; exit mode and occupancy; clocks corrected at sync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.audit import AuditLog
from app.auth.models import DevicePairing
from tests.app.test_shell import assert_error
from tests.ticketing.conftest import BRIDGE, CERAMICS, TAN_KY, Shop, nonce, now_iso, redeem
from ticketing.models import CheckinScan, Ticket, TicketEntry
from ticketing.verify import format_serial

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def admin(auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth("admin")


def _pair(client: Any, admin: dict[str, str], *, site: str = BRIDGE) -> tuple[int, str]:
    """Enroll a device for `site` the way the console does (no token), then pairing code."""
    from app.auth import services

    device = services.create_device(name=f"gate {site}", enrolled_by_id=None, site_id=None)
    moved = client.patch(f"/api/v1/devices/{device.id}", json={"site": site}, headers=admin)
    assert moved.status_code == 200 and moved.get_json()["site"] == site
    pairing = client.post("/api/v1/devices/pairing", json={"device": device.id}, headers=admin)
    assert pairing.status_code == 201, pairing.get_json()
    return device.id, pairing.get_json()["code"]


def _sold_an_hour_ago(db: Any, ticket: Ticket) -> Ticket:
    """Offline scans from minutes ago need a ticket that was valid then."""
    db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(valid_from=datetime.now(UTC) - timedelta(hours=1))
    )
    return ticket


def _bearer(answer: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def test_a_pairing_code_hands_the_device_its_token_once(
    client: Any, shop: Shop, admin: dict[str, str], db: Any
) -> None:
    device_id, code = _pair(client, admin)
    assert len(code) == 11 and code[5] == "-"
    # Typed on a phone: lower case, no hyphen, O for 0 and l for 1 all read the same.
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    paired = client.post("/api/v1/devices/pair", json={"code": typed})
    assert paired.status_code == 201, paired.get_json()
    body = paired.get_json()
    assert body["device"] == {**body["device"], "id": device_id, "site": BRIDGE, "active": True}
    gate = client.get("/api/v1/checkin/gate", headers=_bearer(paired)).get_json()
    assert gate["site"] == BRIDGE and gate["site_names"]["vi"] == "Chùa Cầu"
    assert gate["today"] == {**gate["today"], "entries": 0, "entries_here": 0, "occupancy": 0}
    assert datetime.fromisoformat(gate["server_time"]) <= datetime.now(UTC)
    reused = client.post("/api/v1/devices/pair", json={"code": code})
    assert_error(reused, 409, reason="pairing_used")
    assert_error(client.post("/api/v1/devices/pair", json={"code": "00000-00000"}), 404)
    stored = db.session.scalars(select(DevicePairing.code_hash)).all()
    assert code not in stored and code.replace("-", "") not in stored


def test_pairing_again_replaces_the_older_phone(
    client: Any, shop: Shop, admin: dict[str, str]
) -> None:
    device_id, code = _pair(client, admin)
    first = _bearer(client.post("/api/v1/devices/pair", json={"code": code}))
    newer = client.post("/api/v1/devices/pairing", json={"device": device_id}, headers=admin)
    unused = client.post("/api/v1/devices/pairing", json={"device": device_id}, headers=admin)
    # Only the newest code works: the one shown before it is spent.
    assert_error(
        client.post("/api/v1/devices/pair", json={"code": newer.get_json()["code"]}),
        409,
        reason="pairing_used",
    )
    second = client.post("/api/v1/devices/pair", json={"code": unused.get_json()["code"]})
    assert second.status_code == 201
    old = client.get("/api/v1/checkin/gate", headers=first)
    assert_error(old, 401, reason="token_revoked")
    assert client.get("/api/v1/checkin/gate", headers=_bearer(second)).status_code == 200


def test_an_expired_pairing_code_or_a_revoked_device_cannot_pair(
    client: Any, shop: Shop, admin: dict[str, str], db: Any
) -> None:
    _, code = _pair(client, admin)
    db.session.execute(
        update(DevicePairing).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    assert_error(
        client.post("/api/v1/devices/pair", json={"code": code}), 409, reason="pairing_expired"
    )
    device_id, code = _pair(client, admin)
    token = _bearer(client.post("/api/v1/devices/pair", json={"code": code}))
    spare = client.post(
        "/api/v1/devices/pairing", json={"device": device_id}, headers=admin
    ).get_json()["code"]
    revoked = client.delete(f"/api/v1/devices/{device_id}", headers=admin)
    assert revoked.get_json()["active"] is False
    assert_error(client.get("/api/v1/checkin/gate", headers=token), 401, reason="device_revoked")
    assert_error(
        client.post("/api/v1/devices/pair", json={"code": spare}), 409, reason="device_revoked"
    )
    again = client.post("/api/v1/devices/pairing", json={"device": device_id}, headers=admin)
    assert_error(again, 409, reason="device_revoked")


def test_pairing_needs_an_admin_and_a_known_site(
    client: Any, shop: Shop, admin: dict[str, str], auth: Any
) -> None:
    assert client.post("/api/v1/devices/pairing", json={"device": 1}).status_code == 401
    assert_error(
        client.post("/api/v1/devices/pairing", json={"device": 1}, headers=auth("inspector")), 403
    )
    bad = client.post("/api/v1/devices", json={"name": "x", "site": "atlantis"}, headers=admin)
    assert_error(bad, 422, reason="unknown_site")
    enrolled = client.post("/api/v1/devices", json={"name": "x", "site": TAN_KY}, headers=admin)
    assert enrolled.status_code == 201 and enrolled.get_json()["site"] == TAN_KY
    listed = client.get("/api/v1/devices", headers=admin).get_json()
    assert {"name": "x", "site": TAN_KY}.items() <= listed[0].items()


def test_a_device_scans_for_its_own_site_only(
    client: Any, shop: Shop, admin: dict[str, str], db: Any
) -> None:
    device_id, code = _pair(client, admin, site=BRIDGE)
    gate = _bearer(client.post("/api/v1/devices/pair", json={"code": code}))
    ticket = shop.ticket()
    elsewhere = redeem(client, gate, site=TAN_KY, code=ticket.code).get_json()
    assert (elsewhere["reason"], elsewhere["detail"]) == ("wrong_site", "device_site")
    assert elsewhere["entries_left"] == 5
    assert "another site" in elsewhere["message"]
    assert redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()["reason"] == "ok"
    # Moved to Tấn Ký: offline scans made at the bridge before the move still count there.
    before = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    client.patch(f"/api/v1/devices/{device_id}", json={"site": TAN_KY}, headers=admin)
    other = _sold_an_hour_ago(db, shop.ticket())
    synced = client.post(
        "/api/v1/checkin/sync",
        json={
            "scans": [
                {"secret": other.code, "site": BRIDGE, "nonce": nonce(), "scanned_at": before},
                {"secret": other.code, "site": CERAMICS, "nonce": nonce(), "scanned_at": now_iso()},
            ]
        },
        headers=gate,
    ).get_json()
    assert [r["reason"] for r in synced["results"]] == ["ok", "wrong_site"]
    assert synced["results"][1]["detail"] == "device_site"
    assert synced["results"][1]["conflict"] == "wrong_site"


def test_a_nonce_reused_for_another_scan_is_refused(
    client: Any, shop: Shop, device: Headers, db: Any
) -> None:
    gate = device()
    ticket, other = shop.ticket(), shop.ticket()
    first = redeem(client, gate, site=BRIDGE, code=ticket.code, nonce_value="nonce-0042")
    assert first.get_json()["reason"] == "ok"
    same = redeem(client, gate, site=BRIDGE, code=ticket.code, nonce_value="nonce-0042")
    assert same.get_json() == first.get_json()
    for changed in (
        {"site": TAN_KY, "code": ticket.code},
        {"site": BRIDGE, "code": other.code},
        {"site": BRIDGE, "serial": ticket.serial},
    ):
        assert_error(
            redeem(client, gate, nonce_value="nonce-0042", **changed), 409, reason="nonce_reused"
        )
    # Nothing was written for the refused scans: the other ticket never entered.
    assert db.session.scalar(select(Ticket.entries_count).where(Ticket.id == other.id)) == 0
    scan = {"secret": other.code, "site": BRIDGE, "scanned_at": now_iso()}
    twice = client.post(
        "/api/v1/checkin/sync",
        json={"scans": [{**scan, "nonce": "nonce-0043"}, {**scan, "nonce": "nonce-0042"}]},
        headers=gate,
    )
    assert_error(twice, 409, reason="nonce_reused")
    assert db.session.scalar(select(CheckinScan).where(CheckinScan.nonce == "nonce-0043")) is None


def _redeem_nonce(client: Any, gate: dict[str, str], code: str, site: str = BRIDGE) -> str:
    value = nonce()
    assert (
        redeem(client, gate, site=site, code=code, nonce_value=value).get_json()["reason"] == "ok"
    )
    return value


def test_annul_restores_the_entry_within_minutes_and_is_audited(
    client: Any, shop: Shop, device: Headers, db: Any, app: Any
) -> None:
    gate = device()
    ticket = shop.ticket()
    first = _redeem_nonce(client, gate, ticket.code, BRIDGE)
    second = _redeem_nonce(client, gate, ticket.code, TAN_KY)
    annulled = client.post("/api/v1/checkin/annul", json={"nonce": second}, headers=gate)
    assert annulled.status_code == 200, annulled.get_json()
    body = annulled.get_json()
    assert (body["site"], body["serial"], body["entries_left"]) == (
        TAN_KY,
        format_serial(ticket.serial),
        4,
    )
    assert db.session.scalar(select(Ticket.entries_count).where(Ticket.id == ticket.id)) == 1
    assert_error(
        client.post("/api/v1/checkin/annul", json={"nonce": second}, headers=gate),
        409,
        reason="already_annulled",
    )
    again = redeem(client, gate, site=TAN_KY, code=ticket.code).get_json()
    assert (again["reason"], again["entries_left"]) == ("ok", 3)
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "ticket.redeem.annul"))
    assert audit.object_id == format_serial(ticket.serial) and audit.changes["site"] == TAN_KY
    # Another device cannot annul it; after the window, neither can this one.
    assert_error(
        client.post("/api/v1/checkin/annul", json={"nonce": first}, headers=device("other")),
        404,
        reason="unknown_scan",
    )
    late = datetime.now(UTC) - timedelta(minutes=app.config["CHECKIN_ANNUL_MINUTES"] + 1)
    db.session.execute(
        update(TicketEntry).where(TicketEntry.ticket_id == ticket.id).values(entered_at=late)
    )
    assert_error(
        client.post("/api/v1/checkin/annul", json={"nonce": first}, headers=gate),
        409,
        reason="annul_too_late",
    )
    refused = _refused_nonce(client, gate, ticket.code)
    assert_error(
        client.post("/api/v1/checkin/annul", json={"nonce": refused}, headers=gate),
        409,
        reason="not_admitted",
    )


def _refused_nonce(client: Any, gate: dict[str, str], code: str) -> str:
    value = nonce()
    answer = redeem(client, gate, site=BRIDGE, code=code, nonce_value=value).get_json()
    assert answer["reason"] == "already_redeemed"
    return value


def test_exit_mode_counts_occupancy(client: Any, shop: Shop, device: Headers, auth: Any) -> None:
    gate = device()
    one, two = shop.ticket(), shop.ticket()
    for ticket in (one, two):
        assert redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()["reason"] == "ok"

    def leave(code: str, site: str = BRIDGE) -> dict[str, Any]:
        body = {
            "secret": code,
            "site": site,
            "nonce": nonce(),
            "scanned_at": now_iso(),
            "direction": "exit",
        }
        return client.post("/api/v1/checkin/redeem", json=body, headers=gate).get_json()

    out = leave(one.code)
    assert (out["status"], out["reason"], out["direction"]) == ("ok", "ok", "exit")
    assert leave(one.code)["reason"] == "already_exited"
    assert leave(one.code, TAN_KY)["reason"] == "not_entered"
    assert (leave("NOT-A-CODE")["reason"], leave("NOT-A-CODE")["detail"]) == (
        "invalid",
        "bad_length",
    )
    finance = auth("finance")
    occupancy = client.get(f"/api/v1/sites/{BRIDGE}/occupancy", headers=finance).get_json()
    assert {k: occupancy[k] for k in ("entries", "exits", "occupancy")} == {
        "entries": 2,
        "exits": 1,
        "occupancy": 1,
    }
    # The ticket that left cannot come back in through the same site.
    assert redeem(client, gate, site=BRIDGE, code=one.code).get_json()["reason"] == (
        "already_redeemed"
    )
    offline = client.post(
        "/api/v1/checkin/sync",
        json={
            "scans": [
                {
                    "secret": two.code,
                    "site": BRIDGE,
                    "nonce": nonce(),
                    "scanned_at": now_iso(),
                    "direction": "exit",
                }
            ]
        },
        headers=gate,
    ).get_json()
    assert offline["results"][0]["reason"] == "ok" and offline["conflicts"] == 0
    occupancy = client.get(f"/api/v1/sites/{BRIDGE}/occupancy", headers=finance).get_json()
    assert occupancy["occupancy"] == 0 and occupancy["exits"] == 2


def test_a_clock_hours_off_is_corrected_at_sync_and_the_correction_recorded(
    client: Any, shop: Shop, device: Headers, db: Any
) -> None:
    gate = device()
    ticket = _sold_an_hour_ago(db, shop.ticket())
    slow = timedelta(hours=3)  # the phone's clock is three hours behind
    phone_now = datetime.now(UTC) - slow
    scan = {
        "secret": ticket.code,
        "site": BRIDGE,
        "nonce": nonce(),
        "scanned_at": (phone_now - timedelta(minutes=2)).isoformat(),
    }
    answer = client.post(
        "/api/v1/checkin/sync",
        json={"scans": [scan], "sent_at": phone_now.isoformat()},
        headers=gate,
    ).get_json()
    assert abs(answer["clock_offset_s"] - slow.total_seconds()) < 30
    (result,) = answer["results"]
    assert result["reason"] == "ok"
    scanned = datetime.fromisoformat(result["scanned_at"])
    assert abs(scanned - (datetime.now(UTC) - timedelta(minutes=2))) < timedelta(seconds=30)
    row = db.session.scalar(select(CheckinScan).where(CheckinScan.nonce == scan["nonce"]))
    assert abs(row.clock_offset_s - slow.total_seconds()) < 30
    entry = db.session.scalar(select(TicketEntry).where(TicketEntry.ticket_id == ticket.id))
    assert abs(entry.entered_at - scanned) < timedelta(seconds=1)
    audited = db.session.scalar(
        select(AuditLog).where(AuditLog.action == "checkin.clock_corrected")
    )
    assert abs(audited.changes["offset_s"] - slow.total_seconds()) < 30
    # A clock that is right is left alone.
    fine = client.post(
        "/api/v1/checkin/sync",
        json={
            "scans": [{**scan, "nonce": nonce(), "scanned_at": now_iso()}],
            "sent_at": now_iso(),
        },
        headers=gate,
    ).get_json()
    assert fine["clock_offset_s"] == 0


def test_an_offline_check_in_annulled_on_the_device_admits_nobody(
    client: Any, shop: Shop, device: Headers, db: Any
) -> None:
    gate = device()
    ticket = _sold_an_hour_ago(db, shop.ticket())
    at = datetime.now(UTC) - timedelta(minutes=3)
    scan = {
        "secret": ticket.code,
        "site": BRIDGE,
        "nonce": nonce(),
        "scanned_at": at.isoformat(),
        "annulled_at": (at + timedelta(minutes=1)).isoformat(),
    }
    answer = client.post("/api/v1/checkin/sync", json={"scans": [scan]}, headers=gate).get_json()
    (result,) = answer["results"]
    assert (result["reason"], result["admitted"], result["conflict"]) == ("ok", False, None)
    assert result["annulled_at"] is not None
    assert db.session.scalar(select(Ticket.entries_count).where(Ticket.id == ticket.id)) == 0
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "checkin.annul"))
    late = {**scan, "nonce": nonce(), "annulled_at": (at + timedelta(hours=1)).isoformat()}
    assert_error(client.post("/api/v1/checkin/sync", json={"scans": [late]}, headers=gate), 422)


def test_a_gate_downloads_its_recent_entries(client: Any, shop: Shop, device: Headers) -> None:
    gate = device()
    ticket = shop.ticket()
    redeem(client, gate, site=BRIDGE, code=ticket.code)
    redeem(client, gate, site=TAN_KY, code=ticket.code)
    here = client.get(f"/api/v1/checkin/entries?site={BRIDGE}", headers=gate).get_json()
    assert [(i["serial"], i["site"]) for i in here["items"]] == [
        (format_serial(ticket.serial), BRIDGE)
    ]
    every = client.get("/api/v1/checkin/entries?limit=1", headers=gate).get_json()
    assert every["more"] is True and len(every["items"]) == 1
    rest = client.get(f"/api/v1/checkin/entries?after={every['cursor']}", headers=gate).get_json()
    assert [i["site"] for i in rest["items"]] == [TAN_KY]
