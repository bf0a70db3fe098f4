"""The inspector's scanner (`/scan/`): any phone at a relic gate becomes a ticket scanner in the
browser, online or offline, with nothing to install from a store. The page is a shell; its
script (static/scan.js) pairs the phone, reads codes with the camera, asks the check-in API and,
when the network fails, decides with static/verify.js and uploads its scans later."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

HERE = Path(__file__).resolve().parent


def init_app(app: Flask) -> None:
    """Register the scanner's pages and its words (gettext catalogue)."""
    from app.i18n import add_catalogue
    from web.scan.pages import bp

    add_catalogue(app, HERE / "translations")
    app.register_blueprint(bp)
