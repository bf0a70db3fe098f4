"""The requests that once answered 500 (issue 17's audit, and what the fuzzer found since),
kept as a fixed list and sent to the app on SQLite and on PostgreSQL: each gets its 4xx in the
one error shape, and none reaches the database with a NUL or an integer it cannot hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.auth import services as auth
from app.extensions import db
from tests.app.test_shell import assert_error
from tests.conftest import make_app, migrate_and_seed, scratch_postgres_app
from ticketing import services as ticket_services
from ticketing.seeding import load_products

SITE = "japanese-covered-bridge"
HUGE = 99_999_999_999  # beyond PostgreSQL's integer, where ids and cursors live


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    keys = {"TICKET_KEYS_DIR": str(tmp_path_factory.mktemp("keys"))}
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("hostile") / "hoian.db"
        app = make_app(f"sqlite:///{path}", **keys)
        _prepare(app)
        yield app
    else:
        with scratch_postgres_app("hoian_hostile", **keys) as app:
            _prepare(app)
            yield app


def _prepare(app: Flask) -> None:
    migrate_and_seed(app)
    with app.app_context():
        ticket_services.forget_caches()
        ticket_services.ensure_signing_key()
        load_products(languages=app.config["LANGUAGES"])
        auth.create_user(
            email="admin@hoian.test", password="correct horse battery", roles=["admin"]
        )
        app.config["ADMIN"] = {
            "Authorization": "Bearer "
            + auth.login(
                email="admin@hoian.test", password="correct horse battery", ttl_hours=1
            ).token
        }
        db.session.commit()


@pytest.fixture
def client(backend: Flask) -> FlaskClient:
    return backend.test_client()


@pytest.fixture
def admin(backend: Flask) -> dict[str, str]:
    return dict(backend.config["ADMIN"])


def _order(client: FlaskClient) -> dict[str, Any]:
    response = client.post(
        "/api/v1/orders",
        json={
            "items": [{"product": "old-town-pass", "tier": "foreign", "quantity": 1}],
            "email": "visitor@example.com",
            "payment_method": "cash",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.get_json())


# --- NUL characters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sites?q=chua%00cau",
        f"/api/v1/sites/{SITE}%00",
        "/api/v1/sites?%00=1",
        "/api/v1/audit?object_type=site%00",
        "/api/v1/checkin/search?q=ABCD%00EFGH",
    ],
)
def test_nul_in_a_path_or_query_is_a_422(client: FlaskClient, admin: Any, path: str) -> None:
    assert_error(client.get(path, headers=admin), 422, "nul_character")


def test_nul_in_a_page_address_is_a_422_page(client: FlaskClient) -> None:
    """A person who followed a broken link gets a page in their language, not JSON."""
    response = client.get("/s/chua-cau%00", headers={"Accept-Language": "vi"})
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert 'lang="vi"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/orders",
            {
                "items": [{"product": "old\x00town", "tier": "foreign", "quantity": 1}],
                "email": "a@example.com",
                "payment_method": "cash",
            },
        ),
        (f"/api/v1/sites/{SITE}/narrations", {"text": "Chùa Cầu\x00", "source_lang": "vi"}),
        ("/api/v1/auth/token", {"email": "admin@hoian.test", "password": "x\x00y"}),
        ("/api/v1/users", {"email": "a@hoian.test", "password": "0123456789", "roles": ["\x00"]}),
        ("/api/v1/devices", {"name": "gate\x00"}),
        ("/api/v1/checkin/redeem", {"nonce": "n" * 8, "site": "\x00", "serial": "x", "x": 1}),
    ],
)
def test_nul_in_a_json_string_is_a_422(
    client: FlaskClient, admin: Any, path: str, body: Any
) -> None:
    assert_error(client.post(path, json=body, headers=admin), 422, "nul_character")


def test_nul_in_a_key_a_form_field_or_a_utf16_body_is_a_422(
    client: FlaskClient, admin: Any
) -> None:
    assert_error(client.post("/api/v1/devices", json={"na\x00me": "x"}, headers=admin), 422)
    form = {"qty_foreign": "1", "email": "a\x00@example.com"}
    page = client.post("/buy/old-town-pass", data=form)  # a person's form: an HTML page
    assert page.status_code == 422 and page.mimetype == "text/html"
    utf16 = json.dumps({"name": "gate\x00"}).encode("utf-16")
    response = client.post(
        "/api/v1/devices", data=utf16, content_type="application/json", headers=admin
    )
    assert_error(response, 422, "nul_character")


def test_an_escaped_backslash_before_u0000_is_text_not_nul(client: FlaskClient) -> None:
    body = b'{"email": "admin@hoian.test", "password": "\\\\u0000 is not a NUL"}'
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_error(response, 401, "bad_credentials")


# --- integers beyond the columns -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/jobs/{HUGE}"),
        ("GET", "/api/v1/jobs/2147483648"),
        ("GET", "/api/v1/jobs/2147483647"),  # in range: simply no such job
        ("GET", "/api/v1/jobs/" + "9" * 5000),
        ("DELETE", f"/api/v1/devices/{HUGE}"),
        ("POST", f"/api/v1/checkin/conflicts/{HUGE}/resolve"),
        ("POST", f"/api/v1/payments/flags/{HUGE}/resolve"),
        ("POST", f"/api/v1/narrations/{HUGE}/translations/en"),
    ],
)
def test_ids_beyond_the_database_are_404(
    client: FlaskClient, admin: Any, method: str, path: str
) -> None:
    body = {"note": "x", "text": "x"} if method == "POST" else None
    assert_error(client.open(path, method=method, json=body, headers=admin), 404)


def test_patching_a_user_beyond_the_database_is_404(client: FlaskClient, admin: Any) -> None:
    assert_error(client.patch(f"/api/v1/users/{HUGE}", json={"name": "x"}, headers=admin), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/checkin/revocations?since=68719476736",
        f"/api/v1/checkin/conflicts?after={HUGE}",
        f"/api/v1/payments/flags?after={HUGE}",
        "/api/v1/sync?since=99999999999999999999",
        "/api/v1/sites?page=100001",
    ],
)
def test_cursors_and_pages_beyond_the_database_are_422(
    client: FlaskClient, admin: Any, path: str
) -> None:
    body = assert_error(client.get(path, headers=admin), 422, "invalid")
    assert body["errors"] and not set(body["errors"]) & {"query", "json"}  # named by field


def test_money_beyond_bigint_is_a_422(client: FlaskClient, admin: Any) -> None:
    order = _order(client)
    response = client.post(
        f"/api/v1/orders/{order['code']}/cash", json={"amount_received": 2**63}, headers=admin
    )
    assert "amount_received" in assert_error(response, 422)["errors"]


# --- validation: the one 422 shape ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": "Chùa Cầu", "source_lang": "xx"}, "source_lang"),
        ({"text": "Chùa Cầu", "source_lang": ""}, "source_lang"),
        ({"text": "Chùa Cầu", "langs": ["en", "tlh"]}, "langs"),
        ({"text": "a" * 20_001}, "text"),
    ],
)
def test_narration_text_that_fails_validation_is_the_one_422(
    client: FlaskClient, admin: Any, body: Any, field: str
) -> None:
    response = client.post(f"/api/v1/sites/{SITE}/narrations", json=body, headers=admin)
    assert field in assert_error(response, 422, "invalid")["errors"]


def test_patching_a_user_with_nothing_to_change_is_a_422(client: FlaskClient, admin: Any) -> None:
    user_id = client.get("/api/v1/users", headers=admin).get_json()[0]["id"]
    for body in (None, {}):
        response = client.patch(f"/api/v1/users/{user_id}", json=body, headers=admin)
        assert "_schema" in assert_error(response, 422)["errors"]


def test_an_empty_lang_is_refused_as_documented(client: FlaskClient) -> None:
    assert (
        "lang" in assert_error(client.get("/api/v1/sites?lang="), 422, "unknown_language")["errors"]
    )
    spec = client.get("/api/openapi.json").get_json()
    [lang] = [p for p in spec["paths"]["/api/v1/sites"]["get"]["parameters"] if p["name"] == "lang"]
    assert lang["schema"]["enum"] == ["vi", "en", "ko", "zh", "ja", "fr", "de", "es", "ru"]
    assert spec["components"]["schemas"]["UserUpdate"]["minProperties"] == 1


# --- bodies too deep or too large, and an empty If-Match -----------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/orders", "/api/v1/payments/vietqr/notify", "/api/v1/auth/token"]
)
def test_json_nested_100000_deep_is_refused_before_parsing(client: FlaskClient, path: str) -> None:
    for opener in (b"[", b'{"a":'):
        response = client.post(path, data=opener * 100_000, content_type="application/json")
        assert_error(response, 400, "too_deep")


def test_a_json_body_over_the_limit_is_413(client: FlaskClient, backend: Flask) -> None:
    body = json.dumps(
        {"email": "a@example.com", "password": "x" * backend.config["MAX_JSON_BYTES"]}
    )
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_error(response, 413, "too_large")


def test_an_empty_if_match_is_428(client: FlaskClient, admin: Any) -> None:
    for if_match in ('""', "", ' "" , W/"1.x"'):
        response = client.patch(
            f"/api/v1/sites/{SITE}",
            json={"published": True},
            headers={**admin, "If-Match": if_match},
        )
        assert_error(response, 428, "precondition_required")


def test_a_malformed_ticket_serial_in_a_path_is_404(client: FlaskClient, admin: Any) -> None:
    for path in ("/api/v1/tickets/00/qr.svg", "/api/v1/tickets/%C4%B1/qr.png"):
        assert_error(client.get(path, headers=admin), 404, "invalid_serial")
    page = client.get("/t/not-a-serial")  # the buyer's page: a 404 page, not JSON
    assert page.status_code == 404 and page.mimetype == "text/html"


# --- a COMMIT that fails -------------------------------------------------------------------


@pytest.fixture
def failing_commit(backend: Flask) -> Iterator[list[BaseException]]:
    """Make the next COMMIT fail with the exception put in the list."""
    planned: list[BaseException] = []

    def fail(session: Session) -> None:
        if planned:
            raise planned.pop()

    event.listen(Session, "before_commit", fail)
    try:
        yield planned
    finally:
        event.remove(Session, "before_commit", fail)


def test_a_failed_commit_answers_the_json_error_and_keeps_nothing(
    client: FlaskClient, admin: Any, failing_commit: list[BaseException], tmp_path: Path
) -> None:
    failing_commit.append(OperationalError("COMMIT", {}, Exception("could not serialize access")))
    response = client.post("/api/v1/devices", json={"name": "gate-commit-1"}, headers=admin)
    assert_error(response, 503, "database_busy")
    assert response.headers["Retry-After"] == "1"
    failing_commit.append(RuntimeError("disk full"))
    response = client.post("/api/v1/devices", json={"name": "gate-commit-2"}, headers=admin)
    assert_error(response, 500, "server_error")
    names = {d["name"] for d in client.get("/api/v1/devices", headers=admin).get_json()}
    assert not names & {"gate-commit-1", "gate-commit-2"}
