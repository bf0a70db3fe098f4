"""The OpenAPI document is all a client developer needs: third-party tools accept it, and a
client generated from it installs with pip and works against the real server.

- `@redocly/cli lint` (recommended rules) reports nothing; it is installed with npm at test
  time into ~/.cache/hoian/npm, outside the clone;
- `openapi-spec-validator` finds it valid;
- `openapi-python-client` generates a package that pip installs as it is, and that lists
  sites, reads a guide, creates an order and reads it back against gunicorn.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import gunicorn_serving

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDOCLY_VERSION = "2.77.0"
NPM_CACHE = Path.home() / ".cache" / "hoian" / "npm"


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    from app.extensions import api

    # What /api/openapi.json serves, read without a request (other tests hold the session).
    with app.app_context():
        body: dict[str, Any] = json.loads(json.dumps(api.spec.to_dict(), default=str))
    return body


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method.upper(), path, operation


def test_every_operation_has_an_id_its_security_and_a_4xx(document: dict[str, Any]) -> None:
    assert document["security"] == [{"bearerAuth": []}]
    assert document["servers"][0]["url"].startswith("http")
    assert document["info"]["title"] == "Hội An heritage guide API"
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids)) and all(ids)
    for method, path, operation in _operations(document):
        assert "security" in operation, (method, path)
        assert any(code.startswith("4") for code in operation["responses"]), (method, path)
    assert "PaginationMetadata" not in document["components"]["schemas"]


def test_staff_operations_ask_for_a_bearer_token_and_public_ones_for_nothing(
    app: Flask, document: dict[str, Any]
) -> None:
    by_path = {(m, p): op for m, p, op in _operations(document)}
    guarded = 0
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = by_path.get((method, path))
            handler = getattr(view_class, method.lower()) if view_class else view
            if operation is not None and getattr(handler, "required_roles", None):
                assert operation["security"] == [{"bearerAuth": []}], (method, path)
                guarded += 1
    assert guarded > 30
    assert by_path[("GET", "/api/v1/sites")]["security"] == []
    assert by_path[("GET", "/api/v1/orders/{code}")]["security"] == [{}, {"bearerAuth": []}]


def test_the_contract_details_a_client_relies_on(document: dict[str, Any]) -> None:
    paths = document["paths"]
    png = paths["/api/v1/tickets/{serial}/qr.png"]["get"]["responses"]["200"]["content"]
    assert png == {"image/png": {"schema": {"type": "string", "format": "binary"}}}
    for path, media in [
        ("/api/v1/tickets/{serial}/qr.svg", "image/svg+xml"),
        ("/api/v1/packs/{version}.zip", "application/zip"),
        ("/api/v1/sites/{slug}/plaque.pdf", "application/pdf"),
        ("/api/v1/payments/vietqr/{code}/qr.png", "image/png"),
    ]:
        assert media in paths[path]["get"]["responses"]["200"]["content"], path
    create = paths["/api/v1/orders"]["post"]["responses"]
    assert "429" in create
    conflict = create["409"]["content"]["application/json"]["schema"]["properties"]["reason"]
    assert {"sold_out", "idempotency_key_reused"} <= set(conflict["enum"])
    schemas = document["components"]["schemas"]
    assert schemas["Order"]["properties"]["payment"] == {
        "$ref": "#/components/schemas/PaymentInstructions"
    }
    scan_sites = schemas["ScanTicket"]["properties"]["sites_used"]
    assert scan_sites["items"] == schemas["Ticket"]["properties"]["sites_used"]["items"]
    assert "ok" in schemas["ScanResult"]["properties"]["reason"]["enum"]
    assert paths["/api/v1/config"]["get"]["security"] == []


def test_validation_errors_name_fields_the_same_way_everywhere(client: Any) -> None:
    from_schema = client.post("/api/v1/orders", json={"items": [], "email": "x@example.com"})
    assert from_schema.status_code == 422
    assert set(from_schema.get_json()["errors"]) == {"items", "payment_method"}
    from_service = client.post(
        "/api/v1/orders",
        json={
            "items": [{"product": "old-town-pass", "tier": "foreign", "quantity": 1}],
            "email": "x@example.com",
            "payment_method": "stripe",
        },
    )
    assert from_service.status_code == 422 and "payment_method" in from_service.get_json()["errors"]
    query = client.get("/api/v1/sites?per_page=0").get_json()
    assert "per_page" in query["errors"]


def test_the_public_configuration_endpoint(client: Any) -> None:
    config = client.get("/api/v1/config").get_json()
    assert [lang["code"] for lang in config["languages"]][:2] == ["vi", "en"]
    assert config["payment_methods"] == ["cash"] and config["timezone"] == "Asia/Ho_Chi_Minh"


def test_openapi_spec_validator_accepts_the_document(
    document: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    checked = subprocess.run(
        [str(BIN / "openapi-spec-validator"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _redocly() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install @redocly/cli to lint the document")
    binary = NPM_CACHE / "node_modules" / ".bin" / "redocly"
    marker = NPM_CACHE / "node_modules" / "@redocly" / "cli" / "package.json"
    installed = marker.is_file() and json.loads(marker.read_text())["version"] == REDOCLY_VERSION
    if not installed:
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(NPM_CACHE),
                f"@redocly/cli@{REDOCLY_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return binary


@pytest.mark.slow
def test_redocly_lint_with_the_recommended_rules_finds_nothing(
    document: dict[str, Any], tmp_path: Path
) -> None:
    redocly = _redocly()
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document))
    linted = subprocess.run(
        [str(redocly), "lint", str(path), "--format=json", "--extends=recommended"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"},
    )
    report = json.loads(linted.stdout)
    problems = [(p["severity"], p["ruleId"], p["message"]) for p in report["problems"]]
    assert report["totals"]["errors"] == 0, problems
    assert report["totals"]["warnings"] == 0, problems


CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from hoian_client import Client
    from hoian_client.api.content import site_list, site_detail
    from hoian_client.api.guides import site_guide
    from hoian_client.api.ticketing import order_create, order_detail, product_list
    from hoian_client.api.web_api import client_config
    from hoian_client.models import (
        OrderCreate, OrderCreateLanguage, OrderItemIn, OrderItemInTier, SiteDetailLang,
        SiteGuideLang,
    )

    client = Client(base_url=sys.argv[1], raise_on_unexpected_status=True)
    sites = site_list.sync(client=client, q="chua cau")
    site = site_detail.sync("japanese-covered-bridge", client=client, lang=SiteDetailLang.VI)
    guide = site_guide.sync("japanese-covered-bridge", client=client, lang=SiteGuideLang.EN)
    products = product_list.sync(client=client)
    config = client_config.sync(client=client)
    body = OrderCreate(
        items=[
            OrderItemIn(product="old-town-pass", tier=OrderItemInTier.FOREIGN, quantity=2),
            OrderItemIn(product="old-town-pass", tier=OrderItemInTier.CHILD, quantity=1),
        ],
        email="app-user@example.com",
        payment_method=config.payment_methods[0],
        language=OrderCreateLanguage.KO,
    )
    created = order_create.sync(client=client, body=body, idempotency_key="client-test-0001")
    again = order_detail.sync(created.code, client=client, token=created.access_token)
    print(json.dumps({
        "first_site": sites.items[0].slug,
        "site_name": site.name,
        "guide_status": str(guide.status),
        "products": [p.slug for p in products.items],
        "code": created.code,
        "total": created.total,
        "read_back": again.code,
        "status": str(again.status),
        "payment": str(again.payment.method),
        "items": [(i.tier, i.quantity) for i in again.items],
    }))
    """
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("client-server")
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{workdir / 'hoian.db'}",
        "HOIAN_TICKET_KEYS_DIR": str(workdir / "keys"),
        "HOIAN_MAIL_DIR": str(workdir / "mail"),
        "FLASK_APP": "wsgi:app",
    }
    for command in (["db", "upgrade"], ["content", "load"], ["tickets", "setup"]):
        subprocess.run(
            [str(BIN / "flask"), *command], cwd=ROOT, env=env, check=True, capture_output=True
        )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    with gunicorn_serving(listener, env=env, workdir=workdir):
        yield f"http://127.0.0.1:{port}"


@pytest.mark.slow
def test_a_generated_client_installs_and_works_against_gunicorn(
    served: str, tmp_path: Path
) -> None:
    # The document the server it talks to serves, as a client's developer would fetch it. (The
    # in-process one is flask-smorest's for the app made last in this pytest process, whose
    # languages another test may have narrowed: then the client had no `KO`.)
    spec = tmp_path / "openapi.json"
    with urllib.request.urlopen(f"{served}/api/openapi.json", timeout=30) as answer:
        spec.write_bytes(answer.read())
    generated = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(ROOT / "clients" / "openapi-python-client.yaml"),
            "--output-path",
            str(tmp_path / "hoian-client"),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "WARNING" not in generated.stdout + generated.stderr, generated.stdout
    # As the generator wrote it: pip builds it (with the build backend it names) and installs.
    subprocess.run(
        [
            str(BIN / "pip"),
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(tmp_path / "site"),
            str(tmp_path / "hoian-client"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    ran = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT, served],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["first_site"] == "japanese-covered-bridge" and result["site_name"] == "Chùa Cầu"
    assert result["guide_status"] in {"ready", "pending", "unavailable"}
    assert "old-town-pass" in result["products"]
    assert result["read_back"] == result["code"] and result["status"] == "pending"
    assert result["payment"] == "cash" and result["total"] > 0
    assert sorted(result["items"]) == [["child", 1], ["foreign", 2]]
