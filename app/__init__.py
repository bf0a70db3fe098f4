"""The Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, send_from_directory
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import ratelimit
from app.config import load_config
from app.db import ping_after_idle
from app.errors import error_response, register_error_handlers
from app.extensions import api, db, migrate
from app.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, CLI and error handlers."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.update(
        load_config(instance_path=app.instance_path, overrides=config, environ=os.environ)
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    configure_logging(app)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_after_idle(engine, idle_s=app.config["DB_PING_AFTER_IDLE_S"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    ratelimit.init_app(app)
    api.init_app(app)
    _register_blueprints(app)
    _register_docs_assets(app)
    register_error_handlers(app)
    _register_unit_of_work(app)
    _register_cli(app)
    return app


def _register_blueprints(app: Flask) -> None:
    import content.cache
    from app.auth import access as auth_access
    from app.auth.routes import blp as auth_blp
    from app.health import blp as health_blp
    from app.ticketing import presenters as ticket_presenters
    from app.ticketing import services as ticket_services
    from app.ticketing.pages import bp as ticket_pages_bp
    from app.ticketing.routes import blp as ticketing_blp
    from app.web import init_app as init_web
    from content.routes import blp as content_blp
    from content.routes import media_bp as guide_media_bp
    from payments import init_app as init_payments
    from payments.pages import bp as payment_pages_bp
    from payments.routes import blp as payments_blp

    auth_access.init_app(app)
    content.cache.init_app(app)
    ticket_services.init_app(app)
    init_payments(app)
    app.extensions["hoian_site_products"] = ticket_presenters.site_products
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blp in (health_blp, auth_blp, content_blp, ticketing_blp, payments_blp):
        api.register_blueprint(blp)
    app.register_blueprint(ticket_pages_bp)
    app.register_blueprint(payment_pages_bp)
    app.register_blueprint(guide_media_bp)
    init_web(app)


def _register_docs_assets(app: Flask) -> None:
    """Serve Swagger UI from the installed bundle so /api/docs works with no network."""
    from swagger_ui_bundle import swagger_ui_path

    @app.route("/api/docs/assets/<path:filename>", endpoint="docs_assets")
    def docs_assets(filename: str) -> Response:
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def _register_unit_of_work(app: Flask) -> None:
    """One commit per request, done here: services only flush."""

    @app.before_request
    def _writes_take_the_write_lock() -> None:
        if request.method in WRITE_METHODS:
            begin_write()

    @app.before_request
    def _json_bodies_only() -> Response | None:
        view = app.view_functions.get(request.endpoint or "")
        if (
            request.method in WRITE_METHODS
            and request.content_length
            and not request.is_json
            and not getattr(view, "accepts_any_body", False)
        ):
            return error_response(
                415, "send the body as application/json", reason="unsupported_media_type"
            )
        return None

    @app.after_request
    def _commit(response: Response) -> Response:
        if request.method in WRITE_METHODS:
            if response.status_code < 400:
                db.session.commit()
            else:
                db.session.rollback()
        return response


def begin_write() -> None:
    """Start this session's transaction as a writer (BEGIN IMMEDIATE on SQLite)."""
    if db.engine.dialect.name == "sqlite" and db.session().get_transaction() is None:
        db.session.connection(execution_options={"sqlite_begin_mode": "IMMEDIATE"})


def _register_cli(app: Flask) -> None:
    from app.auth.cli import devices_cli, users_cli
    from app.ticketing.cli import tickets_cli
    from content.cli import content_cli
    from content.pipeline_cli import guide_cli, models_cli
    from payments.cli import payments_cli

    for group in (
        users_cli,
        devices_cli,
        content_cli,
        tickets_cli,
        payments_cli,
        models_cli,
        guide_cli,
    ):
        app.cli.add_command(group)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL for concurrent readers, real foreign keys, and waiting instead of failing on locks."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        # Let SQLAlchemy, not the sqlite3 module, open transactions, so SAVEPOINTs work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    """Open SQLite transactions ourselves; writers take the write lock up front.

    A deferred transaction that reads and then writes fails at once with "database is locked"
    when another writer committed in between; `BEGIN IMMEDIATE` waits its turn instead.
    Request writes and jobs ask for it with `begin_write()`.
    """
    if conn.dialect.name == "sqlite":
        mode = conn.get_execution_options().get("sqlite_begin_mode", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
