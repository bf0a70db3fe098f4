"""Staff accounts (admin): create people with their roles, change roles and names, deactivate
and reactivate, reset a password, and sign a person out everywhere. Every change goes through
the same services (and audit) as the JSON API."""

from __future__ import annotations

import secrets
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from app.auth import services, sessions
from app.auth.models import ROLE_VALUES, User
from app.auth.schemas import UserCreateSchema, UserUpdateSchema
from app.errors import Conflict, NotFound
from app.extensions import db
from app.i18n import N_, _
from web.console.access import bp, menu_item, staff, staff_page

menu_item("users", N_("Users"), "admin")


def role_names() -> dict[str, str]:
    """Each role in the console's language, with what it may do."""
    return {
        "admin": _("Admin: users, devices, models and everything else"),
        "editor": _("Editor: catalogue, narrations, reviews and guides"),
        "inspector": _("Inspector: checks tickets at the gates"),
        "finance": _("Finance: orders, cash desk, refunds, bank statements"),
        "manager": _("Manager: reads reports and feedback"),
    }


def _generated_password() -> str:
    # Four groups of letters and digits, easy to read out over the phone.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no such user."))
    return user


def _messages(exc: ValidationError) -> dict[str, Any]:
    """A schema's refusal by field, as the form shows it."""
    messages = exc.messages
    return messages if isinstance(messages, dict) else {"_schema": messages}


def _page(*, status: int = 200, errors: dict[str, Any] | None = None, **extra: Any) -> Any:
    body = render_template(
        "console/users.html",
        users=services.list_users(),
        roles=[r for r in ROLE_VALUES if r in role_names()],
        role_names=role_names(),
        errors=errors or {},
        form=request.form if request.method == "POST" else {},
        chosen=request.form.getlist("roles") if request.method == "POST" else [],
        **extra,
    )
    return body, status


@bp.route("/users")
@staff_page("admin")
def users() -> Any:
    return _page()


@bp.route("/users", methods=["POST"])
@staff_page("admin")
def user_create() -> Any:
    password = _generated_password()
    try:
        body = UserCreateSchema().load(
            {
                "email": request.form.get("email", "").strip(),
                "name": request.form.get("name", "").strip(),
                "roles": request.form.getlist("roles"),
                "password": password,
            }
        )
        user = services.create_user(**body)
    except ValidationError as exc:
        return _page(status=422, errors=_messages(exc))
    except Conflict:
        db.session.rollback()
        return _page(status=409, errors={"email": [_("A user with this email exists.")]})
    return _page(status=201, created=user, password=password)


def _update(user_id: int, **changes: Any) -> User:
    body = UserUpdateSchema().load(changes)
    return services.update_user(user_id=user_id, **body)


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@staff_page("admin")
def user_roles(user_id: int) -> Any:
    user = _user(user_id)
    roles = request.form.getlist("roles")
    me = staff()
    if me is not None and me.user_id == user.id and "admin" not in roles:
        return _page(status=422, errors={"roles": [_("You cannot take away your own admin role.")]})
    try:
        _update(user.id, roles=roles, name=request.form.get("name", user.name).strip())
    except ValidationError as exc:
        return _page(status=422, errors=_messages(exc))
    flash(_("The roles of %(email)s were saved.", email=user.email))
    return redirect(url_for("console.users"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@staff_page("admin")
def user_active(user_id: int) -> WerkzeugResponse | Any:
    user = _user(user_id)
    active = request.form.get("active") == "1"
    me = staff()
    if me is not None and me.user_id == user.id and not active:
        return _page(status=422, errors={"active": [_("You cannot deactivate yourself.")]})
    _update(user.id, active=active)
    if active:
        flash(_("%(email)s can sign in again.", email=user.email))
    else:
        flash(_("%(email)s was deactivated and signed out everywhere.", email=user.email))
    return redirect(url_for("console.users"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@staff_page("admin")
def user_password(user_id: int) -> Any:
    user = _user(user_id)
    password = _generated_password()
    _update(user.id, password=password)
    return _page(reset=user, password=password)


@bp.route("/users/<int:user_id>/sign-out", methods=["POST"])
@staff_page("admin")
def user_sign_out(user_id: int) -> WerkzeugResponse:
    user = _user(user_id)
    sessions.end_all_sessions(user_id=user.id)
    flash(_("%(email)s was signed out everywhere.", email=user.email))
    return redirect(url_for("console.users"))
