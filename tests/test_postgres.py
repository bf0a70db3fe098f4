"""The same app on a real PostgreSQL: migrations from empty, seed, search, geo, edit races."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.extensions import db
from tests.conftest import (
    migrate_and_seed,
    scratch_postgres_app,
)

pytestmark = pytest.mark.postgres
BRIDGE = "japanese-covered-bridge"


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    with scratch_postgres_app("hoian_test") as app:
        migrate_and_seed(app)
        yield app


def test_empty_postgres_is_migrated_and_ready(pg_app: Flask) -> None:
    client = pg_app.test_client()
    assert client.get("/readyz").get_json()["checks"]["database"] == "ok"
    with pg_app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert db.session.execute(text("SELECT count(*) FROM sites")).scalar() >= 22


def test_search_and_geo_on_postgres(pg_app: Flask) -> None:
    client = pg_app.test_client()
    for query in ("chua cau", "Chùa Cầu", "japanese bridge"):
        items = client.get("/api/v1/sites", query_string={"q": query}).get_json()["items"]
        assert items[0]["slug"] == BRIDGE, query
    near = client.get("/api/v1/sites?near=15.8771,108.3260&radius_m=200").get_json()["items"]
    assert near[0]["slug"] == BRIDGE and [i["distance_m"] for i in near] == sorted(
        i["distance_m"] for i in near
    )


def _editor_headers(app: Flask) -> dict[str, str]:
    from app.auth import services

    with app.app_context():
        email = f"ed-{secrets.token_hex(3)}@hoian.test"
        services.create_user(email=email, password="correct horse battery", roles=["editor"])
        token = services.login(email=email, password="correct horse battery", ttl_hours=1).token
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_racing_editors_on_postgres_exactly_one_wins(pg_app: Flask) -> None:
    headers = _editor_headers(pg_app)
    etag = pg_app.test_client().get(f"/api/v1/sites/{BRIDGE}").headers["ETag"]
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def edit(n: int) -> None:
        client = pg_app.test_client()
        barrier.wait()
        response = client.patch(
            f"/api/v1/sites/{BRIDGE}",
            json={"texts": {"en": {"summary": f"Editor {n} was here."}}},
            headers={**headers, "If-Match": etag},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * 7
    summary = pg_app.test_client().get(f"/api/v1/sites/{BRIDGE}?lang=en").get_json()["summary"]
    assert summary.startswith("Editor ")


def test_a_connection_killed_while_idle_is_replaced_before_use() -> None:
    """Pooled connections are pinged only after sitting idle (app.db.ping_after_idle): one
    whose server process died meanwhile is swapped for a fresh one, and the request succeeds."""
    with scratch_postgres_app("hoian_ping", DB_PING_AFTER_IDLE_S=0.0) as app:
        with app.app_context():
            before = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            db.session.commit()
            db.session.remove()  # back to the pool, idle from now
            admin = create_engine(db.engine.url, poolclass=NullPool)
            with admin.connect() as conn:
                killed = conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
                assert killed.scalar() is True
            admin.dispose()
        with app.app_context():
            after = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            assert after != before
