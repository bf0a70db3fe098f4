"""Signing keys: made on first set-up (0600), rotated with old codes still valid, retired with
reissue, loadable from the environment, and never shown or logged."""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.app.test_shell import assert_error
from tests.ticketing.conftest import BRIDGE, TAN_KY, Shop, redeem
from ticketing import services
from ticketing.models import SigningKey
from ticketing.verify import OfflineVerifier, Reason, b64url_encode, format_serial


def test_first_setup_writes_a_private_key_only_its_owner_reads(shop: Shop) -> None:
    (path,) = shop.keys_dir.glob("ticket-key-*.pem")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(shop.keys_dir.stat().st_mode) == 0o700


def test_setup_command_is_idempotent(app: Any, shop: Shop) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["tickets", "setup"])
    assert first.exit_code == 0, first.output
    assert "signing key 1 present" in first.output and "0 created" in first.output
    assert "PRIVATE" not in first.output


def test_rotation_keeps_old_codes_valid_until_retired(
    app: Any, client: Any, shop: Shop, device: Any, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    gate = device()
    old = shop.order(("old-town-pass", "foreign", 2))
    old_codes = [ticket.code for ticket in old.tickets]
    old_serials = [ticket.serial for ticket in old.tickets]
    runner = app.test_cli_runner()
    rotated = runner.invoke(args=["tickets", "rotate-key"])
    assert rotated.exit_code == 0 and "signing key 2 is now active" in rotated.output
    new = shop.ticket()
    assert new.key_id == 2 and all(t.key_id == 1 for t in old.tickets)
    assert redeem(client, gate, site=BRIDGE, code=old_codes[0]).get_json()["reason"] == "ok"
    listed = {k["kid"]: k["status"] for k in client.get("/api/v1/checkin/keys").get_json()["keys"]}
    assert listed == {1: "verify_only", 2: "active"}

    refused = runner.invoke(args=["tickets", "retire-key", "1"])
    assert refused.exit_code != 0 and "reissue them first" in refused.output
    retired = runner.invoke(args=["tickets", "retire-key", "1", "--reissue"])
    assert retired.exit_code == 0 and "2 tickets reissued" in retired.output, retired.output
    services.forget_caches()

    answer = redeem(client, gate, site=TAN_KY, code=old_codes[1]).get_json()
    assert (answer["reason"], answer["detail"]) == ("invalid", "retired_key")
    bundle = {
        "keys": client.get("/api/v1/checkin/keys").get_json(),
        "products": client.get("/api/v1/products").get_json(),
    }
    scanner = OfflineVerifier.from_bundle(bundle, site=TAN_KY)
    stale = scanner.check(old_codes[1], at=datetime.now(UTC))
    assert (stale.reason, stale.detail) == (Reason.INVALID, "retired_key")
    reissued = services.get_ticket(serial=old_serials[1])
    db.session.refresh(reissued)
    assert reissued.key_id == 2 and reissued.generation == 1
    assert scanner.check(reissued.code, at=datetime.now(UTC)).reason is Reason.OK
    for path in shop.keys_dir.glob("*.pem"):
        body = "".join(path.read_text().splitlines()[1:-1])
        assert body not in caplog.text and body not in rotated.output


def test_keys_from_the_environment(app: Any, db: Any, shop: Shop, monkeypatch: Any) -> None:
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    monkeypatch.setitem(app.config, "TICKET_SIGNING_KEYS", f"5:{b64url_encode(seed)}")
    monkeypatch.setitem(app.config, "TICKET_KEYS_DIR", str(shop.keys_dir / "empty"))
    services.forget_caches()
    db.session.get(SigningKey, 1).status = "verify_only"
    db.session.add(SigningKey(id=5, public_key=b64url_encode(public), status="active"))
    db.session.flush()
    ticket = shop.ticket()
    assert ticket.key_id == 5
    assert not (shop.keys_dir / "empty").exists()


def test_bad_environment_keys_are_named_without_their_value(
    app: Any, shop: Shop, monkeypatch: Any
) -> None:
    secret = base64.urlsafe_b64encode(b"x" * 31).decode()
    monkeypatch.setitem(app.config, "TICKET_SIGNING_KEYS", f"5:{secret}")
    services.forget_caches()
    with pytest.raises(Exception, match="item 1 is not valid") as failure:
        shop.ticket()
    assert secret not in str(failure.value)


def test_a_key_file_others_can_read_is_refused(client: Any, shop: Shop, auth: Any) -> None:
    order = shop.order(("old-town-pass", "foreign", 1), paid=False)
    (path,) = shop.keys_dir.glob("*.pem")
    path.chmod(0o644)
    services.forget_caches()
    paid = client.post(
        f"/api/v1/orders/{order.code}/cash",
        json={"amount_received": 120000},
        headers=auth("finance"),
    )
    body = assert_error(paid, 503, "signing_key_unavailable")
    assert "chmod 600" in body["message"] and "PRIVATE" not in body["message"]


def test_reissue_is_refused_for_revoked_tickets(client: Any, shop: Shop, auth: Any) -> None:
    ticket = shop.ticket()
    serial = format_serial(ticket.serial)
    admin = auth("admin")
    assert (
        client.post(f"/api/v1/tickets/{serial}/cancel", json={}, headers=admin).status_code == 200
    )
    assert_error(
        client.post(f"/api/v1/tickets/{serial}/reissue", json={}, headers=admin),
        409,
        "illegal_transition",
    )
    assert_error(client.post(f"/api/v1/tickets/{serial}/cancel", json={}, headers=admin), 409)
