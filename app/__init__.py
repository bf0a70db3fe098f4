"""The Flask application factory: the one place that knows every domain."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, send_from_directory

from app import compression, guards, ratelimit, security, unit_of_work
from app.apidoc import ClientContract, SchemaRulesPlugin, document_contract, document_input_rules
from app.config import load_config
from app.db import ping_after_idle
from app.errors import register_error_handlers
from app.extensions import api, csrf, db, migrate
from app.logs import configure_logging
from app.unit_of_work import HoianFlask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, CLI and error handlers."""
    # The app's own static files are the docs page's script (app/templates/swagger_ui.html).
    app = HoianFlask(
        __name__, instance_path=str(ROOT / "instance"), static_url_path="/api/docs/static"
    )
    app.config.update(
        load_config(instance_path=app.instance_path, overrides=config, environ=os.environ)
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    configure_logging(app)
    guards.install_converters(app)
    guards.init_app(app)
    security.init_app(app)
    compression.init_app(app)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_after_idle(engine, idle_s=app.config["DB_PING_AFTER_IDLE_S"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    ratelimit.init_app(app)
    csrf.init_app(app)
    api.init_app(app, spec_kwargs={"extra_plugins": [SchemaRulesPlugin(), ClientContract(app)]})
    document_input_rules(api, app.config["LANGUAGES"])
    _register_domains(app)
    document_contract(app, api.spec)
    _register_docs_assets(app)
    register_error_handlers(app)
    unit_of_work.init_app(app)
    return app


def _register_domains(app: Flask) -> None:
    """Each domain registers its own blueprints, CLI and hooks; the order is the API's."""
    import content
    import guides
    import insights
    import mail
    import payments
    import ticketing
    import web
    from app import auth, health

    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    health.init_app(app)
    for domain in (auth, content, guides, ticketing, payments, insights, web, mail):
        domain.init_app(app)


def _register_docs_assets(app: Flask) -> None:
    """Serve Swagger UI from the installed bundle so /api/docs works with no network."""
    from swagger_ui_bundle import swagger_ui_path

    @app.route("/api/docs/assets/<path:filename>", endpoint="docs_assets")
    def docs_assets(filename: str) -> Response:
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
