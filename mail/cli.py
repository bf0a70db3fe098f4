"""`flask mail`: queue again what a stopped process left behind."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from mail import services


@click.group("mail")
def mail_cli() -> None:
    """Mail to buyers."""


@mail_cli.command("retry")
@with_appcontext
def retry() -> None:
    """Queue due retries and messages whose sender died (run from cron, e.g. every 5 minutes)."""
    ids = services.queue_due()
    click.echo(f"queued {len(ids)} messages" + (f": {ids[:20]}" if ids else ""))
