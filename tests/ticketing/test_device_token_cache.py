"""Inspector devices' tokens are remembered for a few seconds per process: a revocation made by
another process takes effect within DEVICE_TOKEN_CACHE_TTL_S, one made by this process at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.auth.models import ApiToken, InspectorDevice
from app.auth.services import hash_token
from app.db import utcnow
from tests.app.test_shell import assert_error
from tests.ticketing.conftest import BRIDGE, CERAMICS, TAN_KY, Shop, redeem

Headers = Callable[..., dict[str, str]]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: Flask, monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(app.extensions["hoian_device_tokens"], "clock", fake)
    return fake


def _token_hash(headers: dict[str, str]) -> str:
    return hash_token(headers["Authorization"].removeprefix("Bearer "))


def _revoke_elsewhere(db: Any, headers: dict[str, str]) -> None:
    """Revoke as another server process would: this process's cache hears nothing of it."""
    device_id = db.session.scalar(
        select(ApiToken.device_id).where(ApiToken.token_hash == _token_hash(headers))
    )
    db.session.execute(
        update(InspectorDevice).where(InspectorDevice.id == device_id).values(revoked_at=utcnow())
    )
    db.session.execute(
        update(ApiToken).where(ApiToken.device_id == device_id).values(revoked_at=utcnow())
    )
    db.session.commit()


def test_a_device_revoked_elsewhere_is_refused_within_the_bound(
    app: Flask, client: Any, shop: Shop, device: Headers, db: Any, clock: _Clock
) -> None:
    gate = device()
    ticket = shop.ticket()
    first = redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()
    assert first["reason"] == "ok"
    _revoke_elsewhere(db, gate)

    clock.now += app.config["DEVICE_TOKEN_CACHE_TTL_S"] - 0.5
    assert redeem(client, gate, site=TAN_KY, code=ticket.code).get_json()["reason"] == "ok"
    clock.now += 0.5
    assert_error(redeem(client, gate, site=CERAMICS, code=ticket.code), 401)


def test_a_device_revoked_here_is_refused_at_once(
    client: Any, shop: Shop, auth: Any, clock: _Clock
) -> None:
    ticket = shop.ticket()
    admin = auth("admin")
    enrolled = client.post("/api/v1/devices", json={"name": "gate"}, headers=admin).get_json()
    gate = {"Authorization": f"Bearer {enrolled['access_token']}"}
    assert redeem(client, gate, site=BRIDGE, code=ticket.code).get_json()["reason"] == "ok"
    client.delete(f"/api/v1/devices/{enrolled['id']}", headers=admin)
    assert_error(redeem(client, gate, site=TAN_KY, code=ticket.code), 401)


def test_staff_tokens_are_not_remembered(
    client: Any, shop: Shop, auth: Any, db: Any, clock: _Clock
) -> None:
    ticket = shop.ticket()
    admin = auth("admin")
    assert redeem(client, admin, site=BRIDGE, code=ticket.code).get_json()["reason"] == "ok"
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _token_hash(admin))
        .values(revoked_at=utcnow())
    )
    db.session.commit()
    assert_error(redeem(client, admin, site=TAN_KY, code=ticket.code), 401)
