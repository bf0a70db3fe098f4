"""Console fixtures: a browser-like client that signs in and sends the page's CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token a console page put in its forms."""
    match = _TOKEN.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


class Console:
    """A staff member's browser on the console: it reads a page, then posts its forms."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        if response.mimetype == "text/html" and 'name="csrf_token"' in response.text:
            self.token = csrf_from(response.text)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not self.token:
            self.get("/console/login")
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    def login(self, email: str, password: str = PASSWORD) -> Any:
        self.get("/console/login")
        return self.post("/console/login", {"email": email, "password": password})


def new_browser(app: Flask) -> Console:
    """A browser of its own: its cookies, and a fresh app context for every request."""
    from tests.conftest import IsolatedClient

    return Console(IsolatedClient(app, app.response_class, use_cookies=True))


@pytest.fixture
def console(app: Flask, client: FlaskClient) -> Console:
    return Console(client)


@pytest.fixture
def signed_in(
    app: Flask, client: FlaskClient, create_user: Callable[..., Any]
) -> Callable[..., Console]:
    """A console signed in as a new user with these roles."""

    def factory(*roles: str) -> Console:
        user = create_user(*roles)
        browser = new_browser(app)
        response = browser.login(user.email)
        assert response.status_code == 302, response.text
        browser.get("/console/")  # the login started a new session: its forms' token
        browser.user = user  # type: ignore[attr-defined]
        return browser

    return factory


def server_user(server: Any, *roles: str, email: str) -> str:
    """Create a staff user on a test server's database (`flask users create`); its email."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{server.workdir / 'hoian.db'}",
        "FLASK_APP": "wsgi:app",
    }
    command = [str(Path(sys.executable).parent / "flask"), "users", "create", "--email", email]
    for role in roles:
        command += ["--role", role]
    done = subprocess.run(
        [*command, "--password", PASSWORD], cwd=root, env=env, capture_output=True, check=False
    )
    assert done.returncode == 0 or b"exists" in done.stderr + done.stdout, done.stderr
    return email


def browser_login(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    """Sign in on the console's login page as a person would."""
    page.goto(f"{base}/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base}/console/**")
