"""Who may see what in the console: the login behind every page, the roles each page needs
(checked on the server for every request, the menu only shows what the role may open), CSRF on
every form and script call, the console's language, and its error pages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.auth import sessions
from app.auth.services import Principal
from app.errors import DomainError
from app.extensions import csrf
from app.i18n import _

F = TypeVar("F", bound=Callable[..., Any])

#: Where the console keeps its login token inside Flask's signed session cookie.
SESSION_TOKEN = "console_token"  # noqa: S105 - the key's name, not a secret
SESSION_LANG = "console_lang"
ASSET_MAX_AGE = 365 * 24 * 3600

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@dataclass(frozen=True, slots=True)
class MenuItem:
    endpoint: str
    label: str  # an English msgid, translated when the menu is drawn
    roles: frozenset[str]


#: The console's pages with the roles that may open each (admins open all), in menu order.
MENU: list[MenuItem] = []
#: Where each page stands in the menu, whatever order the page modules are imported in.
MENU_ORDER = (
    "home", "sites", "tours", "narrations", "review", "glossary", "plaques", "reports",
    "conflicts", "orders", "feedback", "devices", "users", "models", "audit_page",
)  # fmt: skip


def menu_item(endpoint: str, label: str, *roles: str) -> None:
    """Add a page to the menu (each page module calls this for its own pages)."""
    if any(item.endpoint == f"console.{endpoint}" for item in MENU):
        return
    MENU.append(MenuItem(endpoint=f"console.{endpoint}", label=label, roles=frozenset(roles)))
    rank = {name: index for index, name in enumerate(MENU_ORDER)}
    MENU.sort(key=lambda item: rank.get(item.endpoint.removeprefix("console."), len(rank)))


def allowed(principal: Principal | None, roles: frozenset[str]) -> bool:
    """Whether the principal holds one of the roles (an empty set: any staff member)."""
    if principal is None:
        return False
    return not roles or bool(principal.roles & (roles | {"admin"}))


def staff() -> Principal | None:
    """The staff member of this console request, if logged in."""
    return cast(Principal | None, g.get("principal"))


def staff_page(*roles: str) -> Callable[[F], F]:
    """A console page for staff holding one of `roles` (any staff member when none is named):
    anonymous visitors are sent to the login, others get a 403 page."""
    needed = frozenset(roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = staff()
            if principal is None:
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if not allowed(principal, needed):
                return error_page(403, _("Your role does not allow this page."))
            return view(*args, **kwargs)

        wrapper.console_roles = needed  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorator


@bp.before_request
def _identify() -> None:
    g.ui_lang = session.get(SESSION_LANG) or _default_language()
    token = session.get(SESSION_TOKEN)
    principal = sessions.resolve_session(token) if token else None
    if token and principal is None and sessions.pending_session(token) is None:
        session.pop(SESSION_TOKEN, None)  # ended or expired (a login waiting for its code stays)
    g.principal = principal
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def _default_language() -> str:
    return str(current_app.config["CONSOLE_LANGUAGES"][0])


def job_state(state: str) -> str:
    """A pipeline job's or task's state in the console's language."""
    words = {
        "queued": _("queued"),
        "running": _("running"),
        "succeeded": _("succeeded"),
        "failed": _("failed"),
        "blocked": _("waiting for an earlier step"),
        "skipped": _("nothing to do"),
        "pending": _("waiting for a model"),
        "cancelled": _("cancelled"),
    }
    return words.get(state, state)


def console_asset(name: str) -> str:
    """A console asset's URL with its content hash, so it can be cached for a year."""
    return url_for("console.static", filename=name, v=ASSET_VERSIONS[name])


ASSET_VERSIONS = {
    path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    for path in sorted((Path(__file__).resolve().parent / "static").iterdir())
    if path.suffix in (".css", ".js")
}


@bp.context_processor
def _console_context() -> dict[str, Any]:
    principal = staff()
    return {
        "job_state": job_state,
        "console_asset": console_asset,
        "staff": principal,
        "menu": [item for item in MENU if allowed(principal, item.roles)],
        "ui_lang": g.get("ui_lang"),
        "ui_languages": current_app.config["CONSOLE_LANGUAGES"],
    }


@bp.after_request
def _private(response: Response) -> Response:
    # Staff pages hold personal and unpublished data: never stored by a shared cache.
    if not request.path.startswith("/console/static/"):
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def error_page(status: int, message: str) -> tuple[str, int]:
    """The console's error page, in the console's language."""
    return render_template("console/error.html", status=status, message=message), status


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> tuple[str, int]:
    return error_page(exc.status, exc.message)


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return error_page(
        400,
        _("This form has expired or did not come from the console. Reload the page and try again."),
    )


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    words = {
        404: _("There is no such page."),
        405: _("This page cannot be used that way."),
        413: _("The file is too large."),
    }
    # An upload page may say its own limit (a view's `too_large`).
    explain = getattr(current_app.view_functions.get(request.endpoint or ""), "too_large", None)
    if code == 413 and callable(explain):
        return error_page(code, explain())
    return error_page(code, words.get(code, _("Something went wrong.")))
