"""One error shape for every error: domain errors, HTTP errors, validation and crashes."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
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
    """Build the JSON error response every client can rely on."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
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
    errors = data.get("messages") or {}
    headers = dict(data.get("headers") or {})
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    message = data.get("message") or exc.description or HTTPStatus(status).phrase
    if status == 422 and not data.get("message"):
        message = "The input is not valid; see errors."
    return error_response(status, message, errors=errors, headers=headers)


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
