"""Schemathesis drives every operation of our OpenAPI document: zero server errors, and every
answer is what the document says (its schema, its declared statuses and media types)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.auth import services
from app.extensions import db
from tests.conftest import make_app, migrate_and_seed

_dir = Path(tempfile.mkdtemp(prefix="hoian-fuzz-"))
app = make_app(f"sqlite:///{_dir / 'fuzz.db'}")
migrate_and_seed(app)
with app.app_context():
    services.create_user(email="fuzz@hoian.test", password="fuzzing password", roles=["admin"])
    ADMIN_TOKEN = services.login(
        email="fuzz@hoian.test", password="fuzzing password", ttl_hours=2
    ).token
    db.session.commit()

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_operation_answers_with_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_operation_answers_staff_with_a_server_error(case: schemathesis.Case) -> None:
    if case.method == "DELETE" and case.path == "/api/v1/auth/token":
        return  # would log the fuzzing admin out for the rest of the run
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, checks=CHECKS)
