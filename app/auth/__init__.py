"""Staff accounts, roles, bearer tokens and enrolled inspector devices."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the account API, `flask users` and `flask devices`, and the device-token cache."""
    from app.auth import access
    from app.auth.cli import devices_cli, users_cli
    from app.auth.routes import blp
    from app.extensions import api

    access.init_app(app)
    api.register_blueprint(blp)
    app.cli.add_command(users_cli)
    app.cli.add_command(devices_cli)
