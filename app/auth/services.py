"""Authentication and staff management: passwords, tokens, devices."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import audit
from app.auth.models import (
    ROLE_VALUES,
    ApiToken,
    InspectorDevice,
    Role,
    StaffSession,
    User,
    UserRole,
)
from app.db import utcnow
from app.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from app.extensions import db

TOKEN_PREFIX = "hat_"  # noqa: S105 - a public prefix, not a secret
_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a staff user or an enrolled inspector device."""

    roles: frozenset[str]
    user_id: int | None = None
    device_id: int | None = None
    label: str = ""
    token_id: int | None = None
    session_id: int | None = None  # a staff console login


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at_iso: str
    token_id: int


def hash_token(token: str) -> str:
    """SHA-256 of a bearer token (tokens have 256 bits of entropy, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _check_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLE_VALUES))
    if unknown or not roles:
        raise ValidationFailed(
            "roles must be a non-empty list of " + ", ".join(ROLE_VALUES),
            errors={"roles": [f"unknown: {', '.join(unknown)}" if unknown else "empty"]},
        )
    return sorted(set(roles))


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise ValidationFailed(
            "password too short", errors={"password": ["at least 10 characters"]}
        )


def create_user(*, email: str, password: str, roles: list[str], name: str = "") -> User:
    """Create a staff user with an argon2 password hash."""
    _check_password(password)
    user = User(email=email.strip().lower(), name=name, password_hash=_hasher.hash(password))
    user.role_rows = [UserRole(role=role) for role in _check_roles(roles)]
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a user with email {email!r} exists", reason="email_taken") from exc
    audit.record(
        action="user.create",
        object_type="user",
        object_id=user.id,
        changes={"email": user.email, "roles": user.roles},
    )
    return user


def update_user(
    *,
    user_id: int,
    roles: list[str] | None = None,
    active: bool | None = None,
    name: str | None = None,
    password: str | None = None,
) -> User:
    """Change a user's roles, name, password or active flag; deactivating revokes tokens."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    changes: dict[str, object] = {}
    if roles is not None:
        new_roles = _check_roles(roles)
        if new_roles != user.roles:
            changes["roles"] = [user.roles, new_roles]
            user.role_rows = [UserRole(role=role) for role in new_roles]
    if name is not None and name != user.name:
        changes["name"] = [user.name, name]
        user.name = name
    if password is not None:
        _check_password(password)
        user.password_hash = _hasher.hash(password)
        changes["password"] = "changed"  # noqa: S105 - an audit note, not a password
        _revoke_owner_tokens(user_id=user.id)
        end_staff_sessions(user_id=user.id)
    if active is not None and active != user.active:
        changes["active"] = [user.active, active]
        user.active = active
        if not active:
            _revoke_owner_tokens(user_id=user.id)
            end_staff_sessions(user_id=user.id)
    db.session.flush()
    audit.record(action="user.update", object_type="user", object_id=user.id, changes=changes)
    return user


def list_users() -> list[User]:
    """Every staff user, by email."""
    return list(db.session.scalars(select(User).order_by(User.email)))


def _issue_token(*, user_id: int | None, device_id: int | None, ttl: timedelta) -> IssuedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=hash_token(token),
        prefix=token[:12],
        user_id=user_id,
        device_id=device_id,
        expires_at=utcnow() + ttl,
    )
    db.session.add(row)
    db.session.flush()
    return IssuedToken(token=token, expires_at_iso=row.expires_at.isoformat(), token_id=row.id)


def check_password(*, email: str, password: str) -> User:
    """The active user with this email and password; one answer for every wrong guess, in the
    same time whether or not the email exists."""
    user: User | None = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong email or password", reason="bad_credentials") from None
    if user is None or not user.active:
        raise Unauthorized("wrong email or password", reason="bad_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def login(*, email: str, password: str, ttl_hours: int) -> IssuedToken:
    """Exchange email and password for a new bearer token."""
    user = check_password(email=email, password=password)
    issued = _issue_token(user_id=user.id, device_id=None, ttl=timedelta(hours=ttl_hours))
    audit.record(
        action="token.create",
        object_type="token",
        object_id=issued.token_id,
        changes={"user": user.email},
    )
    return issued


def resolve_token(*, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None if unknown, expired or revoked."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    if row.user is not None:
        if not row.user.active:
            return None
        return Principal(
            roles=frozenset(row.user.roles),
            user_id=row.user.id,
            label=row.user.email,
            token_id=row.id,
        )
    if row.device is not None and row.device.active:
        return Principal(
            roles=frozenset({Role.INSPECTOR.value}),
            device_id=row.device.id,
            label=f"device:{row.device.name}",
            token_id=row.id,
        )
    return None


def revoke_token(*, token_id: int) -> None:
    """Revoke one token (log out)."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("no such token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
        audit.record(action="token.revoke", object_type="token", object_id=row.id)


def end_staff_sessions(*, user_id: int) -> int:
    """End every console login of a user; how many were live."""
    result = db.session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def revoke_user_tokens(*, user_id: int) -> None:
    """Revoke every bearer token of a staff user."""
    _revoke_owner_tokens(user_id=user_id)


def _revoke_owner_tokens(*, user_id: int | None = None, device_id: int | None = None) -> None:
    owner = ApiToken.user_id == user_id if user_id else ApiToken.device_id == device_id
    db.session.execute(
        update(ApiToken).where(owner, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )


def enroll_device(
    *, name: str, enrolled_by_id: int | None, ttl_days: int
) -> tuple[InspectorDevice, IssuedToken]:
    """Enroll a scanner device and give it its own token (shown once)."""
    device = InspectorDevice(name=name, enrolled_by_id=enrolled_by_id)
    db.session.add(device)
    db.session.flush()
    issued = _issue_token(user_id=None, device_id=device.id, ttl=timedelta(days=ttl_days))
    audit.record(
        action="device.enroll",
        object_type="device",
        object_id=device.id,
        changes={"name": name},
    )
    return device, issued


def list_devices() -> list[InspectorDevice]:
    """Every enrolled device, newest first."""
    return list(db.session.scalars(select(InspectorDevice).order_by(InspectorDevice.id.desc())))


def revoke_device(*, device_id: int) -> InspectorDevice:
    """Revoke a device and every token it holds; its scans are refused from now on."""
    device = db.session.get(InspectorDevice, device_id)
    if device is None:
        raise NotFound(f"no device {device_id}")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        _revoke_owner_tokens(device_id=device.id)
        db.session.flush()
        audit.record(action="device.revoke", object_type="device", object_id=device.id)
    return device
