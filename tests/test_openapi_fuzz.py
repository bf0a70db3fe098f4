"""Schemathesis drives every operation of our OpenAPI document, with every check it has, as a
visitor and as an admin, against a real gunicorn on PostgreSQL: no server error, no answer the
document does not describe, and a document no looser than the code (issue 17's proof)."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, gunicorn_serving, make_app, service_or_skip

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Examples per operation and run: 2 runs x ~55 operations x this, a few minutes on 2 cores.
EXAMPLES = 8
SEED = 17
PASSWORD = "a long fuzzing password"
ADMIN = {"email": "fuzz@hoian.test", "password": PASSWORD}

#: Rules the document cannot state (OpenAPI 3.0 has no field dependencies and no way to name
#: data). On these operations a well-formed request the code refuses is no failure; every other
#: check still runs, and the refusals are in the seed list (tests/test_hostile_input.py).
NOT_EXPRESSIBLE = {
    "POST /api/v1/payments/stripe/webhook": "signed by Stripe: no generated body is",
    "POST /api/v1/payments/vietqr/notify": "signed by the bank: no generated body is",
    "GET /api/v1/sites": "radius_m needs near",
    "PATCH /api/v1/sites/{slug}": "If-Match must hold the ETag of the site as read",
    "POST /api/v1/orders": "products and tiers are data, not an enum",
    "POST /api/v1/checkin/redeem": "exactly one of secret and serial",
    "POST /api/v1/checkin/sync": "exactly one of secret and serial, in every scan",
    "POST /api/v1/events": "sites are data, not an enum",
    "POST /api/v1/feedback": "sites are data, not an enum",
}
CONFIG = {
    "seed": SEED,
    # RFC 6585: a missing precondition (If-Match on PATCH /sites) is 428.
    "checks": {
        "missing_required_header": {"expected-statuses": [400, 401, 403, 406, 415, 422, 428]}
    },
    "operations": [
        {"include-name": name, "checks": {"positive_data_acceptance": {"enabled": False}}}
        for name in NOT_EXPRESSIBLE
    ],
}
TALLY: Counter[str] = Counter()


def _counted(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    TALLY["requests"] += 1
    TALLY[f"answered_{response.status_code // 100}xx"] += 1


#: Every request of the run, checks' own included (ignored_auth, unsupported_method, ...).
SESSION = requests.Session()
SESSION.hooks["response"].append(_counted)


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """gunicorn on a new PostgreSQL database with the catalogue, products, VietQR and an
    admin: (base URL, the admin's token)."""
    url = make_url(service_or_skip("PostgreSQL", POSTGRES_URL, 5432))
    name = f"hoian_fuzz_{secrets.token_hex(4)}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    workdir = tmp_path_factory.mktemp("fuzz")
    env = {
        **os.environ,
        "APP_ENV": "testing",  # no pipeline workers spawned, limits out of the way
        "DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
        "MEDIA_DIR": str(workdir / "media"),
        "HOIAN_TICKET_KEYS_DIR": str(workdir / "keys"),
        "HOIAN_PAYMENT_METHODS": "cash,vietqr",
        "VIETQR_BANK_BIN": "970436",
        "VIETQR_ACCOUNT": "0071000888999",
        "VIETQR_NOTIFY_SECRET": secrets.token_hex(32),
        "FLASK_APP": "wsgi:app",
        "LOG_LEVEL": "WARNING",
    }
    for command in (
        ["db", "upgrade"],
        ["content", "load"],
        ["tickets", "setup"],
        ["users", "create", "--email", ADMIN["email"], "--role", "admin", "--password", PASSWORD],
    ):
        done = subprocess.run(
            [str(BIN / "flask"), *command], cwd=ROOT, env=env, capture_output=True, check=False
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    host, port = listener.getsockname()
    try:
        with gunicorn_serving(listener, env=env, workdir=workdir):
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request(
                "POST",
                "/api/v1/auth/token",
                body=json.dumps(ADMIN),
                headers={"Content-Type": "application/json"},
            )
            token = json.loads(conn.getresponse().read())["access_token"]
            conn.close()
            yield f"http://{host}:{port}", token
            SESSION.close()
            _report()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _report() -> None:
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    figures = {"seed": SEED, "examples_per_operation": EXAMPLES, **TALLY}
    (ROOT / "test-artifacts" / "fuzz.json").write_text(json.dumps(figures, indent=2))


def _document() -> dict[str, Any]:
    """The OpenAPI document the server serves, made by the same code here, so the cases are
    known when tests are collected and the server starts only when they run."""
    app = make_app("sqlite://")
    return dict(app.test_client().get("/api/openapi.json").get_json())


schema = schemathesis.openapi.from_dict(_document(), config=SchemathesisConfig.from_dict(CONFIG))
fuzzing = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


@schema.parametrize()
@fuzzing
def test_every_operation_holds_for_visitors(
    case: schemathesis.Case, fuzzed_server: tuple[str, str]
) -> None:
    TALLY["visitor_cases"] += 1
    case.call_and_validate(base_url=fuzzed_server[0], session=SESSION)


@schema.parametrize()
@fuzzing
def test_every_operation_holds_for_an_admin(
    case: schemathesis.Case, fuzzed_server: tuple[str, str]
) -> None:
    if case.method == "DELETE" and case.path == "/api/v1/auth/token":
        return  # would log the fuzzing admin out for the rest of the run
    if case.path == "/api/v1/users/{user_id}" and (case.path_parameters or {}).get("user_id") == 1:
        return  # the fuzzing admin itself: deactivated, it would be refused from then on
    TALLY["admin_cases"] += 1
    base, token = fuzzed_server
    case.call_and_validate(
        base_url=base, session=SESSION, headers={"Authorization": f"Bearer {token}"}
    )
