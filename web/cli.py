"""`flask content prune-sync`: the delta-sync change log is the web's, kept with the catalogue's
commands where operators look for it."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from app.extensions import db
from web import sync


@click.command("prune-sync")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Keep the change log of this many days; older app cursors get a full snapshot.",
)
@with_appcontext
def prune_sync(older_than_days: int) -> None:
    """Forget old entries of the delta-sync change log (run it from cron)."""
    removed = sync.prune(older_than=timedelta(days=older_than_days))
    db.session.commit()
    click.echo(f"sync log: {removed} entries older than {older_than_days} days removed")
