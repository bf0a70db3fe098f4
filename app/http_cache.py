"""Caching of public reads: rendered responses kept per data version, ETags and 304s.

Public catalogue views are decorated with `cached_public_read`: the view renders once, the
response gets a strong ETag and is marked with the data version it was rendered from. The
`ResponseCacheMiddleware`, in front of Flask, keeps such responses and serves repeats itself,
without Flask's dispatch, a database query or serialisation, until the version moves (every
catalogue write bumps it; other processes see it within CATALOGUE_VERSION_TTL_S).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qs

from flask import Flask, Response, current_app, g, request, send_file
from sqlalchemy.exc import DBAPIError
from werkzeug.http import parse_etags

from app.i18n import chain_head, negotiate, requested_language
from app.logs import new_request_id, redact

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

F = TypeVar("F", bound=Callable[..., Any])
CacheKey = tuple[str, str, str]
_UNSEEN = object()

PUBLIC_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
VERSION_HEADER = "X-Hoian-Data-Version"  # internal: set by views, removed by the middleware
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("hoian.access")


def make_etag(body: bytes, version_tag: int | None = None) -> str:
    """A strong ETag from the body; prefixed by the resource version when there is one."""
    digest = hashlib.blake2b(body, digest_size=10).hexdigest()
    return f"{version_tag}.{digest}" if version_tag is not None else digest


def _public_headers(response: Response, etag: str, content_language: str | None) -> None:
    response.set_etag(etag)
    response.headers["Cache-Control"] = PUBLIC_CACHE_CONTROL
    response.headers["Vary"] = "Accept-Language"
    if content_language:
        response.headers["Content-Language"] = content_language


def cached_public_read(version: Callable[[], int]) -> Callable[[F], F]:
    """Render a public GET with an ETag (304 on match) and mark it for the response cache.

    The view may set `g.content_language` and `g.etag_version` (the resource's own version,
    which `If-Match` on writes is checked against).
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            requested_language()  # an unknown ?lang= is a 422 before any work
            current = version()
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code != 200:
                return response
            body = response.get_data()
            etag = make_etag(body, g.get("etag_version"))
            _public_headers(response, etag, g.get("content_language"))
            response.headers[VERSION_HEADER] = str(current)
            if etag in request.if_none_match:
                response.status_code = 304
                response.set_data(b"")
            return response

        return cast(F, wrapper)

    return decorator


@dataclass(frozen=True, slots=True)
class CachedResponse:
    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...]


class ResponseCacheMiddleware:
    """Serve repeated public reads from memory, in front of Flask (a cache hit never enters it)."""

    def __init__(
        self,
        wsgi_app: WSGIApplication,
        *,
        flask_app: Flask,
        version: Callable[[], int],
        cached_version: Callable[[], int | None],
        prefix: str = "/api/v1/",
        max_entries: int = 4096,
    ) -> None:
        self.wsgi_app = wsgi_app
        self.flask_app = flask_app
        self._version = version
        self._cached_version = cached_version
        self._prefix = prefix
        self._max = max_entries
        self._entries: OrderedDict[CacheKey, CachedResponse] = OrderedDict()
        self._entries_version: int | None = None
        self._keys: dict[tuple[str, str, str | None], CacheKey | None] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._entries_version = None

    def _current_version(self) -> int:
        known = self._cached_version()
        if known is not None:
            return known
        with self.flask_app.app_context():
            return self._version()

    def _key(self, environ: WSGIEnvironment) -> CacheKey | None:
        # The same few (path, query, Accept-Language) come again and again: their key is kept
        # so a hit neither parses the query nor negotiates the language (bounded, cleared whole).
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        accept = environ.get("HTTP_ACCEPT_LANGUAGE")
        seen = self._keys.get((path, query, accept), _UNSEEN)
        if seen is not _UNSEEN:
            return seen  # type: ignore[return-value]
        key = self._negotiated_key(path, query, accept)
        if len(self._keys) >= self._max:
            self._keys.clear()
        self._keys[(path, query, accept)] = key
        return key

    def _negotiated_key(self, path: str, query: str, accept: str | None) -> CacheKey | None:
        explicit = None
        if "lang=" in query:
            values = parse_qs(query, keep_blank_values=True).get("lang")
            explicit = values[0] if values else None
        lang = negotiate(
            explicit=explicit,
            accept_language=accept,
            languages=self.flask_app.config["LANGUAGES"],
            default=chain_head(self.flask_app.config),
        )
        return None if lang is None else (path, query, lang)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or not environ.get("PATH_INFO", "").startswith(
            self._prefix
        ):
            return self.wsgi_app(environ, start_response)
        key = self._key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        try:
            version = self._current_version()
        except DBAPIError:
            # A lost connection (now discarded by the pool): let Flask serve the request, which
            # runs it again on a fresh connection or answers in the error shape.
            return self.wsgi_app(environ, start_response)
        with self._lock:
            if version != self._entries_version:
                self._entries.clear()
                self._entries_version = version
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None:
            return self._serve(entry, environ, start_response)
        return self._render_and_keep(key, version, environ, start_response)

    def _serve(
        self, entry: CachedResponse, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID_OK.match(incoming) else new_request_id()
        headers = [*entry.headers, ("X-Request-ID", request_id)]
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and entry.etag in parse_etags(if_none_match):
            status, body = "304 Not Modified", b""
            headers = [(k, v) for k, v in headers if k not in ("Content-Type", "Content-Length")]
        else:
            status, body = "200 OK", entry.body
        start_response(status, headers)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s %.1fms (cached)",
                environ.get("REQUEST_METHOD"),
                redact(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")),
                status[:3],
                (time.perf_counter() - started) * 1000,
                extra={"request_id": request_id},
            )
        return [body]

    def _render_and_keep(
        self,
        key: CacheKey,
        version: int,
        environ: WSGIEnvironment,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response(
                status, [(k, v) for k, v in headers if k != VERSION_HEADER], exc_info
            )

        result = self.wsgi_app(environ, capture)
        headers = dict(captured.get("headers") or [])
        if not captured.get("status", "").startswith(("200", "304")) or headers.get(
            VERSION_HEADER
        ) != str(version):
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if captured["status"].startswith("200"):
            kept = tuple(
                (k, v) for k, v in captured["headers"] if k not in (VERSION_HEADER, "X-Request-ID")
            )
            entry = CachedResponse(body=body, etag=headers["ETag"].strip('"'), headers=kept)
            with self._lock:
                if self._entries_version == version:
                    self._entries[key] = entry
                    if len(self._entries) > self._max:
                        self._entries.popitem(last=False)
        return [body]


def install_response_cache(
    app: Flask, *, version: Callable[[], int], cached_version: Callable[[], int | None]
) -> ResponseCacheMiddleware:
    """Put the response cache in front of the app's WSGI pipeline."""
    middleware = ResponseCacheMiddleware(
        app.wsgi_app, flask_app=app, version=version, cached_version=cached_version
    )
    app.wsgi_app = middleware  # type: ignore[method-assign]
    app.extensions["hoian_response_cache"] = middleware
    return middleware


IMMUTABLE = "public, max-age=31536000, immutable"


def content_addressed(path: Path | None, *, etag: str, mimetype: str) -> Response:
    """A file whose URL names its content (guide audio, captions, packs): Range and If-Range,
    a strong ETag, and a year of caching. A missing file is a 404 in the one error shape."""
    from app.errors import NotFound

    if path is None or not path.is_file():
        raise NotFound("no such file")
    response = send_file(path, mimetype=mimetype, conditional=True, etag=etag, max_age=31_536_000)
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["Accept-Ranges"] = "bytes"
    return response
