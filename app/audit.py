"""The audit log: one row for every write, with who did it and what changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import ForeignKey, String, insert
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.extensions import db


class AuditLog(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor_device_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspector_devices.id", ondelete="SET NULL")
    )
    actor_label: Mapped[str] = mapped_column(String(254), default="system")
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)

    def __repr__(self) -> str:
        return f"<AuditLog {self.id} {self.action} {self.object_type}:{self.object_id}>"


def row_values(
    *, action: str, object_type: str, object_id: object, changes: dict[str, Any] | None
) -> dict[str, Any]:
    """An audit row's columns, attributed to the authenticated actor (or 'system')."""
    principal = g.get("principal") if has_request_context() else None
    return {
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "changes": changes or {},
        "actor_user_id": principal.user_id if principal else None,
        "actor_device_id": principal.device_id if principal else None,
        "actor_label": principal.label if principal else "system",
        "request_id": g.get("request_id") if has_request_context() else None,
    }


def record(
    *, action: str, object_type: str, object_id: object, changes: dict[str, Any] | None = None
) -> AuditLog:
    """Add an audit row for a write to the session (written with the rest of the unit)."""
    row = AuditLog(
        **row_values(action=action, object_type=object_type, object_id=object_id, changes=changes)
    )
    db.session.add(row)
    return row


_INSERT = insert(AuditLog.__table__)


def record_now(
    *, action: str, object_type: str, object_id: object, changes: dict[str, Any] | None = None
) -> None:
    """Write an audit row at once with one INSERT, in the current transaction: for hot paths
    (a gate scan) that use Core statements and should not pay for the ORM's flush."""
    insert_row(
        row_values(action=action, object_type=object_type, object_id=object_id, changes=changes)
    )


def insert_row(values: dict[str, Any]) -> None:
    """INSERT one audit row made by `row_values`, now, in the current transaction."""
    db.session.execute(_INSERT, values)


#: What the machine does (before the pipeline kept its own history): never shown as people's.
_MACHINE_OBJECTS = ("pipeline_task",)
_MACHINE_ACTIONS = ("pipeline_job.start", "pipeline_job.finish", "pipeline_job.fail")


def people_entries(
    *,
    limit: int = 50,
    before_id: int | None = None,
    actor_user_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditLog]:
    """People's actions, newest first, paged by cursor (`before_id`) and filtered."""
    query = (
        db.select(AuditLog)
        .where(
            AuditLog.object_type.not_in(_MACHINE_OBJECTS),
            AuditLog.action.not_in(_MACHINE_ACTIONS),
        )
        .order_by(AuditLog.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    if actor_user_id is not None:
        query = query.where(AuditLog.actor_user_id == actor_user_id)
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if action:
        query = query.where(AuditLog.action.startswith(action, autoescape=True))
    if since is not None:
        query = query.where(AuditLog.at >= since)
    if until is not None:
        query = query.where(AuditLog.at < until)
    return list(db.session.scalars(query))
