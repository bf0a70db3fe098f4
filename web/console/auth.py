"""Signing in and out of the console: email and password (the API's own check and rate limit),
then a TOTP code where the user has a second factor or their role must have one."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from flask import current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from app.auth import sessions
from app.auth.access import public_write
from app.errors import Unauthorized
from app.extensions import db
from app.i18n import _
from app.ratelimit import rate_limited
from web.console.access import SESSION_LANG, SESSION_TOKEN, bp, staff, staff_page

#: A second factor being set up: the new secret waits in the signed session until confirmed.
SESSION_NEW_TOTP = "console_new_totp"


def _safe_next(target: str | None) -> str:
    """Only a path inside the console is followed after login (no open redirect)."""
    if target and target.startswith("/console/") and not urlsplit(target).netloc:
        return target
    return url_for("console.home")


@bp.route("/login", methods=["GET"])
def login() -> Any:
    if staff() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("console/login.html", next=request.args.get("next", ""), error=None)


@bp.route("/login", methods=["POST"])
@rate_limited("LOGIN_RATE_LIMIT")
@public_write
def login_submit() -> Any:
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    try:
        started = sessions.start_session(
            email=email, password=password, user_agent=request.headers.get("User-Agent", "")
        )
    except Unauthorized:
        db.session.rollback()
        return (
            render_template(
                "console/login.html",
                next=target,
                email=email,
                error=_("Wrong email or password."),
            ),
            401,
        )
    session.clear()  # a new login never inherits an older session's state
    session[SESSION_TOKEN] = started.token
    user = started.session.user
    if user.ui_language in current_app.config["CONSOLE_LANGUAGES"]:
        session[SESSION_LANG] = user.ui_language
    if started.needs_second_factor:
        return redirect(url_for("console.second_factor", next=target))
    return redirect(_safe_next(target))


def qr_svg(data: str) -> Markup:
    """A QR code as inline SVG (the second factor's key, a scanner's pairing code)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return Markup(out.getvalue().decode())  # noqa: S704 - our own SVG, no user markup


def _second_factor_page(*, error: str | None, status: int = 200) -> Any:
    token = session.get(SESSION_TOKEN)
    row = sessions.pending_session(token) if token else None
    if row is None:
        return redirect(url_for("console.login"))
    enrol = None
    if row.user.totp_secret is None:
        secret = session.get(SESSION_NEW_TOTP) or sessions.new_totp_secret()
        session[SESSION_NEW_TOTP] = secret
        enrol = {"secret": secret, "qr": qr_svg(sessions.provisioning_uri(row.user, secret))}
    body = render_template(
        "console/second_factor.html", enrol=enrol, error=error, next=request.args.get("next", "")
    )
    return body, status


@bp.route("/login/code", methods=["GET"])
def second_factor() -> Any:
    return _second_factor_page(error=None)


@bp.route("/login/code", methods=["POST"])
@rate_limited("LOGIN_RATE_LIMIT")
@public_write
def second_factor_submit() -> Any:
    token = session.get(SESSION_TOKEN)
    if not token:
        return redirect(url_for("console.login"))
    try:
        sessions.complete_second_factor(
            token=token,
            code=request.form.get("code", ""),
            new_secret=session.get(SESSION_NEW_TOTP),
        )
    except Unauthorized as exc:
        db.session.commit()  # the failed attempt stays in the audit log
        if exc.reason == "session_expired":
            return redirect(url_for("console.login"))
        return _second_factor_page(
            error=_("That code is not right. Try the newest one."), status=401
        )
    session.pop(SESSION_NEW_TOTP, None)
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
@public_write
def logout() -> WerkzeugResponse:
    token = session.get(SESSION_TOKEN)
    if token:
        sessions.end_session(token)
    lang = session.get(SESSION_LANG)
    session.clear()
    if lang:
        session[SESSION_LANG] = lang
    return redirect(url_for("console.login"))


@bp.route("/logout/everywhere", methods=["POST"])
@staff_page()
def logout_everywhere() -> WerkzeugResponse:
    principal = staff()
    assert principal is not None and principal.user_id is not None
    sessions.end_all_sessions(user_id=principal.user_id)
    session.clear()
    return redirect(url_for("console.login"))


@bp.route("/language", methods=["POST"])
@public_write
def language() -> WerkzeugResponse:
    """Switch the console's language; a logged-in user keeps the choice on the next login."""
    lang = request.form.get("lang", "")
    if lang in current_app.config["CONSOLE_LANGUAGES"]:
        session[SESSION_LANG] = lang
        principal = staff()
        if principal is not None and principal.user_id is not None:
            sessions.remember_language(user_id=principal.user_id, lang=lang)
    return redirect(_safe_next(request.form.get("next")))
