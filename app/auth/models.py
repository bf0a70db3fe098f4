"""Staff users, their roles, hashed bearer tokens and inspector devices."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, in_values, utcnow
from app.extensions import db


class Role(enum.StrEnum):
    ADMIN = "admin"  # manages users, devices and everything else
    EDITOR = "editor"  # edits the catalogue, narrations and guides
    INSPECTOR = "inspector"  # redeems tickets at relic gates
    FINANCE = "finance"  # reconciles payments, refunds, cash desk
    MANAGER = "manager"  # reads reports, gate conflicts and feedback; changes nothing


ROLE_VALUES = tuple(role.value for role in Role)


class User(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    #: Base32 TOTP secret of the second factor (None until the user enrolled one).
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The staff console's language for this user (vi or en).
    ui_language: Mapped[str | None] = mapped_column(String(8), default=None)
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> list[str]:
        return sorted(row.role for row in self.role_rows)

    def has_any_role(self, roles: frozenset[str]) -> bool:
        return bool(roles.intersection(self.roles))

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.roles}>"


class UserRole(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(in_values("role", ROLE_VALUES), name="role_known"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    user: Mapped[User] = relationship(back_populates="role_rows")

    def __repr__(self) -> str:
        return f"<UserRole {self.user_id} {self.role}>"


class InspectorDevice(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """A scanner phone enrolled by an admin; it acts as an inspector with its own token."""

    __tablename__ = "inspector_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The site (gate) it scans at, like pretix's gates: scans for another site are refused.
    #: None only for devices enrolled before sites were bound, which may scan anywhere.
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="RESTRICT"), default=None
    )
    #: Since when it scans at that site: offline scans made before a move keep their own site.
    site_assigned_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<InspectorDevice {self.id} {self.name!r} site={self.site_id} active={self.active}>"


class DevicePairing(db.Model):  # type: ignore[name-defined,misc]
    """A one-time code that hands an enrolled device its token: shown by the console as a QR
    code and a short code, exchanged once by the scanner. Only its SHA-256 is stored."""

    __tablename__ = "device_pairings"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(
        ForeignKey("inspector_devices.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: When the scanner exchanged it, or when a newer code for the device replaced it.
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    device: Mapped[InspectorDevice] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<DevicePairing {self.id} device={self.device_id} used={self.used_at is not None}>"


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """A bearer token; only its SHA-256 is stored, so a database leak reveals no token."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (device_id IS NULL)", name="one_owner"),
        UniqueConstraint("token_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(12))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspector_devices.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User | None] = relationship(lazy="joined")
    device: Mapped[InspectorDevice | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        owner = f"user={self.user_id}" if self.user_id else f"device={self.device_id}"
        return f"<ApiToken {self.prefix}… {owner}>"


class StaffSession(db.Model):  # type: ignore[name-defined,misc]
    """A login to the staff console. The browser holds a random token (inside Flask's signed
    session cookie); only its SHA-256 is stored, so every session can be ended from here."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: The password was checked; the second factor too, where the user's roles need one.
    second_factor_done: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<StaffSession {self.id} user={self.user_id}>"
