"""The database layer every domain shares: the declarative base (naming convention, UTC
datetimes, JSON), SQLite's connection settings, the write lock, and work after commit."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    registry,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # Given as a registry: Flask-SQLAlchemy subclasses this base, and SQLAlchemy 2.1 only
    # lets a subclass inherit a type_annotation_map that lives on the registry.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()},
    )


def in_values(column: str, values: tuple[str, ...] | tuple[Any, ...]) -> str:
    """The SQL of a CHECK constraint that holds `column` to these values (an enum's members)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


#: The database of every domain (Flask-SQLAlchemy), bound to the app in create_app().
db = SQLAlchemy(model_class=Base)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def ping_after_idle(engine: Engine, *, idle_s: float) -> None:
    """Check a pooled connection before handing it out, but only when it sat idle longer than
    `idle_s`.

    `pool_pre_ping` pays a round trip on every checkout, one per request (8 % of a gate
    scan's time on PostgreSQL); connections go stale while they sit unused (a restarted or
    failed-over server, a firewall dropping idle sockets), which this catches the same way: a
    failed ping makes the pool discard the connection and open another. A connection that dies
    within `idle_s` (a server restarted in the middle of a burst, `pg_terminate_backend`) is
    found by the request's first statement instead: SQLAlchemy then invalidates it and every
    older pooled connection, and the request shell runs the request again on a fresh one if it
    had written nothing (`lost_connection_before_any_write`).
    """

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc
        if not alive:
            raise DisconnectionError("stale pooled connection")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL for concurrent readers, real foreign keys, and waiting instead of failing on locks."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        # Let SQLAlchemy, not the sqlite3 module, open transactions, so SAVEPOINTs work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    """Open SQLite transactions ourselves; writers take the write lock up front.

    A deferred transaction that reads and then writes fails at once with "database is locked"
    when another writer committed in between; `BEGIN IMMEDIATE` waits its turn instead.
    Request writes and jobs ask for it with `begin_write()`.
    """
    if conn.dialect.name == "sqlite":
        mode = conn.get_execution_options().get("sqlite_begin_mode", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


def begin_write() -> None:
    """Start this session's transaction as a writer (BEGIN IMMEDIATE on SQLite)."""
    if db.engine.dialect.name == "sqlite" and db.session().get_transaction() is None:
        db.session.connection(execution_options={"sqlite_begin_mode": "IMMEDIATE"})


# --- connections lost in the middle of a request ---------------------------------------------

_WROTE = "hoian_db_wrote"


def lost_connection(exc: BaseException) -> bool:
    """Whether `exc` is the database connection found dead (SQLAlchemy has invalidated it)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def lost_connection_before_any_write(exc: BaseException) -> bool:
    """Whether the request may run again on a fresh connection: its connection died, and it had
    sent no write, so the server (which rolls back a dead connection's transaction) kept nothing
    and nothing was half done."""
    return lost_connection(exc) and not g.get(_WROTE, False)


def _note_write() -> None:
    if has_request_context():
        setattr(g, _WROTE, True)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, flush_context: Any, instances: Any) -> None:
    _note_write()


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    # Bulk UPDATE/DELETE/INSERT and textual SQL (SET LOCAL, ...) count as writes.
    if not state.is_select:
        _note_write()


# --- work after commit ------------------------------------------------------------------------

_AFTER_COMMIT = "hoian_after_commit"
_TRANSACTION = "hoian_transaction"


def on_commit(
    callback: Callable[[], None], *, key: str | None = None, session: Session | None = None
) -> None:
    """Run `callback` once the current transaction has committed, and never if it rolls back
    (pretix's `transaction.on_commit`). Callbacks with the same `key` run once per commit."""
    pending = _session_info(session).setdefault(_AFTER_COMMIT, {})
    pending.setdefault(key if key is not None else object(), callback)


def transaction_info(session: Session | None = None) -> dict[str, Any]:
    """A dict that lives as long as the current transaction: emptied at commit and rollback."""
    info: dict[str, Any] = _session_info(session).setdefault(_TRANSACTION, {})
    return info


def _session_info(session: Session | None) -> dict[str, Any]:
    if session is not None:
        return session.info
    return db.session.info  # type: ignore[no-any-return]


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    session.info.pop(_TRANSACTION, None)
    callbacks = session.info.pop(_AFTER_COMMIT, None)
    for callback in (callbacks or {}).values():
        callback()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_TRANSACTION, None)
    session.info.pop(_AFTER_COMMIT, None)
