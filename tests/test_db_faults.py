"""PostgreSQL kills the app's connections in the middle of a load (`pg_terminate_backend`, as a
failover or a restart does): a real gunicorn keeps answering. A request whose connection was
found dead before it wrote is run again on a fresh one; one that had written answers 503 with
Retry-After in the JSON shape. No 500, and every write that was answered is stored once."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, gunicorn_serving, service_or_skip

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLIENTS, REQUESTS_EACH = 6, 40
KILL_AT = (0.15, 0.35, 0.55, 0.75)  # of all requests done, a round of terminations


@dataclass
class Target:
    host: str
    port: int
    database: str
    admin_url: str
    token: str
    log: Path


def _request(
    target: Target, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(target.host, target.port, timeout=60)
    payload = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json", **(headers or {})} if payload else headers or {}
    conn.request(method, path, body=payload, headers=sent)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    answer = {k.lower(): v for k, v in response.getheaders()}
    return response.status, answer, json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    url = make_url(service_or_skip("PostgreSQL", POSTGRES_URL, 5432))
    name = f"hoian_faults_{secrets.token_hex(4)}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    workdir = tmp_path_factory.mktemp("faults")
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
        "MEDIA_DIR": str(workdir / "media"),
        "HOIAN_TICKET_KEYS_DIR": str(workdir / "keys"),
        "HOIAN_ORDER_RATE_LIMIT": "100000 per minute",
        "FLASK_APP": "wsgi:app",
        "LOG_JSON": "true",
    }
    password = "a long fault-test password"
    for command in (
        ["db", "upgrade"],
        ["content", "load"],
        ["tickets", "setup"],
        ["users", "create", "--email", "ops@hoian.test", "--role", "admin", "--password", password],
    ):
        subprocess.run(
            [str(BIN / "flask"), *command], cwd=ROOT, env=env, check=True, capture_output=True
        )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    try:
        with gunicorn_serving(listener, env=env, workdir=workdir):
            host, port = listener.getsockname()
            probe = Target(host, port, name, "", "", workdir / "gunicorn.log")
            status, _, body = _request(
                probe,
                "POST",
                "/api/v1/auth/token",
                {"email": "ops@hoian.test", "password": password},
            )
            assert status == 201, body
            admin_url = url.set(drivername="postgresql+psycopg").render_as_string(
                hide_password=False
            )
            yield Target(host, port, name, admin_url, body["access_token"], probe.log)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0
    progressed: threading.Condition = field(default_factory=threading.Condition)
    statuses: dict[int, int] = field(default_factory=dict)
    unavailable: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, str] = field(default_factory=dict)  # idempotency key -> order code
    unsettled: set[str] = field(default_factory=set)  # keys answered 503 twice
    devices: dict[int, str] = field(default_factory=dict)  # id -> name
    problems: list[str] = field(default_factory=list)

    def record(self, status: int, headers: dict[str, str], body: Any, what: str) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status >= 500:
                if status != 503 or not isinstance(body, dict) or "retry-after" not in headers:
                    self.problems.append(f"{what}: {status} {headers} {body}")
                else:
                    self.unavailable.append(body)
        with self.progressed:
            self.done += 1
            self.progressed.notify_all()


def _client(target: Target, tally: Tally, number: int) -> None:
    staff = {"Authorization": f"Bearer {target.token}"}
    for i in range(REQUESTS_EACH):
        kind = i % 4
        if kind == 0:  # a public write, with the key that makes a retry safe
            key = f"fault-{number}-{i}-{secrets.token_hex(4)}"
            order = {
                "items": [{"product": "old-town-pass", "tier": "foreign", "quantity": 1}],
                "email": f"visitor{number}@example.com",
                "payment_method": "cash",
            }
            status, headers, body = _request(
                target, "POST", "/api/v1/orders", order, {"Idempotency-Key": key}
            )
            tally.record(status, headers, body, "order")
            if status == 503:  # unknown whether it was kept: the same key again tells
                status, headers, body = _request(
                    target, "POST", "/api/v1/orders", order, {"Idempotency-Key": key}
                )
                tally.record(status, headers, body, "order again")
            with tally.lock:
                if status == 201:
                    tally.orders[key] = body["code"]
                else:
                    tally.unsettled.add(key)
        elif kind == 1:  # a staff write without a key: only its answer tells
            name = f"gate-{number}-{i}"
            status, headers, body = _request(
                target, "POST", "/api/v1/devices", {"name": name}, staff
            )
            tally.record(status, headers, body, "device")
            if status == 201:
                with tally.lock:
                    tally.devices[body["id"]] = name
        elif kind == 2:  # a read that needs the database every time (the token's lookup)
            tally.record(*_request(target, "GET", "/api/v1/auth/me", headers=staff), "me")
        else:  # a public read (the response cache checks the catalogue version)
            path = "/api/v1/sites/japanese-covered-bridge?lang=" + ("en", "vi")[i % 2]
            tally.record(*_request(target, "GET", path), "site")


def _terminate(target: Target) -> int:
    engine = create_engine(target.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": target.database},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_connections_killed_mid_load_give_no_500_and_lose_no_answered_write(
    target: Target,
) -> None:
    tally = Tally()
    total = CLIENTS * REQUESTS_EACH
    killed: list[int] = []

    def killer() -> None:
        for share in KILL_AT:
            with tally.progressed:
                tally.progressed.wait_for(lambda share=share: tally.done >= share * total)
            killed.append(_terminate(target))

    threads = [threading.Thread(target=_client, args=(target, tally, n)) for n in range(CLIENTS)]
    chaos = threading.Thread(target=killer)
    for thread in [chaos, *threads]:
        thread.start()
    for thread in [*threads, chaos]:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in [*threads, chaos])

    assert sum(killed) >= len(KILL_AT), killed  # each round found connections to kill
    assert not tally.problems, tally.problems  # no 500, no 503 without Retry-After and shape
    assert all(u["reason"] == "database_unavailable" for u in tally.unavailable), tally.unavailable
    assert set(tally.statuses) <= {200, 201, 503}, tally.statuses
    served = sum(n for status, n in tally.statuses.items() if status < 300)
    assert served >= 0.9 * total, tally.statuses  # retried on a fresh connection, mostly

    engine = create_engine(make_url(target.admin_url).set(database=target.database))
    try:
        with engine.connect() as conn:
            orders = dict(
                conn.execute(
                    text(
                        "SELECT idempotency_key, code FROM orders"
                        " WHERE idempotency_key LIKE 'fault-%'"
                    )
                ).all()
            )
            devices = conn.execute(
                text("SELECT id, name FROM inspector_devices WHERE name LIKE 'gate-%'")
            ).all()
    finally:
        engine.dispose()
    # Every order answered 201 is stored, once (the key is unique); none was stored that was
    # not answered, except perhaps those whose every answer was a 503.
    assert {k: v for k, v in orders.items() if k not in tally.unsettled} == tally.orders
    stored = dict(devices)
    assert all(stored.get(i) == name for i, name in tally.devices.items())
    names = [name for _, name in devices]
    assert len(names) == len(set(names))  # no device created twice

    log = target.log.read_text()
    assert "running the request again" in log  # the retry happened, not just luck
    report = {
        "requests": sum(tally.statuses.values()),
        "connections_killed": killed,
        "statuses": tally.statuses,
        "retried_on_a_fresh_connection": log.count("running the request again"),
    }
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "db-faults.json").write_text(json.dumps(report, indent=2))
