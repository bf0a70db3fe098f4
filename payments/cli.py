"""`flask payments ...`: reconcile a bank statement, close payments of dead orders."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.errors import DomainError
from app.extensions import db
from payments import bank, jobs

payments_cli = AppGroup("payments", help="Bank statements and payment housekeeping.")


@payments_cli.command("reconcile")
@click.argument("statement", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Report what would match; change nothing.")
def reconcile(statement: Path, dry_run: bool) -> None:
    """Match a bank statement export (CSV) to open orders, and report what matched."""
    raw = statement.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1258")  # Vietnamese Windows exports
    try:
        report = bank.reconcile(text)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    for line, label in report.matched:
        assert line.transfer is not None
        click.echo(
            f"matched    line {line.line}: {line.transfer.transaction_id} "
            f"{line.transfer.amount} VND -> {label}"
        )
    for line, label in report.flagged:
        assert line.transfer is not None
        click.echo(
            f"flagged    line {line.line}: {line.transfer.transaction_id} "
            f"{line.transfer.amount} VND -> {label} (see GET /api/v1/payments/flags)"
        )
    for line, label in report.already_recorded:
        assert line.transfer is not None
        click.echo(
            f"recorded   line {line.line}: {line.transfer.transaction_id} "
            f"already recorded ({label})"
        )
    for line in report.skipped:
        click.echo(f"skipped    line {line.line}: {line.problem}")
    for order in report.open_orders:
        click.echo(
            f"unpaid     order {order.code}: {order.total_amount} {order.currency}, "
            f"reference {bank.reference_for(order)}, no transfer found"
        )
    click.echo(
        f"{len(report.matched)} matched, {len(report.flagged)} flagged, "
        f"{len(report.already_recorded)} already recorded, {len(report.skipped)} skipped, "
        f"{len(report.open_orders)} open orders unmatched"
        + (" (dry run: nothing saved)" if dry_run else "")
    )
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()


@payments_cli.command("expire")
def expire() -> None:
    """Close open payments of expired or cancelled orders (cancels their Stripe intents)."""
    try:
        closed = jobs.expire_payments()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"{len(closed)} payments closed")
