"""The Flask application factory: the one place that knows every domain."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, send_from_directory

from app import ratelimit
from app.apidoc import ClientContract, document_contract
from app.config import load_config
from app.db import begin_write, ping_after_idle
from app.errors import error_response, register_error_handlers
from app.extensions import api, csrf, db, migrate
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
    csrf.init_app(app)
    api.init_app(app, spec_kwargs={"extra_plugins": [ClientContract(app)]})
    _register_domains(app)
    document_contract(app, api.spec)
    _register_docs_assets(app)
    register_error_handlers(app)
    _register_unit_of_work(app)
    return app


def _register_domains(app: Flask) -> None:
    """Each domain registers its own blueprints, CLI and hooks; the order is the API's."""
    import content
    import guides
    import mail
    import payments
    import ticketing
    import web
    from app import auth, health

    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    health.init_app(app)
    for domain in (auth, content, guides, ticketing, payments, web, mail):
        domain.init_app(app)


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
        """The JSON API takes JSON bodies (forms are for the HTML pages, uploads say so)."""
        view = app.view_functions.get(request.endpoint or "")
        if (
            request.path.startswith("/api/")
            and request.method in WRITE_METHODS
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
