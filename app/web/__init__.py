"""Tourist-facing web: the page behind each QR plaque, its assets and service worker, the
ticket form it links to, printable plaques, offline packs and delta sync for the city app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the pages (plain Flask) and the plaque, pack and sync API (flask-smorest)."""
    from app.extensions import api
    from app.web.pages import bp as pages_bp
    from app.web.routes import blp
    from app.web.tickets import bp as tickets_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(tickets_bp)
    api.register_blueprint(blp)
