"""`flask insights ...`: housekeeping for cron."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from insights import events

insights_cli = AppGroup("insights", help="Listening events and reports housekeeping.")


@insights_cli.command("prune-events")
@click.option(
    "--days",
    type=click.IntRange(min=1, max=3660),
    default=None,
    help="Keep raw events this many days (default: HOIAN_EVENTS_RETENTION_DAYS).",
)
def prune_events(days: int | None) -> None:
    """Delete raw listening events older than the retention; the hourly rollup keeps them."""
    keep = days if days is not None else int(current_app.config["EVENTS_RETENTION_DAYS"])
    try:
        deleted = events.prune_events(older_than_days=keep, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"{deleted} raw events older than {keep} days deleted")
