"""Hostile input refused at the edge, before any view or the database sees it.

One `before_request` check covers every request: NUL characters in the path, the query, form
fields and JSON bodies (PostgreSQL's text types cannot hold them, so psycopg would fail deep
inside a service), JSON bodies over a size limit or nested deeper than any document of ours
(Python's parser recurses, and 100,000 brackets exhaust the stack). Integer URL segments are
bounded by the `int` converter, so an id beyond the database's integer column is a 404.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app, request
from werkzeug.routing import IntegerConverter, ValidationError

from app.errors import BadRequest, DomainError, ValidationFailed
from app.schemas import INT32_MAX

#: Deeper than any request body of ours (a site's texts are three levels down).
MAX_JSON_DEPTH = 32
_FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
#: `\u0000` as a JSON escape: an odd run of backslashes before `u0000`.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
#: Strings (whose brackets do not count) and brackets, for measuring depth without parsing.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_OPENERS = frozenset({b"[", b"{"})


class PayloadTooLarge(DomainError):
    status, reason = 413, "too_large"


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in routes: a non-negative integer that fits the database's integer columns
    (PostgreSQL's `integer`); anything larger cannot name a row, so the route does not match."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if len(value) > len(str(self.max)):  # also spares int() a 10,000-digit string
            raise ValidationError()
        return super().to_python(value)


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects deeper than `limit`, found without parsing."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _JSON_TOKENS.finditer(body):
        token = match.group()
        if token in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif len(token) == 1:
            depth -= 1
    return False


def _nul(where: str, name: str) -> ValidationFailed:
    shown = name.replace("\x00", "\\0")[:60]
    return ValidationFailed(
        f"NUL characters are not allowed ({where} {shown!r})",
        reason="nul_character",
        errors={where: {shown: ["must not contain NUL characters"]}},
    )


def _check_body() -> None:
    if request.mimetype in _FORMS:
        for name, value in request.form.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise _nul("form", name)
        for name, upload in request.files.items(multi=True):
            if "\x00" in name or "\x00" in (upload.filename or ""):
                raise _nul("files", name)
        return
    limit = int(current_app.config["MAX_JSON_BYTES"])
    if (request.content_length or 0) > limit:
        raise PayloadTooLarge(f"the body is over {limit // 1024} KB")
    body = request.get_data(cache=True)
    if len(body) > limit:
        raise PayloadTooLarge(f"the body is over {limit // 1024} KB")
    if b"\x00" in body or _JSON_NUL.search(body):
        raise _nul("json", "body")
    if json_too_deep(body):
        raise BadRequest(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels", reason="too_deep")


def refuse_hostile_input() -> None:
    """The `before_request` check: NUL anywhere, JSON too large or too deep."""
    if "\x00" in request.path:
        raise _nul("path", request.path)
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise _nul("query", name)
    if request.content_length or request.headers.get("Transfer-Encoding"):
        _check_body()


def install_converters(app: Flask) -> None:
    """Bound `<int:...>` before any blueprint adds a route with it."""
    app.url_map.converters["int"] = DatabaseIdConverter


def init_app(app: Flask) -> None:
    app.before_request(refuse_hostile_input)
