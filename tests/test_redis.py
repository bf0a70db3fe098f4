"""Redis in production: readiness checks it, and login rate limits are shared across processes."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL, make_app, migrate_and_seed, service_or_skip

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> str:
    url = service_or_skip("Redis", REDIS_URL, 6379)
    redis.Redis.from_url(url).flushdb()
    return url


def test_readiness_checks_redis(tmp_path: Path, redis_url: str) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'r.db'}", REDIS_URL=redis_url)
    migrate_and_seed(app)
    assert app.test_client().get("/readyz").get_json()["checks"] == {
        "database": "ok",
        "redis": "ok",
    }
    broken = make_app(f"sqlite:///{tmp_path / 'r.db'}", REDIS_URL="redis://127.0.0.1:1/0")
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503 and "redis" in response.get_json()["errors"]


def test_login_limit_is_shared_by_two_web_processes(tmp_path: Path, redis_url: str) -> None:
    config = {"REDIS_URL": redis_url, "LOGIN_RATE_LIMIT": "3 per minute"}
    apps = [make_app(f"sqlite:///{tmp_path / 'shared.db'}", **config) for _ in range(2)]
    migrate_and_seed(apps[0])
    first, second = (app.test_client() for app in apps)
    body = {"email": "nobody@hoian.test", "password": "x"}
    statuses = [
        c.post("/api/v1/auth/token", json=body).status_code for c in (first, second, first, second)
    ]
    assert statuses == [401, 401, 401, 429]
