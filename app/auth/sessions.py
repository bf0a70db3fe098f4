"""Staff console logins: sessions that end after an idle time or at a fixed lifetime, can all be
ended at once ("log out everywhere"), and need a TOTP second factor where the configuration
asks it of the user's roles."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from app import audit
from app.auth.models import StaffSession, User
from app.auth.services import (
    Principal,
    check_password,
    end_staff_sessions,
    hash_token,
    revoke_user_tokens,
)
from app.db import utcnow
from app.errors import NotFound, Unauthorized, ValidationFailed
from app.extensions import db

#: How often a session's last_seen_at is written (a write on every page would cost more).
TOUCH_EVERY = timedelta(seconds=60)
TOTP_ISSUER = "Hội An heritage guide"


@dataclass(frozen=True, slots=True)
class StartedSession:
    token: str
    session: StaffSession
    needs_second_factor: bool


def second_factor_required(user: User) -> bool:
    """Whether the user's roles need a TOTP code at login (`HOIAN_CONSOLE_TOTP_ROLES`)."""
    return bool(set(current_app.config["CONSOLE_TOTP_ROLES"]) & set(user.roles))


def start_session(*, email: str, password: str, user_agent: str = "") -> StartedSession:
    """Check email and password and open a session; it still waits for the second factor
    when the user has one or must have one."""
    user = check_password(email=email, password=password)
    needs = bool(user.totp_secret) or second_factor_required(user)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = StaffSession(
        token_hash=hash_token(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=current_app.config["CONSOLE_SESSION_HOURS"]),
        second_factor_done=not needs,
        user_agent=user_agent[:200],
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        action="session.start",
        object_type="user",
        object_id=user.id,
        changes={"session": row.id, "second_factor": "pending" if needs else "not needed"},
    )
    return StartedSession(token=token, session=row, needs_second_factor=needs)


def _live(token: str) -> StaffSession | None:
    row: StaffSession | None = db.session.scalar(
        select(StaffSession).where(StaffSession.token_hash == hash_token(token))
    )
    now = utcnow()
    idle = timedelta(minutes=current_app.config["CONSOLE_IDLE_MINUTES"])
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= now
        or row.last_seen_at + idle <= now
        or not row.user.active
    ):
        return None
    return row


def pending_session(token: str) -> StaffSession | None:
    """A live session whatever its second factor (for the second-factor step itself)."""
    return _live(token)


def resolve_session(token: str) -> Principal | None:
    """The staff principal of a live, complete session; its idle clock restarts."""
    row = _live(token)
    if row is None or not row.second_factor_done:
        return None
    now = utcnow()
    if now - row.last_seen_at >= TOUCH_EVERY:
        touch = update(StaffSession).where(StaffSession.id == row.id).values(last_seen_at=now)
        bind = db.session.get_bind()
        if isinstance(bind, Engine):
            # Outside the request's own unit of work: a GET never commits.
            with bind.begin() as conn:
                conn.execute(touch)
        else:  # a session bound to one connection (a test's transaction) writes in it
            db.session.execute(touch)
    user = row.user
    return Principal(
        roles=frozenset(user.roles), user_id=user.id, label=user.email, session_id=row.id
    )


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the enrolment QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def complete_second_factor(*, token: str, code: str, new_secret: str | None = None) -> User:
    """Check a TOTP code for the session's user (enrolling `new_secret` on first use)."""
    row = _live(token)
    if row is None:
        raise Unauthorized("the login expired; sign in again", reason="session_expired")
    user = row.user
    secret = user.totp_secret or new_secret
    if not secret:
        raise ValidationFailed("set up the authenticator first", reason="totp_not_enrolled")
    if not pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), valid_window=1):
        audit.record(action="session.totp_failed", object_type="user", object_id=user.id)
        raise Unauthorized("the code is not right; try the newest one", reason="bad_totp")
    if user.totp_secret is None:
        user.totp_secret = secret
        audit.record(action="user.totp_enrol", object_type="user", object_id=user.id)
    row.second_factor_done = True
    row.last_seen_at = utcnow()
    db.session.flush()
    return user


def end_session(token: str) -> None:
    """Log out this browser."""
    row = db.session.scalar(
        select(StaffSession).where(StaffSession.token_hash == hash_token(token))
    )
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            action="session.end",
            object_type="user",
            object_id=row.user_id,
            changes={"session": row.id},
        )


def end_all_sessions(*, user_id: int) -> int:
    """Log the user out everywhere: every console session and every API token."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    ended = end_staff_sessions(user_id=user_id)
    revoke_user_tokens(user_id=user_id)
    audit.record(
        action="session.end_all", object_type="user", object_id=user_id, changes={"ended": ended}
    )
    return ended


def remember_language(*, user_id: int, lang: str) -> None:
    """The console's language the user chose, used again at their next login."""
    user = db.session.get(User, user_id)
    if user is not None and user.ui_language != lang:
        user.ui_language = lang
