"""The heritage catalogue: sites, tours, their texts in every language, search and geo, and
the real Hội An catalogue data under `content/seed/`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the catalogue API, `flask content`, and the catalogue version caches key on."""
    from app.extensions import api
    from content import cache
    from content.cli import content_cli
    from content.routes import blp, media_bp

    cache.init_app(app)
    api.register_blueprint(blp)
    app.register_blueprint(media_bp)
    app.cli.add_command(content_cli)
