"""Security headers on every response, set in this one place.

- Every HTML page gets a strict Content-Security-Policy: scripts, styles, media and requests
  only from this origin, no inline script or style (the templates load theirs from files), no
  plugins, no `<base>`, forms posting only here. A page that needs a third party (Stripe's card
  form) names it for its own response with `allow_sources`.
- Framing is refused (`frame-ancestors 'none'`) except for views marked `frameable` (the
  tourist pages and plaques), which the origins in HOIAN_FRAME_ANCESTORS may frame.
- Every response: `X-Content-Type-Options: nosniff` and a referrer policy.
- A page whose URL carries a secret (views marked `carries_secret`, and any request with a
  `token` in its query) is `Cache-Control: no-store` and sends no referrer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request

from app.logs import SECRET_PARAMS

F = TypeVar("F", bound=Callable[..., Any])
_EXTRA = "hoian_csp_extra"

#: The policy of HTML pages, directive by directive; `allow_sources` adds to a directive.
PAGE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "media-src": ("'self'",),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "frame-src": ("'none'",),
    "worker-src": ("'self'",),
    "manifest-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
}
REFERRER_POLICY = "strict-origin-when-cross-origin"


def frameable(view: F) -> F:
    """Mark a view whose answer the town may let other sites frame (HOIAN_FRAME_ANCESTORS)."""
    view.frameable = True  # type: ignore[attr-defined]
    return view


def carries_secret(view: F) -> F:
    """Mark a page whose URL or body is a credential (an order's token, a ticket's code)."""
    view.carries_secret = True  # type: ignore[attr-defined]
    return view


def allow_sources(directive: str, sources: Iterable[str]) -> None:
    """Let this response's page use these sources for one CSP directive (e.g. a payment
    provider's script and frames); other responses keep the strict policy."""
    extra: dict[str, list[str]] = g.setdefault(_EXTRA, {})
    extra.setdefault(directive, []).extend(sources)


def _frame_ancestors(view: Any) -> str:
    allowed = current_app.config["FRAME_ANCESTORS"] if getattr(view, "frameable", False) else []
    return " ".join(allowed) if allowed else "'none'"


def _page_policy(ancestors: str) -> str:
    extra: dict[str, list[str]] = g.get(_EXTRA, {})
    parts = []
    for directive, sources in PAGE_POLICY.items():
        added = extra.get(directive, [])
        if added and sources == ("'none'",):
            sources = ()
        parts.append(" ".join((directive, *sources, *added)))
    parts.append(f"frame-ancestors {ancestors}")
    return "; ".join(parts)


def _secret_in_url() -> bool:
    return any(name.lower() in SECRET_PARAMS for name in request.args)


def set_security_headers(response: Response) -> Response:
    """The `after_request` hook: the headers above, on every answer Flask gives."""
    view = current_app.view_functions.get(request.endpoint or "")
    ancestors = _frame_ancestors(view)
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = _page_policy(ancestors)
    else:
        response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    if ancestors == "'none'":
        response.headers["X-Frame-Options"] = "DENY"  # browsers that predate frame-ancestors
    response.headers["X-Content-Type-Options"] = "nosniff"
    if getattr(view, "carries_secret", False) or _secret_in_url():
        if "no-store" not in response.headers.get("Cache-Control", ""):
            response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    else:
        response.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    return response


def init_app(app: Flask) -> None:
    app.after_request(set_security_headers)
