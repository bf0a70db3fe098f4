"""The staff console (`/console/`): heritage-centre staff, finance and admins run the catalogue,
the guides, the gates' devices and the money in a browser, through the same services as the
JSON API. Server-rendered; JavaScript only for upload progress, live job progress and players.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

HERE = Path(__file__).resolve().parent


def init_app(app: Flask) -> None:
    """Register the console's pages, its words (gettext catalogues) and its error pages."""
    from app.i18n import add_catalogue
    from web.console import (  # noqa: F401 - each adds views
        audit,
        auth,
        conflicts,
        devices,
        feedback,
        finance,
        glossary,
        home,
        models,
        narrations,
        plaques,
        reports,
        review,
        site_images,
        site_panoramas,
        sites,
        tours,
        users,
    )
    from web.console.access import bp

    add_catalogue(app, HERE / "translations")
    app.register_blueprint(bp)
