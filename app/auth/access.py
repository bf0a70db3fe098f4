"""Bearer-token authentication and role checks for views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from app.auth.services import Principal, resolve_token
from app.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

#: OpenAPI security requirement for staff endpoints.
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def current_principal() -> Principal | None:
    """The authenticated caller of this request, resolved once from the bearer token."""
    if "principal" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        g.principal = (
            resolve_token(token=token.strip())
            if scheme.lower() == "bearer" and token.strip()
            else None
        )
    return cast(Principal | None, g.principal)


def require_roles(*roles: str) -> Callable[[F], F]:
    """Let the view run only for a caller holding one of `roles` (admins always may)."""
    allowed = frozenset(roles) | {"admin"}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal is None:
                raise Unauthorized()
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
