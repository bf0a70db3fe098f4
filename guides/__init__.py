"""Narration to published guide: uploads and drafts, pipeline jobs and their tasks, the speech
stages (the only importer of `audio_pipeline`), publishing, the guide API, `flask guide` and
`flask models`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the guide API, the guide files, the CLI, and the guide's parts of the
    catalogue's documents (a site's `guide`, the ready-guide counts, seeded narrations)."""
    from app.extensions import api
    from content import signals
    from guides import catalogue, published, seeding
    from guides.cli import guide_cli, models_cli
    from guides.routes import blp, media_bp

    api.register_blueprint(blp)
    app.register_blueprint(media_bp)
    app.cli.add_command(guide_cli)
    app.cli.add_command(models_cli)
    signals.site_document.connect(published.guide_summary)
    signals.language_counts.connect(published.ready_guide_counts)
    signals.site_seeded.connect(seeding.load_narration)
    signals.site_texts_changed.connect(catalogue.source_changed)
    signals.tour_texts_changed.connect(catalogue.source_changed)
