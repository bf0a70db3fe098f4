"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL: a
model change without its migration (or a migration that drifts from the model) fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade

from app.extensions import db
from tests.conftest import make_app, scratch_postgres_app


def _differences(app: Flask) -> list[object]:
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, db.metadata))


def test_sqlite_migrations_match_the_models(tmp_path: Path) -> None:
    assert _differences(make_app(f"sqlite:///{tmp_path / 'schema.db'}")) == []


@pytest.mark.postgres
def test_postgres_migrations_match_the_models() -> None:
    with scratch_postgres_app("hoian_schema") as app:
        assert _differences(app) == []
