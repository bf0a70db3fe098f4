"""`flask users ...` and `flask devices ...`: staff administration from the shell."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.auth import services
from app.auth.models import ROLE_VALUES
from app.errors import DomainError
from app.extensions import db

users_cli = AppGroup("users", help="Manage staff accounts.")
devices_cli = AppGroup("devices", help="Enroll and revoke inspector devices.")


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    details = "; ".join(f"{key}: {value}" for key, value in exc.errors.items())
    raise click.ClickException(exc.message + (f" ({details})" if details else ""))


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(ROLE_VALUES),
    help="Repeat for several roles.",
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="HOIAN_NEW_USER_PASSWORD",
    help="Prompted for when not given.",
)
def create_user(email: str, name: str, roles: tuple[str, ...], password: str) -> None:
    """Create a staff user."""
    try:
        user = services.create_user(email=email, password=password, roles=list(roles), name=name)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created user {user.id} {user.email} roles={','.join(user.roles)}")


@users_cli.command("list")
def list_users() -> None:
    """List staff users."""
    for user in services.list_users():
        state = "active" if user.active else "inactive"
        click.echo(f"{user.id}\t{user.email}\t{','.join(user.roles)}\t{state}")


@devices_cli.command("enroll")
@click.argument("name")
def enroll_device(name: str) -> None:
    """Enroll an inspector device and print its token once."""
    device, issued = services.enroll_device(
        name=name, enrolled_by_id=None, ttl_days=current_app.config["DEVICE_TOKEN_TTL_DAYS"]
    )
    db.session.commit()
    click.echo(f"device {device.id} {device.name!r} enrolled; token (shown once):")
    click.echo(issued.token)


@devices_cli.command("revoke")
@click.argument("device_id", type=int)
def revoke_device(device_id: int) -> None:
    """Revoke a device and all its tokens."""
    try:
        device = services.revoke_device(device_id=device_id)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"device {device.id} {device.name!r} revoked")
