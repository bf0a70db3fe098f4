"""The catalogue version that public caches key on, shared by every web process."""

from __future__ import annotations

import math
import threading
import time

from flask import Flask, current_app, has_app_context
from sqlalchemy import select, update

from app.db import on_commit, utcnow
from app.extensions import db
from app.http_cache import install_response_cache
from content.models import CatalogueState


class CatalogueVersion:
    """Reads the version row at most once per `ttl_s` per process; writes here expire it."""

    def __init__(self, *, ttl_s: float) -> None:
        self._ttl = ttl_s
        self._value = 0
        self._checked = -math.inf
        self._lock = threading.Lock()

    def current(self) -> int:
        now = time.monotonic()
        if now - self._checked >= self._ttl:
            value = db.session.scalar(select(CatalogueState.version).where(CatalogueState.id == 1))
            with self._lock:
                self._value, self._checked = value or 0, now
        return self._value

    def peek(self) -> int | None:
        """The known version while it is fresh, without touching the database; else None."""
        if time.monotonic() - self._checked < self._ttl:
            return self._value
        return None

    def expire(self) -> None:
        with self._lock:
            self._checked = -math.inf


def catalogue_version() -> int:
    """The current catalogue version (for cached public reads)."""
    tracker: CatalogueVersion = current_app.extensions["hoian_catalogue_version"]
    return tracker.current()


def bump_catalogue_version() -> None:
    """Mark the catalogue changed in this transaction; caches drop their entries after commit."""
    result = db.session.execute(
        update(CatalogueState)
        .where(CatalogueState.id == 1)
        .values(version=CatalogueState.version + 1, updated_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        db.session.add(CatalogueState(id=1, version=1))
        db.session.flush()
    on_commit(_expire_version, key="catalogue_version")


def init_app(app: Flask) -> None:
    tracker = CatalogueVersion(ttl_s=app.config["CATALOGUE_VERSION_TTL_S"])
    app.extensions["hoian_catalogue_version"] = tracker
    install_response_cache(app, version=tracker.current, cached_version=tracker.peek)


def _expire_version() -> None:
    if has_app_context():
        current_app.extensions["hoian_catalogue_version"].expire()
