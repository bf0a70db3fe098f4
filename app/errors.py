"""One error shape for every error: domain errors, HTTP errors, validation and crashes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, Response, current_app, has_request_context, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises; the handler turns it into the error shape."""

    status: int = 400
    reason: str = "bad_request"
    default_message: str = "The request cannot be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if reason:
            self.reason = reason
        self.errors = errors or {}
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(DomainError):
    status, reason = 400, "bad_request"


class Unauthorized(DomainError):
    status, reason = 401, "unauthorized"
    default_message = "A valid bearer token is required."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="hoian"'})
        super().__init__(message, **kwargs)


class Forbidden(DomainError):
    status, reason = 403, "forbidden"
    default_message = "Your role does not allow this."


class NotFound(DomainError):
    status, reason = 404, "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    status, reason = 409, "conflict"


class PreconditionFailed(DomainError):
    status, reason = 412, "precondition_failed"
    default_message = "The resource changed since you read it; fetch it again."


class PreconditionRequired(DomainError):
    status, reason = 428, "precondition_required"
    default_message = "Send If-Match with the ETag you read, so edits never overwrite each other."


class ValidationFailed(DomainError):
    status, reason = 422, "invalid"
    default_message = "The input is not valid."


class ServiceUnavailable(DomainError):
    status, reason = 503, "unavailable"


_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    428: "precondition_required",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


def error_response(
    status: int,
    message: str,
    *,
    reason: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build the JSON error response every client can rely on (an HTML page on HTML routes)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if wants_html_errors():
        return html_error_response(status, message, reason=reason, headers=headers)
    body: dict[str, Any] = {
        "code": status,
        "status": phrase,
        "message": message,
        "reason": reason or _REASONS.get(status, "error"),
        "errors": errors or {},
    }
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _handle_domain_error(exc: DomainError) -> Response:
    return error_response(
        exc.status, exc.message, reason=exc.reason, errors=exc.errors, headers=exc.headers
    )


def _handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = _by_field(data.get("messages") or {})
    headers = dict(data.get("headers") or {})
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    message = data.get("message") or exc.description or HTTPStatus(status).phrase
    if status == 422 and not data.get("message"):
        message = "The input is not valid; see errors."
    return error_response(status, message, errors=errors, headers=headers)


_LOCATIONS = frozenset({"json", "query", "form", "headers", "cookies", "files", "view_args"})


def _by_field(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests messages under the request location ({"json": {"email": [...]}}); every
    other error names fields at the top, so these do too ({"email": [...]})."""
    if not messages or not set(messages) <= _LOCATIONS:
        return messages
    fields: dict[str, Any] = {}
    for location in messages.values():
        fields.update(location if isinstance(location, dict) else {"_schema": location})
    return fields


def _handle_validation_error(exc: ValidationError) -> Response:
    """A schema loaded outside flask-smorest's arguments: the same 422 as theirs."""
    errors = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return error_response(422, "The input is not valid; see errors.", errors=errors)


#: Long enough for a pool to reconnect or a lock holder to finish.
DATABASE_RETRY_AFTER_S = 1


def _handle_database_error(exc: DBAPIError) -> Response:
    """A lost connection, or a database too busy to answer (a lock or statement timeout, a
    locked SQLite file): 503 with Retry-After, which clients and senders of webhooks retry."""
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_S)}
    if exc.connection_invalidated:
        log.warning("database connection lost: %s", exc.orig)
        return error_response(
            503,
            "The database connection was lost; try again in a moment.",
            reason="database_unavailable",
            headers=headers,
        )
    if isinstance(exc, OperationalError):
        log.error("database unavailable: %s", exc.orig, exc_info=exc)
        return error_response(
            503,
            "The database is busy; try again in a moment.",
            reason="database_busy",
            headers=headers,
        )
    return _handle_unexpected(exc)


def _handle_unexpected(exc: Exception) -> Response:
    log.error("unhandled error: %s", exc, exc_info=exc)
    return error_response(500, "An unexpected error happened; it has been logged.")


def register_error_handlers(app: Flask) -> None:
    """Route every error through the one shape (after flask-smorest registered its own)."""
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(ValidationError, _handle_validation_error)
    app.register_error_handler(DBAPIError, _handle_database_error)
    app.register_error_handler(Exception, _handle_unexpected)


# --- HTML routes get HTML error pages ------------------------------------------------------
# A person who followed a link (the tourist page, the pay page, a ticket) must never see the
# JSON shape: blueprints marked with `html_errors` answer every error, crashes included, with a
# page in the visitor's language, drawn by the renderer the HTML front-end registers.

#: (status, message, reason) -> the page's HTML.
HtmlErrorRenderer = Callable[[int, str, str], str]
_HTML_RENDERER = "hoian_html_error_renderer"


def html_errors(blueprint: Blueprint) -> Blueprint:
    """Mark a blueprint as HTML: its errors are answered with pages, not JSON."""
    blueprint.html_errors = True  # type: ignore[attr-defined]
    return blueprint


def set_html_error_renderer(app: Flask, renderer: HtmlErrorRenderer) -> None:
    """The function that draws error pages (registered by the HTML front-end)."""
    app.extensions[_HTML_RENDERER] = renderer


def wants_html_errors() -> bool:
    """Whether this request's errors are pages: a route of a marked blueprint, or an address no
    route knows outside the API and media, unless the client asked for JSON."""
    if not has_request_context():
        return False
    if request.blueprint is not None:
        blueprint = current_app.blueprints.get(request.blueprint)
        return bool(getattr(blueprint, "html_errors", False))
    if request.url_rule is not None or request.path.startswith(("/api/", "/media/")):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], "text/html")
    return best == "text/html"


def html_error_response(
    status: int, message: str, *, reason: str | None, headers: dict[str, str] | None
) -> Response:
    """The error as an HTML page (the registered renderer's, or a plain one)."""
    renderer: HtmlErrorRenderer | None = current_app.extensions.get(_HTML_RENDERER)
    reason = reason or _REASONS.get(status, "error")
    body = None
    if renderer is not None:
        try:
            body = renderer(status, message, reason)
        except Exception:  # the error page itself failed: the plain one still answers
            log.exception("the HTML error page failed for %s", status)
    if body is None:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        body = f"<!doctype html><title>{status}</title><h1>{status} {phrase}</h1>"
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response
