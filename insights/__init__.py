"""What managers and finance see, and what tourists tell us: first-party listening events
rolled up per site, language and hour; tourist feedback; reports over visits, sales, listening
and feedback (JSON, CSV and Excel).

`init_app` registers the events, feedback and reports API and `flask insights`; importing
`insights.translation` lets the pipeline's workers translate comments (a `feedback` job).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the insights API and `flask insights prune-events`."""
    from app.extensions import api
    from insights import translation  # noqa: F401 - registers the `feedback` job kind
    from insights.cli import insights_cli
    from insights.routes import blp

    api.register_blueprint(blp)
    app.cli.add_command(insights_cli)
