"""Bearer-token authentication and role checks for views."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, has_app_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, InspectorDevice
from app.auth.services import Principal, hash_token, resolve_token, token_refusal
from app.db import on_commit
from app.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

#: OpenAPI security requirement for staff endpoints.
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_principal() -> Principal | None:
    """The authenticated caller of this request, resolved once from the bearer token."""
    if "principal" not in g:
        token = _bearer_token()
        tokens: DeviceTokenCache = current_app.extensions["hoian_device_tokens"]
        g.principal = tokens.resolve(token) if token else None
    return cast(Principal | None, g.principal)


def require_roles(*roles: str) -> Callable[[F], F]:
    """Let the view run only for a caller holding one of `roles` (admins always may)."""
    allowed = frozenset(roles) | {"admin"}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal is None:
                token = _bearer_token()
                # The reason tells a scanner that was revoked from one whose token expired.
                raise Unauthorized(reason=token_refusal(token=token) if token else None)
            if not allowed & principal.roles:
                raise Forbidden(f"this needs one of the roles: {', '.join(sorted(allowed))}")
            return view(*args, **kwargs)

        wrapper.required_roles = allowed  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorator


def public_write(view: F) -> F:
    """Mark a write endpoint that is open to anonymous callers on purpose (login, webhooks)."""
    view.public_write = True  # type: ignore[attr-defined]
    return view


class DeviceTokenCache:
    """Inspector devices' bearer tokens resolved to their principals, each for at most `ttl_s`,
    so a gate's scans skip the token lookup. Staff tokens and failures are never kept."""

    def __init__(
        self, *, ttl_s: float, max_size: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._max_size = max_size
        self.clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def resolve(self, token: str) -> Principal | None:
        key = hash_token(token)
        now = self.clock()
        hit = self._entries.get(key)
        if hit is not None and now < hit[0]:
            return hit[1]
        principal = resolve_token(token=token)
        with self._lock:
            if principal is None or principal.device_id is None:
                self._entries.pop(key, None)
            else:
                if len(self._entries) >= self._max_size:
                    self._entries.clear()
                self._entries[key] = (now + self._ttl, principal)
        return principal

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def init_app(app: Flask) -> None:
    app.extensions["hoian_device_tokens"] = DeviceTokenCache(
        ttl_s=app.config["DEVICE_TOKEN_CACHE_TTL_S"]
    )


@event.listens_for(Session, "after_flush")
def _note_token_changes(session: Session, flush_context: Any) -> None:
    if any(
        isinstance(row, ApiToken | InspectorDevice) for row in (*session.dirty, *session.deleted)
    ):
        on_commit(_forget_tokens, key="device_tokens", session=session)


def _forget_tokens() -> None:
    if has_app_context():
        current_app.extensions["hoian_device_tokens"].clear()
