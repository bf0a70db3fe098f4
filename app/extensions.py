"""Extensions, created unbound here and bound to the app in create_app()."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from flask_migrate import Migrate
from flask_smorest import Api
from sqlalchemy import select

from app.apidoc import SchemaRulesPlugin
from app.db import db
from app.schemas import ErrorSchema

__all__ = ["api", "db", "locked", "migrate"]


class HoianApi(Api):
    """flask-smorest Api whose documented error shape carries our stable `reason`."""

    ERROR_SCHEMA = ErrorSchema


migrate = Migrate()
api = HoianApi(spec_kwargs={"extra_plugins": [SchemaRulesPlugin()]})

Row = TypeVar("Row")


def locked(model: type[Row], row_id: Any) -> Row | None:
    """The row with this primary key, locked for this transaction (SELECT ... FOR UPDATE) and
    refreshed from the database, or None."""
    statement: Any = (
        select(model)
        .where(model.id == row_id)  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return cast("Row | None", db.session.scalar(statement))
