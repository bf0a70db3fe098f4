"""Staff accounts: login, hashed expiring revocable tokens, devices, roles, audit, CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit import AuditLog
from app.auth import services
from app.auth.models import ApiToken, User
from app.db import utcnow
from app.extensions import db as database
from tests.app.test_shell import assert_error
from tests.conftest import make_app, migrate_and_seed

PASSWORD = "correct horse battery"
ROLES = ("admin", "editor", "inspector", "finance", "device", None)


def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def test_login_gives_a_token_stored_only_as_a_hash(client: Any, create_user: Any, db: Any) -> None:
    user = create_user("editor")
    response = login(client, user.email.upper())
    assert response.status_code == 201
    token = response.get_json()["access_token"]
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    assert rows and all(token not in (row.token_hash, row.prefix) for row in rows)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["roles"] == ["editor"]
    assert user.password_hash.startswith("$argon2id$")


def test_wrong_password_and_unknown_email_look_the_same(client: Any, create_user: Any) -> None:
    user = create_user("editor")
    wrong = assert_error(login(client, user.email, "not the password"), 401, "bad_credentials")
    unknown = assert_error(login(client, "nobody@hoian.test"), 401, "bad_credentials")
    assert wrong["message"] == unknown["message"]


def test_expired_and_revoked_tokens_are_refused(client: Any, create_user: Any, db: Any) -> None:
    user = create_user("editor")
    token = login(client, user.email).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert_error(client.get("/api/v1/auth/me", headers=headers), 401)

    token = login(client, user.email).get_json()["access_token"]
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == services.hash_token(token))
    )
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_deactivating_a_user_revokes_their_tokens(client: Any, create_user: Any, auth: Any) -> None:
    user = create_user("finance")
    token = login(client, user.email).get_json()["access_token"]
    response = client.patch(
        f"/api/v1/users/{user.id}", json={"active": False}, headers=auth("admin")
    )
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert_error(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert_error(login(client, user.email), 401)


def test_device_enrolment_and_revocation(client: Any, auth: Any) -> None:
    admin = auth("admin")
    enrolled = client.post("/api/v1/devices", json={"name": "Chùa Cầu gate"}, headers=admin)
    assert enrolled.status_code == 201
    device = enrolled.get_json()
    device_headers = {"Authorization": f"Bearer {device['access_token']}"}
    me = client.get("/api/v1/auth/me", headers=device_headers).get_json()
    assert me["roles"] == ["inspector"] and me["device_id"] == device["id"]
    listed = client.get("/api/v1/devices", headers=admin).get_json()
    assert all("access_token" not in item for item in listed)
    assert (
        client.delete(f"/api/v1/devices/{device['id']}", headers=admin).get_json()["active"]
        is False
    )
    assert_error(client.get("/api/v1/auth/me", headers=device_headers), 401)


def test_users_are_created_with_checked_roles(client: Any, auth: Any) -> None:
    admin = auth("admin")
    body = {"email": "lan@hoian.test", "password": "long enough pw", "roles": ["editor", "finance"]}
    created = client.post("/api/v1/users", json=body, headers=admin)
    assert created.status_code == 201 and created.get_json()["roles"] == ["editor", "finance"]
    assert_error(client.post("/api/v1/users", json=body, headers=admin), 409, "email_taken")
    bad = client.post(
        "/api/v1/users", json={**body, "email": "x@hoian.test", "roles": ["root"]}, headers=admin
    )
    assert_error(bad, 422)


def test_every_write_leaves_an_audit_row(client: Any, auth: Any, db: Any) -> None:
    admin = auth("admin")
    before = db.session.scalar(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(1))
    client.post("/api/v1/devices", json={"name": "gate"}, headers=admin)
    rows = db.session.scalars(select(AuditLog).where(AuditLog.id > before)).all()
    assert [row.action for row in rows] == ["device.enroll"]
    assert rows[0].actor_label.startswith("admin-") and rows[0].request_id


def test_login_is_rate_limited(tmp_path: Any) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'x.db'}", LOGIN_RATE_LIMIT="2 per minute")
    client = app.test_client()
    body = {"email": "a@hoian.test", "password": "x"}
    statuses = [client.post("/api/v1/auth/token", json=body).status_code for _ in range(3)]
    assert statuses[2] == 429
    assert client.post("/api/v1/auth/token", json=body).get_json()["reason"] == "rate_limited"


def test_guesses_at_one_account_from_many_addresses_are_limited(tmp_path: Any) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'x.db'}", LOGIN_ACCOUNT_RATE_LIMIT="3 per hour")
    migrate_and_seed(app)
    with app.app_context():
        services.create_user(
            email="lan@hoian.test", password="correct horse battery", roles=["editor"]
        )
        database.session.commit()
    client = app.test_client()

    def attempt(email: str, password: str, n: int) -> Any:
        # Each guess from its own address: the per-address limit never trips.
        return client.post(
            "/api/v1/auth/token",
            json={"email": email, "password": password},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        )

    assert [attempt("lan@hoian.test", "guess", n).status_code for n in range(3)] == [401] * 3
    refused = attempt("LAN@hoian.test", "correct horse battery", 10)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    # Other accounts are not affected, and a right password never counted against the owner.
    assert attempt("nobody@hoian.test", "guess", 11).status_code == 401
    assert attempt("lan2@hoian.test", "guess", 12).status_code == 401


def test_cli_creates_a_user(app: Flask, db: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "an@hoian.test",
            "--role",
            "admin",
            "--password",
            "a long password",
        ]
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.email == "an@hoian.test")).roles == ["admin"]
    again = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "an@hoian.test",
            "--role",
            "admin",
            "--password",
            "a long password",
        ]
    )
    assert again.exit_code != 0 and "exists" in again.output


@pytest.mark.parametrize("role", ROLES)
def test_every_write_endpoint_checks_the_role(
    app: Flask, client: Any, auth: Any, role: str | None
) -> None:
    """Walk every write route: anonymous gets 401, a wrong role 403, a right role gets through."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/console/"):
            continue  # console sessions, not bearer tokens: tests/web/console walks those
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            view = app.view_functions[rule.endpoint]
            handler = getattr(getattr(view, "view_class", None), method.lower(), view)
            if getattr(handler, "public_write", False):
                continue
            required = getattr(handler, "required_roles", None)
            assert required is not None, f"{method} {rule.rule} is neither protected nor public"
            url = rule.rule
            for arg in rule.arguments:
                url = url.replace(f"<{arg}>", "1").replace(f"<int:{arg}>", "1")
                url = url.replace(f"<string(maxlength=80):{arg}>", "japanese-covered-bridge")
            headers = auth(role) if role else {}  # fresh: DELETE /auth/token revokes its own
            response = client.open(url, method=method, json={}, headers=headers)
            granted = role is not None and (("inspector" if role == "device" else role) in required)
            if role is None:
                assert response.status_code == 401, (method, url)
            elif not granted:
                assert response.status_code == 403, (method, url, role)
            else:
                assert response.status_code not in (401, 403), (method, url, role)
            checked += 1
    assert checked >= 10  # with narrations, translations and guide publishing
