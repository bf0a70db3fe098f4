"""Rate limits on chosen endpoints (login, order creation), per client address, and on failed
logins per account, per app.

Built on `limits` (the library under Flask-Limiter) with a moving window, in Redis when
REDIS_URL is set so every web process shares the count, in memory otherwise. Only decorated
views pay for it; nothing runs on other requests.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


class RateLimited(DomainError):
    status, reason = 429, "rate_limited"
    default_message = "Too many requests; try again later."


@cache
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


def init_app(app: Flask) -> None:
    uri = app.config["REDIS_URL"] or "memory://"
    try:
        storage = storage_from_string(uri)
    except ConfigurationError as exc:
        raise RuntimeError(f"rate limit storage {uri!r}: {exc}") from exc
    app.extensions["hoian_rate_limiter"] = MovingWindowRateLimiter(storage)


def _retry_after(limiter: MovingWindowRateLimiter, item: RateLimitItem, *ids: str) -> RateLimited:
    reset = limiter.get_window_stats(item, *ids).reset_time
    return RateLimited(headers={"Retry-After": str(max(1, math.ceil(reset - time.time())))})


def rate_limited(config_key: str) -> Callable[[F], F]:
    """Refuse a client address past the limit named by `config_key` (e.g. '10 per minute')."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            limiter: MovingWindowRateLimiter = current_app.extensions["hoian_rate_limiter"]
            item = _parse(str(current_app.config[config_key]))
            who = request.remote_addr or "unknown"
            try:
                allowed = limiter.hit(item, config_key, who)
            except Exception as exc:  # noqa: BLE001 - a dead limit store must not stop logins
                log.error("rate limit store unavailable, not limiting: %s", exc)
                return view(*args, **kwargs)
            if not allowed:
                raise _retry_after(limiter, item, config_key, who)
            return view(*args, **kwargs)

        wrapper.rate_limit = config_key  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorator


@contextmanager
def failures_limited(config_key: str, *, key: str, failure: type[Exception]) -> Iterator[None]:
    """Count the `failure`s of the block per `key` (an account, whatever the address), and
    refuse the block at once while the limit named by `config_key` is used up.

    Only failures count, so the owner of an account is not locked out by using it; a guesser
    spread over many addresses is held to the limit all the same.
    """
    limiter: MovingWindowRateLimiter = current_app.extensions["hoian_rate_limiter"]
    item = _parse(str(current_app.config[config_key]))
    # The key may be personal (an email address): the store sees only its digest.
    who = hashlib.sha256(key.encode()).hexdigest()[:32]
    try:
        allowed = limiter.test(item, config_key, who)
    except Exception as exc:  # noqa: BLE001 - a dead limit store must not stop logins
        log.error("rate limit store unavailable, not limiting: %s", exc)
        allowed = True
    if not allowed:
        raise _retry_after(limiter, item, config_key, who)
    try:
        yield
    except failure:
        try:
            limiter.hit(item, config_key, who)
        except Exception as exc:  # noqa: BLE001
            log.error("rate limit store unavailable, not counting: %s", exc)
        raise
