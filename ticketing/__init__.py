"""E-tickets: products, orders, signed QR codes, check-in online and offline."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the ticketing API and pages, `flask tickets`, the key and rule caches, the cash
    desk, and the `ticket_products` of a site's document."""
    from app.extensions import api
    from content import signals
    from ticketing import presenters, services
    from ticketing.cli import tickets_cli
    from ticketing.pages import bp as pages_bp
    from ticketing.routes import blp

    services.init_app(app)
    api.register_blueprint(blp)
    app.register_blueprint(pages_bp)
    app.cli.add_command(tickets_cli)
    signals.site_document.connect(presenters.site_products_section)
