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
        self._known = False  # False until read, and again after a write here (expire)
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()

    def current(self) -> int:
        now = time.monotonic()
        if now - self._checked < self._ttl:
            return self._value
        # Once a TTL, one thread reads the row; the others keep answering with the version
        # they know meanwhile (it was already up to a TTL old), instead of every thread of
        # the worker queueing on the database at the same moment. After a write in this
        # process (expire) every reader waits for the new version: it must see its write.
        if self._known and not self._refreshing.acquire(blocking=False):
            return self._value
        if not self._known:
            self._refreshing.acquire()
        try:
            if time.monotonic() - self._checked >= self._ttl:
                value = db.session.scalar(
                    select(CatalogueState.version).where(CatalogueState.id == 1)
                )
                with self._lock:
                    self._value, self._checked, self._known = value or 0, now, True
        finally:
            self._refreshing.release()
        return self._value

    def peek(self) -> int | None:
        """The known version while it is fresh, without touching the database; else None."""
        if time.monotonic() - self._checked < self._ttl:
            return self._value
        return None

    def expire(self) -> None:
        with self._lock:
            self._checked, self._known = -math.inf, False


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
