"""Authentication and staff management: passwords, tokens, devices."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import audit
from app.auth.models import (
    ROLE_VALUES,
    ApiToken,
    DevicePairing,
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
    #: A device's site (gate) and since when: it scans there and nowhere else.
    site_id: int | None = None
    site_assigned_at: datetime | None = None


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
            site_id=row.device.site_id,
            site_assigned_at=row.device.site_assigned_at,
        )
    return None


def token_refusal(*, token: str) -> str:
    """Why a bearer token is refused, in one stable word, so that a scanner can tell "this
    device was revoked" from a token that merely expired (asked only after a refusal)."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return "unknown_token"
    if row.device is not None and not row.device.active:
        return "device_revoked"
    if row.revoked_at is not None:
        return "token_revoked"
    if row.expires_at <= utcnow():
        return "token_expired"
    return "unauthorized"


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


def create_device(*, name: str, enrolled_by_id: int | None, site_id: int | None) -> InspectorDevice:
    """Enroll a scanner device for a site, with no token yet (pairing hands it one)."""
    device = InspectorDevice(
        name=name,
        enrolled_by_id=enrolled_by_id,
        site_id=site_id,
        site_assigned_at=utcnow() if site_id is not None else None,
    )
    db.session.add(device)
    db.session.flush()
    audit.record(
        action="device.enroll",
        object_type="device",
        object_id=device.id,
        changes={"name": name, "site_id": site_id},
    )
    return device


def enroll_device(
    *, name: str, enrolled_by_id: int | None, ttl_days: int, site_id: int | None = None
) -> tuple[InspectorDevice, IssuedToken]:
    """Enroll a scanner device and give it its own token (shown once)."""
    device = create_device(name=name, enrolled_by_id=enrolled_by_id, site_id=site_id)
    issued = _issue_token(user_id=None, device_id=device.id, ttl=timedelta(days=ttl_days))
    return device, issued


def _device(device_id: int, *, for_update: bool = False) -> InspectorDevice:
    device = db.session.get(InspectorDevice, device_id, with_for_update=for_update)
    if device is None:
        raise NotFound(f"no device {device_id}")
    return device


def set_device_site(*, device_id: int, site_id: int) -> InspectorDevice:
    """Move a device to another site (gate); its scans for the old one are refused from now."""
    device = _device(device_id, for_update=True)
    if device.revoked_at is not None:
        raise Conflict(f"device {device_id} is revoked", reason="device_revoked")
    if device.site_id != site_id:
        audit.record(
            action="device.move",
            object_type="device",
            object_id=device.id,
            changes={"site_id": [device.site_id, site_id]},
        )
        device.site_id = site_id
        device.site_assigned_at = utcnow()
        db.session.flush()
    return device


# Pairing codes are typed on a phone: Crockford's base32 (no I, L, O, U), two groups of five.
_PAIRING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRING_READ = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


@dataclass(frozen=True, slots=True)
class IssuedPairing:
    code: str  # shown once, e.g. "7KQ2M-9XY3A"
    expires_at: datetime
    device: InspectorDevice


def _pairing_hash(code: str) -> str:
    """The stored form of a pairing code, from the code as typed (case, hyphens, spaces and the
    letters read as digits do not matter)."""
    return hash_token("pair:" + code.strip().upper().translate(_PAIRING_READ))


def start_pairing(*, device_id: int, created_by_id: int | None, minutes: int) -> IssuedPairing:
    """A new one-time pairing code for a device; any earlier unused code of it stops working."""
    device = _device(device_id, for_update=True)
    if device.revoked_at is not None:
        raise Conflict(f"device {device_id} is revoked", reason="device_revoked")
    now = utcnow()
    db.session.execute(
        update(DevicePairing)
        .where(DevicePairing.device_id == device.id, DevicePairing.used_at.is_(None))
        .values(used_at=now)
    )
    chars = "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(10))
    code = f"{chars[:5]}-{chars[5:]}"  # 50 bits, tried at most LOGIN_RATE_LIMIT a minute
    row = DevicePairing(
        device_id=device.id,
        code_hash=_pairing_hash(code),
        created_by_id=created_by_id,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        action="device.pairing",
        object_type="device",
        object_id=device.id,
        changes={"expires_at": row.expires_at.isoformat()},
    )
    return IssuedPairing(code=code, expires_at=row.expires_at, device=device)


def complete_pairing(*, code: str, ttl_days: int) -> tuple[InspectorDevice, IssuedToken]:
    """Exchange a pairing code, once, for the device's new token; its older tokens are revoked,
    so a phone that was replaced can no longer scan."""
    row = db.session.scalar(
        select(DevicePairing)
        .where(DevicePairing.code_hash == _pairing_hash(code))
        .with_for_update(of=DevicePairing)
    )
    now = utcnow()
    if row is None:
        raise NotFound("no such pairing code", reason="pairing_unknown")
    if row.used_at is not None:
        raise Conflict("this pairing code was used already", reason="pairing_used")
    if row.expires_at <= now:
        raise Conflict("this pairing code has expired", reason="pairing_expired")
    device = row.device
    if device.revoked_at is not None:
        raise Conflict("this device was revoked", reason="device_revoked")
    row.used_at = now
    _revoke_owner_tokens(device_id=device.id)
    issued = _issue_token(user_id=None, device_id=device.id, ttl=timedelta(days=ttl_days))
    db.session.flush()
    audit.record(
        action="device.pair",
        object_type="device",
        object_id=device.id,
        changes={"pairing": row.id, "token": issued.token_id},
    )
    return device, issued


def list_devices() -> list[InspectorDevice]:
    """Every enrolled device, newest first."""
    return list(db.session.scalars(select(InspectorDevice).order_by(InspectorDevice.id.desc())))


def revoke_device(*, device_id: int) -> InspectorDevice:
    """Revoke a device and every token it holds; its scans are refused from now on."""
    device = _device(device_id, for_update=True)
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        _revoke_owner_tokens(device_id=device.id)
        db.session.flush()
        audit.record(action="device.revoke", object_type="device", object_id=device.id)
    return device
