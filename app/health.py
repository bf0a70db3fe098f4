"""Liveness and readiness probes for the orchestrator and the load balancer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import ServiceUnavailable
from app.extensions import api, db

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class HealthSchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@cache
def _migration_heads(directory: str) -> frozenset[str]:
    return frozenset(ScriptDirectory(directory).get_heads())


@blp.route("/healthz")
@blp.response(200, HealthSchema)
def healthz() -> dict[str, Any]:
    """The process is up and serving requests."""
    return {"status": "ok", "checks": {}}


@blp.route("/readyz")
@blp.response(200, HealthSchema)
@blp.alt_response(503, response="DEFAULT_ERROR")
def readyz() -> dict[str, Any]:
    """The database answers and is migrated to head; Redis answers when configured."""
    checks = service_checks()
    failed = {name: check.detail for name, check in checks.items() if not check.ok}
    if failed:
        first = next(iter(failed))
        raise ServiceUnavailable(checks[first].message, errors=failed)
    return {"status": "ok", "checks": dict.fromkeys(checks, "ok")}


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    message: str = ""  # what is wrong, for the operator
    detail: str = ""


def service_checks() -> dict[str, Check]:
    """The database (reachable, migrated to head) and Redis (when configured), each checked."""
    checks = {"database": _database_check()}
    if current_app.config["REDIS_URL"]:
        from app.redis_client import get_redis

        try:
            get_redis().ping()
            checks["redis"] = Check(ok=True)
        except Exception as exc:  # noqa: BLE001 - whatever broke, the probe reports it
            checks["redis"] = Check(ok=False, message="redis unreachable", detail=str(exc))
    return checks


def _database_check() -> Check:
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            try:
                current = set(
                    conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
                )
            except SQLAlchemyError:  # no alembic_version table: never migrated
                current = set()
    except Exception as exc:  # noqa: BLE001 - whatever broke, the probe reports it
        return Check(ok=False, message="database unreachable", detail=str(exc))
    heads = _migration_heads(current_app.extensions["migrate"].directory)
    if current != heads:
        return Check(
            ok=False,
            message="database schema is not at the latest migration; run flask db upgrade",
            detail=f"at {sorted(current)}, head is {sorted(heads)}",
        )
    return Check(ok=True)


def init_app(app: Flask) -> None:
    """Register the probes."""
    api.register_blueprint(blp)
