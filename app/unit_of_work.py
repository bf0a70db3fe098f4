"""The request shell: one commit per request, where the error handlers see it fail, and one
retry for a request whose database connection was found dead before it wrote anything."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError

from app.db import begin_write, lost_connection_before_any_write
from app.errors import error_response
from app.extensions import db

log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class HoianFlask(Flask):
    """Flask, whose view dispatch also commits the request's work (services only flush).

    Committing here rather than in an `after_request` hook puts a failed COMMIT (a lost
    connection, a lock timeout) in front of the error handlers like any other exception, so
    the client gets the JSON error shape, never Flask's HTML 500.
    """

    def dispatch_request(self) -> ResponseReturnValue:
        try:
            return self._view_then_commit()
        except Exception as exc:
            # SQLAlchemy's "reconnect on disconnect": the dead connection (and every pooled one
            # older than it) is invalidated, so the second run gets a fresh connection. A request
            # that had written is not run again: 503 with Retry-After (app.errors).
            if not lost_connection_before_any_write(exc):
                raise
            log.warning("database connection lost before any write; running the request again")
            db.session.rollback()
        if request.method in WRITE_METHODS:
            begin_write()
        return self._view_then_commit()

    def _view_then_commit(self) -> Response:
        response = self.make_response(super().dispatch_request())
        if request.method in WRITE_METHODS and response.status_code < 400:
            db.session.commit()
        return response


def init_app(app: Flask) -> None:
    """The hooks of the shell around a view."""

    @app.teardown_appcontext
    def _end_the_session(exc: BaseException | None) -> None:
        # Runs before Flask-SQLAlchemy's own teardown (registered earlier, called later). A
        # read's transaction is still open here; when its connection died after the answer
        # was made, the ROLLBACK fails, and that must not turn an answered request into
        # gunicorn's HTML 500. SQLAlchemy has invalidated the connection (the pool drops it);
        # the session is discarded.
        try:
            db.session.remove()
        except DBAPIError as error:
            log.warning("database connection lost after the answer: %s", error.orig)
            db.session.registry.clear()

    @app.after_request
    def _refused_writes_keep_nothing(response: Response) -> Response:
        # Whether the view answered an error or raised one (then handled), nothing it flushed
        # is kept, even when the session outlives the request (a CLI's or a test's context).
        if request.method in WRITE_METHODS and response.status_code >= 400:
            db.session.rollback()
        return response

    @app.before_request
    def _writes_take_the_write_lock() -> None:
        if request.method in WRITE_METHODS:
            begin_write()

    @app.before_request
    def _json_bodies_only() -> Response | None:
        """The JSON API takes JSON bodies (forms are for the HTML pages, uploads say so)."""
        view = app.view_functions.get(request.endpoint or "")
        if (
            request.routing_exception is None  # an unknown address or method: its 404 or 405
            and request.path.startswith("/api/")
            and request.method in WRITE_METHODS
            and request.content_length
            and not request.is_json
            and not getattr(view, "accepts_any_body", False)
        ):
            return error_response(
                415, "send the body as application/json", reason="unsupported_media_type"
            )
        return None
