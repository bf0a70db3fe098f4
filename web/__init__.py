"""Every HTML front-end, and what the city app needs offline: the tourist pages (the page
behind each QR plaque, its assets and service worker, the ticket form), the staff console
(`console/`), the inspector's scanner (`scan/`), printable plaques, offline packs and delta sync."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the pages (plain Flask), the error pages every HTML route answers with, the
    plaque, pack and sync API (flask-smorest), and `flask content prune-sync`."""
    from app.errors import set_html_error_renderer
    from app.extensions import api
    from content.cli import content_cli
    from web import console, scan
    from web.cli import prune_sync
    from web.feedback import bp as feedback_bp
    from web.pages import bp as pages_bp
    from web.pages import render_error_page
    from web.routes import blp
    from web.tickets import bp as tickets_bp

    set_html_error_renderer(app, render_error_page)
    app.register_blueprint(pages_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(feedback_bp)
    api.register_blueprint(blp)
    content_cli.add_command(prune_sync)
    console.init_app(app)
    scan.init_app(app)
