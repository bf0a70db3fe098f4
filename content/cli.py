"""`flask content ...`: load the seed catalogue (web/ adds `prune-sync` to this group)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from content.seeding import SEED_DIR, SeedError, load_seed

content_cli = AppGroup("content", help="Manage the heritage catalogue.")


@content_cli.command("load")
@click.option(
    "--path",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=SEED_DIR,
    show_default=True,
    help="Folder with sites/*.yaml and tours/*.yaml.",
)
def load(directory: Path) -> None:
    """Create or update sites and tours from YAML (idempotent)."""
    try:
        report = load_seed(
            directory=directory,
            languages=current_app.config["LANGUAGES"],
            source_lang=current_app.config["SOURCE_LANGUAGE"],
        )
    except SeedError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(
        f"catalogue loaded from {directory}: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged"
    )
