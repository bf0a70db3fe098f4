"""Fixtures: app (migrated, seeded), db (each test rolled back), client, factories."""

from __future__ import annotations

import contextvars
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ["APP_ENV"] = "testing"

from app import create_app
from app.extensions import db as _db
from content.seeding import load_seed

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def service_or_skip(name: str, url: str, default_port: int) -> str:
    """The service URL; skip the test when it is down, or fail when REQUIRE_SERVICES=1."""
    if not _reachable(url, default_port):
        message = f"{name} not reachable at {url}"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return url


def make_app(database_url: str, **overrides: Any) -> Flask:
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "CATALOGUE_VERSION_TTL_S": 0.0,
        "LOG_JSON": False,
        # Mail written as .eml files lands in a folder of its own, not in the clone's instance/.
        "MAIL_DIR": tempfile.mkdtemp(prefix="hoian-mail-"),
        **overrides,
    }
    return create_app(config)


@contextmanager
def scratch_postgres_app(prefix: str, **overrides: Any) -> Iterator[Flask]:
    """An app on a new, empty PostgreSQL database that is dropped afterwards."""
    url = service_or_skip("PostgreSQL", POSTGRES_URL, 5432)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    database = make_url(url).set(drivername="postgresql+psycopg", database=name)
    app = make_app(database.render_as_string(hide_password=False), **overrides)
    try:
        yield app
    finally:
        with app.app_context():
            _db.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate_and_seed(app: Flask) -> None:
    with app.app_context():
        upgrade()
        load_seed(languages=app.config["LANGUAGES"], source_lang=app.config["SOURCE_LANGUAGE"])
        _db.session.commit()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    path = tmp_path_factory.mktemp("db") / "test.db"
    application = make_app(f"sqlite:///{path}")
    migrate_and_seed(application)
    return application


class _ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session picks the engine itself; in tests, use the test connection."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.bind


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """A session whose work is rolled back after the test (requests commit to a savepoint)."""
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        _db.session = _db._make_scoped_session(
            {
                "class_": _ConnectionBoundSession,
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
            }
        )
        app.extensions["hoian_response_cache"].clear()
        app.extensions["hoian_catalogue_version"].expire()
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()
            app.extensions["hoian_response_cache"].clear()
            app.extensions["hoian_catalogue_version"].expire()


class IsolatedClient(FlaskClient):
    """A test client whose every request gets its own app context (its own `g` and session),
    as it would in the server, even while the test itself holds an app context."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            _cv_app.set(None)  # type: ignore[arg-type]
            return super(IsolatedClient, self).open(*args, **kwargs)

        return contextvars.copy_context().run(run)


@pytest.fixture
def client(app: Flask, db: Any) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def create_user(db: Any) -> Callable[..., Any]:
    from app.auth import services

    def factory(
        *roles: str, email: str | None = None, password: str = "correct horse battery"
    ) -> Any:
        return services.create_user(
            email=email or f"{'-'.join(roles) or 'user'}-{secrets.token_hex(4)}@hoian.test",
            password=password,
            roles=list(roles),
        )

    return factory


@pytest.fixture
def token_for(db: Any, create_user: Callable[..., Any]) -> Callable[..., str]:
    """A bearer token for a new user with these roles ('device' for an inspector device)."""
    from app.auth import services

    def factory(*roles: str) -> str:
        if roles == ("device",):
            _, issued = services.enroll_device(name="gate-1", enrolled_by_id=None, ttl_days=1)
            return issued.token
        user = create_user(*roles)
        return services.login(email=user.email, password="correct horse battery", ttl_hours=1).token

    return factory


@pytest.fixture
def auth(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def factory(*roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(*roles)}"}

    return factory


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@contextmanager
def gunicorn_serving(
    listener: socket.socket, *, env: dict[str, str], workdir: Path, workers: int = 2
) -> Iterator[None]:
    """Run the real app under gunicorn on a socket bound by the test.

    Requests queue in the listener's backlog until the workers accept, so a test never polls
    for the server to come up. On exit gunicorn stops, and its log must hold no traceback.
    """
    bin_dir = Path(sys.executable).parent
    log_path = workdir / "gunicorn.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"fd://{listener.fileno()}",
            "--workers",
            str(workers),
            # A worker thread still busy at the end (a browser's last request waiting on the
            # database) is killed after this, not after the production 30 s that the wait
            # below would outlast.
            "--graceful-timeout",
            "10",
            "wsgi:app",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        pass_fds=[listener.fileno()],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        process.wait(timeout=30)
        listener.close()
        log.close()
    assert b"Traceback" not in log_path.read_bytes()
