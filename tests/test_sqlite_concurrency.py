"""SQLite under concurrent writers: editors race, nobody gets a 500, exactly one wins."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

from flask import Flask

from app.auth import services
from app.extensions import db
from tests.conftest import make_app, migrate_and_seed

BRIDGE = "japanese-covered-bridge"


def test_racing_editors_on_sqlite_exactly_one_wins(tmp_path: Path) -> None:
    app: Flask = make_app(f"sqlite:///{tmp_path / 'race.db'}")
    migrate_and_seed(app)
    with app.app_context():
        email = f"ed-{secrets.token_hex(3)}@hoian.test"
        services.create_user(email=email, password="correct horse battery", roles=["editor"])
        token = services.login(email=email, password="correct horse battery", ttl_hours=1).token
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    etag = app.test_client().get(f"/api/v1/sites/{BRIDGE}").headers["ETag"]
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def edit(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.patch(
            f"/api/v1/sites/{BRIDGE}",
            json={"aliases": [f"alias {n}"]},
            headers={**headers, "If-Match": etag},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * 5
    with app.app_context():
        db.engine.dispose()
