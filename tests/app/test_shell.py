"""The app shell: one error shape, request ids, probes, configuration checks, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.config import ConfigError
from tests.conftest import make_app

ERROR_KEYS = {"code", "status", "message", "reason", "errors"}


def assert_error(response: Any, status: int, reason: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == status
    if reason:
        assert body["reason"] == reason
    return body


def test_unknown_path_is_a_json_404(client: Any) -> None:
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_a_json_405_with_allow(client: Any) -> None:
    response = client.delete("/api/v1/languages")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_invalid_query_is_a_json_422_naming_the_field(client: Any) -> None:
    body = assert_error(client.get("/api/v1/sites?per_page=1000"), 422, "invalid")
    assert "per_page" in body["errors"]


def test_crash_is_a_json_500_and_logged(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'x.db'}")

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    body = assert_error(app.test_client().get("/boom"), 500, "server_error")
    assert "kaboom" not in body["message"]  # no internals leak to the client
    assert any("kaboom" in record.getMessage() for record in caplog.records)


def test_non_utf8_json_body_is_a_clear_400(client: Any) -> None:
    response = client.post("/api/v1/auth/token", data=b"\xff\xfe{", content_type="application/json")
    assert_error(response, 400)


def test_wrong_content_type_is_415(client: Any) -> None:
    response = client.post("/api/v1/auth/token", data="email=a", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_request_id_is_echoed_or_made(client: Any) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces"
    assert len(made.headers["X-Request-ID"]) == 16


def test_probes(client: Any) -> None:
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz").get_json()
    assert ready == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_is_503_before_migrations(tmp_path: Any) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'empty.db'}")
    body = assert_error(app.test_client().get("/readyz"), 503, "unavailable")
    assert "flask db upgrade" in body["message"]


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 40}, "DATABASE_URL"),
        (
            {"SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://db/hoian"},
            "PUBLIC_BASE_URL",
        ),
    ],
)
def test_production_refuses_unsafe_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fragment: str
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=fragment):
        create_app()


def test_unknown_language_in_config_is_refused(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="unknown codes"):
        make_app(f"sqlite:///{tmp_path / 'x.db'}", LANGUAGES=["vi", "xx"])


def test_openapi_documents_every_route_and_the_error_shape(app: Flask, client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") and rule.rule not in ("/healthz", "/readyz"):
            continue
        path = rule.rule.replace("<int:", "<").replace("<string(maxlength=80):", "<")
        path = path.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert {"code", "status", "message", "reason", "errors"} <= set(error)
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_docs_page_loads_with_no_network(client: Any) -> None:
    page = client.get("/api/docs").get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in page
    assert "https://" not in page.split("<body>")[0]  # no CDN in the head
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        with client.get(f"/api/docs/assets/{asset}") as response:
            assert response.status_code == 200 and len(response.data) > 10_000


def test_order_tokens_never_reach_the_access_log(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="hoian.access"):
        client.get("/api/v1/sites?lang=en&token=s3cret-order-token")
        # Flask decodes the query before the view reads it; so does the redaction.
        client.get("/api/v1/sites?lang=en&%74oken=s3cret-two&TOKEN=s3cret-three")
        client.get("/api/v1/sites?lang=en&%74oken=s3cret-two&TOKEN=s3cret-three")  # cached
        client.get("/pay/NOORDER1?tok%65n=s3cret-five")
    lines = [r.getMessage() for r in caplog.records if r.name == "hoian.access"]
    assert len(lines) == 4 and not any("s3cret" in line for line in lines), lines
    assert all("token=[redacted]" in line for line in lines)
    assert any(line.endswith("(cached)") for line in lines)
