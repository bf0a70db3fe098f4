"""The real thing: migrate and seed with the CLI, start gunicorn, drive it over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import gunicorn_serving

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    workdir = tmp_path_factory.mktemp("server")
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{workdir / 'hoian.db'}",
        "FLASK_APP": "wsgi:app",
        "LOG_JSON": "true",
    }
    for command in (["flask", "db", "upgrade"], ["flask", "content", "load"]):
        subprocess.run(
            [str(BIN / command[0]), *command[1:]],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    # Bind the socket here and hand it to gunicorn: requests queue in the backlog until the
    # workers accept, so the test never has to poll for the server to come up.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    with gunicorn_serving(listener, env=env, workdir=workdir):
        yield "127.0.0.1", port


def get(
    server: tuple[str, int],
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: Any = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*server, timeout=30)
    payload = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json"} if payload else {}
    conn.request(method, path, body=payload, headers={**all_headers, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def test_tourist_searches_and_reads_a_site_in_vietnamese(server: tuple[str, int]) -> None:
    status, _, body = get(server, "/api/v1/sites?q=ch%C3%B9a%20c%E1%BA%A7u")
    assert status == 200 and json.loads(body)["items"][0]["slug"] == "japanese-covered-bridge"
    status, headers, body = get(
        server, "/api/v1/sites/japanese-covered-bridge", {"Accept-Language": "vi"}
    )
    site = json.loads(body)
    assert status == 200 and headers["content-language"] == "vi" and site["name"] == "Chùa Cầu"
    status, _, body = get(
        server,
        "/api/v1/sites/japanese-covered-bridge",
        {"Accept-Language": "vi", "If-None-Match": headers["etag"]},
    )
    assert status == 304 and body == b""


def test_city_app_reads_geojson_tours_and_languages(server: tuple[str, int]) -> None:
    status, headers, body = get(server, "/api/v1/sites.geojson")
    assert status == 200 and headers["content-type"].startswith("application/geo+json")
    assert len(json.loads(body)["features"]) >= 22
    assert len(json.loads(get(server, "/api/v1/tours")[2])["items"]) >= 2
    assert json.loads(get(server, "/api/v1/languages")[2])["items"][0]["code"] == "vi"


def test_errors_over_the_wire_have_the_one_shape(server: tuple[str, int]) -> None:
    for method, path, body, expected in [
        ("GET", "/api/v1/sites/nowhere", None, 404),
        ("DELETE", "/api/v1/sites", None, 405),
        ("GET", "/api/v1/sites?near=x", None, 422),
        ("POST", "/api/v1/auth/token", {"email": "a@hoian.test", "password": "nope"}, 401),
        ("POST", "/api/v1/sites", {}, 401),
    ]:
        status, headers, raw = get(server, path, method=method, body=body)
        error = json.loads(raw)
        assert status == expected and error["code"] == expected and "reason" in error, (path, raw)
        assert headers["content-type"] == "application/json" and headers["x-request-id"]


def test_docs_and_probes(server: tuple[str, int]) -> None:
    status, _, page = get(server, "/api/docs")
    assert status == 200 and b"/api/docs/assets/swagger-ui-bundle.js" in page
    assert get(server, "/api/docs/assets/swagger-ui-bundle.js")[0] == 200
    assert json.loads(get(server, "/api/openapi.json")[2])["info"]["title"].startswith("Hội An")
    assert get(server, "/readyz")[0] == 200
