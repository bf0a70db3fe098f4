"""`flask content ...`: load the seed catalogue (web/ adds `prune-sync` to this group)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from content.seeding import SEED_DIR, SeedError, SeedRefused, load_seed

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
@click.option(
    "--update",
    is_flag=True,
    help="Also rewrite records that differ from their file, unless a person edited them.",
)
@click.option(
    "--skip-edited",
    is_flag=True,
    help="With --update: keep what people edited and load the rest, instead of refusing.",
)
def load(directory: Path, update: bool, skip_edited: bool) -> None:
    """Create the sites and tours of the YAML files that are missing (never overwrites)."""
    if skip_edited and not update:
        raise click.UsageError("--skip-edited goes with --update")
    try:
        report = load_seed(
            directory=directory,
            languages=current_app.config["LANGUAGES"],
            source_lang=current_app.config["SOURCE_LANGUAGE"],
            update=update,
            skip_edited=skip_edited,
        )
    except SeedRefused as exc:
        db.session.rollback()
        raise click.ClickException(
            f"{exc}. Nothing was written. Those records were changed by people after they were "
            "seeded; add --skip-edited to keep them and load the rest."
        ) from exc
    except SeedError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(
        f"catalogue loaded from {directory}: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.kept)} kept as people left them"
    )
    if report.kept:
        click.echo(
            "kept (they differ from the seed; --update rewrites those nobody edited): "
            + ", ".join(report.kept)
        )
    if report.edited:
        click.echo("edited by people since seeded, kept: " + ", ".join(report.edited), err=True)
