"""Caching of public reads: an in-process response cache keyed on a data version, ETags, 304.

A cached response is reused until the version of the data behind it changes, so a hit costs
no database query and no serialisation; every response carries a strong ETag and answers
`If-None-Match` with 304.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, current_app, g, request

from app.i18n import requested_language

F = TypeVar("F", bound=Callable[..., Any])
CacheKey = tuple[str, bytes, str]

PUBLIC_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"


@dataclass(frozen=True, slots=True)
class CachedResponse:
    body: bytes
    etag: str
    mimetype: str
    content_language: str | None

    def respond(self) -> Response:
        if self.etag in request.if_none_match:
            response = Response(status=304)
        else:
            response = Response(self.body, mimetype=self.mimetype)
        response.set_etag(self.etag)
        response.headers["Cache-Control"] = PUBLIC_CACHE_CONTROL
        response.headers["Vary"] = "Accept-Language"
        if self.content_language:
            response.headers["Content-Language"] = self.content_language
        return response


class ResponseCache:
    """A bounded LRU of responses, emptied whenever the data version moves."""

    def __init__(self, *, max_entries: int = 4096) -> None:
        self._entries: OrderedDict[CacheKey, CachedResponse] = OrderedDict()
        self._version: int | None = None
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: CacheKey, version: int) -> CachedResponse | None:
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
                return None
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: CacheKey, version: int, entry: CachedResponse) -> None:
        with self._lock:
            if version != self._version:
                return
            self._entries[key] = entry
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)


def make_etag(body: bytes, version_tag: int | None = None) -> str:
    """A strong ETag from the body; prefixed by the resource version when there is one."""
    digest = hashlib.blake2b(body, digest_size=10).hexdigest()
    return f"{version_tag}.{digest}" if version_tag is not None else digest


def cached_public_read(version: Callable[[], int]) -> Callable[[F], F]:
    """Serve a public GET from the response cache while `version()` is unchanged.

    The view may set `g.content_language` and `g.etag_version` (the resource's own version,
    which `If-Match` on writes is checked against).
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            cache: ResponseCache = current_app.extensions["hoian_response_cache"]
            current = version()
            key = (request.path, request.query_string, requested_language())
            entry = cache.get(key, current)
            if entry is None:
                response = current_app.make_response(view(*args, **kwargs))
                if response.status_code != 200:
                    return response
                body = response.get_data()
                entry = CachedResponse(
                    body=body,
                    etag=make_etag(body, g.get("etag_version")),
                    mimetype=response.mimetype or "application/json",
                    content_language=g.get("content_language"),
                )
                cache.put(key, current, entry)
            return entry.respond()

        return cast(F, wrapper)

    return decorator
