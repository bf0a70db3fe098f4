"""Signing in to the console: sessions that end, CSRF on every form, roles checked on the
server, a second factor where configured, and the console's words in Vietnamese and English."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from babel.messages.pofile import read_po
from flask import Flask
from sqlalchemy import select, update

from app.auth.models import StaffSession
from tests.web.console.conftest import PASSWORD, Console, new_browser

ROOT = Path(__file__).resolve().parents[3]


def test_every_page_needs_a_login(console: Console) -> None:
    response = console.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=/console/")


def test_sign_in_reach_home_sign_out(console: Console, create_user: Callable[..., Any]) -> None:
    user = create_user("editor")
    wrong = console.login(user.email, "not the password")
    assert wrong.status_code == 401 and "Sai email hoặc mật khẩu" in wrong.text
    assert console.login(user.email).headers["Location"] == "/console/"
    home = console.get("/console/")
    assert home.status_code == 200
    assert '<html lang="vi">' in home.text and "Trang chủ" in home.text
    assert home.headers["Cache-Control"] == "no-store"
    cookie = home.request.headers.get("Cookie", "")
    assert "hoian_console=" in cookie
    assert console.post("/console/logout").status_code == 302
    assert console.get("/console/").status_code == 302


def test_the_session_cookie_is_httponly_and_lax(console: Console, create_user: Any) -> None:
    user = create_user("editor")
    response = console.login(user.email)
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_a_form_without_its_csrf_token_is_refused(
    console: Console, create_user: Callable[..., Any]
) -> None:
    user = create_user("editor")
    console.get("/console/login")
    refused = console.client.post(
        "/console/login", data={"email": user.email, "password": PASSWORD}
    )
    assert refused.status_code == 400 and "Biểu mẫu này đã hết hạn" in refused.text
    console.login(user.email)
    forged = console.client.post("/console/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert console.get("/console/").status_code == 200  # still signed in


def test_idle_sessions_end(app: Flask, db: Any, signed_in: Callable[..., Console]) -> None:
    browser = signed_in("editor")
    assert browser.get("/console/").status_code == 200
    idle = timedelta(minutes=app.config["CONSOLE_IDLE_MINUTES"] + 1)
    row = db.session.scalar(select(StaffSession).order_by(StaffSession.id.desc()))
    db.session.execute(
        update(StaffSession)
        .where(StaffSession.id == row.id)
        .values(last_seen_at=row.last_seen_at - idle)
    )
    assert browser.get("/console/").status_code == 302


def test_sign_out_everywhere_ends_every_session_and_token(
    app: Flask, db: Any, client: Any, signed_in: Callable[..., Console]
) -> None:
    from app.auth import services

    first = signed_in("editor")
    user = first.user  # type: ignore[attr-defined]
    token = services.login(email=user.email, password=PASSWORD, ttl_hours=1).token
    second = new_browser(app)
    assert second.login(user.email).status_code == 302
    assert second.get("/console/").status_code == 200
    assert first.post("/console/logout/everywhere").status_code == 302
    assert second.get("/console/").status_code == 302
    api = app.test_client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


def test_language_switch_is_kept_for_the_next_login(
    app: Flask, signed_in: Callable[..., Console]
) -> None:
    browser = signed_in("editor")
    browser.get("/console/")
    assert browser.post("/console/language", {"lang": "en", "next": "/console/"}).status_code == 302
    page = browser.get("/console/")
    assert '<html lang="en">' in page.text and "Last changes" in page.text
    browser.post("/console/logout")
    again = new_browser(app)
    again.login(browser.user.email)  # type: ignore[attr-defined]
    assert '<html lang="en">' in again.get("/console/").text


def test_an_open_redirect_after_login_is_refused(
    console: Console, create_user: Callable[..., Any]
) -> None:
    user = create_user("editor")
    console.get("/console/login")
    response = console.post(
        "/console/login", {"email": user.email, "password": PASSWORD, "next": "//evil.example/"}
    )
    assert response.headers["Location"] == "/console/"


def test_a_role_that_needs_a_second_factor_enrols_and_then_uses_it(
    app: Flask, create_user: Callable[..., Any]
) -> None:
    app.config["CONSOLE_TOTP_ROLES"] = ["admin", "finance"]
    try:
        user = create_user("finance")
        browser = new_browser(app)
        response = browser.login(user.email)
        assert response.headers["Location"].startswith("/console/login/code")
        assert browser.get("/console/").status_code == 302  # not in before the code
        page = browser.get("/console/login/code")
        assert "<svg" in page.text
        secret = page.text.split("<code>", 1)[1].split("</code>", 1)[0]
        wrong = browser.post("/console/login/code", {"code": "000000"})
        assert wrong.status_code == 401
        ok = browser.post("/console/login/code", {"code": pyotp.TOTP(secret).now()})
        assert ok.status_code == 302
        assert browser.get("/console/").status_code == 200
        browser.post("/console/logout")
        assert browser.login(user.email).headers["Location"].startswith("/console/login/code")
        assert "<svg" not in browser.get("/console/login/code").text  # enrolled once
    finally:
        app.config["CONSOLE_TOTP_ROLES"] = []


def test_admins_see_the_service_health(signed_in: Callable[..., Console]) -> None:
    admin = signed_in("admin").get("/console/")
    assert "Tình trạng hệ thống" in admin.text
    editor = signed_in("editor").get("/console/")
    assert "Tình trạng hệ thống" not in editor.text and "Thuyết minh chờ duyệt" in editor.text


@pytest.mark.parametrize("frontend", ["web/console", "web/scan"])
def test_every_word_of_the_console_has_its_vietnamese_translation(frontend: str) -> None:
    from scripts.messages import catalogues, words_in

    folder = ROOT / frontend
    translated: set[str] = set()
    for path in catalogues(folder, "vi"):
        with path.open("rb") as po:
            translated |= {
                (m.id if isinstance(m.id, str) else m.id[0])
                for m in read_po(po)
                if m.id
                and not m.fuzzy
                and (m.string if isinstance(m.string, str) else all(m.string))
            }
    assert sorted(set(words_in(folder)) - translated) == []


CONSOLE_ROLES = ("admin", "editor", "inspector", "finance", "manager")


def _console_routes(app: Flask) -> list[tuple[str, str, Any]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console/") or rule.endpoint == "console.static":
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "x")
            url = url.replace(f"<string(maxlength=80):{arg}>", "japanese-covered-bridge")
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods & {"GET", "POST"}):
            routes.append((method, url, view))
    return routes


def test_every_console_page_and_form_checks_the_role_on_the_server(
    app: Flask, signed_in: Callable[..., Console]
) -> None:
    """Anonymous visitors are sent to the login; each role opens only its pages and is refused
    (403) every other page and every other form post."""
    browsers = {role: signed_in(role) for role in CONSOLE_ROLES}
    anonymous = new_browser(app)
    anonymous.get("/console/login")
    checked = 0
    for method, url, view in _console_routes(app):
        if getattr(view, "public_write", False) or url.startswith("/console/login"):
            continue
        needed = getattr(view, "console_roles", None)
        assert needed is not None, f"{method} {url} is neither a staff page nor public"
        send = anonymous.get if method == "GET" else anonymous.post
        assert send(url).status_code == 302, (method, url)
        for role, browser in browsers.items():
            granted = not needed or role == "admin" or role in needed
            if method == "POST" and granted:
                continue  # a real form post would act; what matters here is the refusal
            response = browser.get(url) if method == "GET" else browser.post(url)
            assert (response.status_code == 403) == (not granted), (method, url, role)
            checked += 1
    assert checked >= 4


def test_an_admin_creates_a_user_who_signs_in_and_is_then_deactivated(
    app: Flask, signed_in: Callable[..., Console]
) -> None:
    admin = signed_in("admin")
    admin.get("/console/users")
    created = admin.post(
        "/console/users", {"email": "Thu@HoiAn.test", "name": "Thu", "roles": ["editor"]}
    )
    assert created.status_code == 201
    password = created.text.split('<code class="secret">', 1)[1].split("</code>", 1)[0]
    thu = new_browser(app)
    assert thu.login("thu@hoian.test", password).status_code == 302
    assert thu.get("/console/").status_code == 200
    assert thu.get("/console/users").status_code == 403
    twice = admin.post("/console/users", {"email": "thu@hoian.test", "roles": ["editor"]})
    assert twice.status_code == 409 and "Đã có người dùng với email này" in twice.text
    no_role = admin.post("/console/users", {"email": "x@hoian.test"})
    assert no_role.status_code == 422
    from app.auth.models import User
    from app.extensions import db

    thu_id = db.session.scalar(select(User.id).where(User.email == "thu@hoian.test"))
    admin.post(f"/console/users/{thu_id}/active", {"active": "0"})
    assert thu.get("/console/").status_code == 302  # signed out at once
    assert thu.login("thu@hoian.test", password).status_code == 401


def test_the_audit_log_shows_peoples_changes_with_before_and_after(
    signed_in: Callable[..., Console], client: Any, auth: Any
) -> None:
    etag = client.get("/api/v1/sites/japanese-covered-bridge").headers["ETag"]
    client.patch(
        "/api/v1/sites/japanese-covered-bridge",
        json={"texts": {"en": {"summary": "A bridge, audited."}}},
        headers={**auth("editor"), "If-Match": etag},
    )
    admin = signed_in("admin")
    page = admin.get("/console/audit?action=site.update")
    assert page.status_code == 200 and "A bridge, audited." in page.text and "<del>" in page.text
    reversed_range = admin.get("/console/audit?from=2026-12-02&to=2026-11-01")
    assert "Ngày kết thúc trước ngày bắt đầu" in reversed_range.text
    bad = admin.get("/console/audit?from=yesterday")
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.text
