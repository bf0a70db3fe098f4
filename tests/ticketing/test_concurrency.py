"""Scanners racing on the same tickets at the same sites, on SQLite and on PostgreSQL:
zero double entries, zero entries over quota, and every loser told why."""

from __future__ import annotations

import random
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit import AuditLog
from app.auth import services as auth_services
from app.extensions import db
from tests.conftest import (
    make_app,
    migrate_and_seed,
    scratch_postgres_app,
)
from tests.ticketing.conftest import OLD_TOWN_SITES
from ticketing import services
from ticketing.models import Ticket, TicketEntry
from ticketing.seeding import load_products

SCANNERS = 12
SITES = OLD_TOWN_SITES[:6]


def _prepare(app: Flask) -> tuple[list[str], list[dict[str, str]], dict[str, int]]:
    """Tickets (domestic: 3 sites, foreign: 5) and enrolled devices, committed."""
    migrate_and_seed(app)
    with app.app_context():
        services.ensure_signing_key()
        load_products(languages=app.config["LANGUAGES"])
        orders = [
            services.create_order(
                items=[
                    {"product": "old-town-pass", "tier": "domestic", "quantity": 3},
                    {"product": "old-town-pass", "tier": "foreign", "quantity": 2},
                ],
                email="race@hoian.test",
                payment_method="cash",
                language="en",
                idempotency_key=None,
            ).order
        ]
        for order in orders:
            services.mark_order_paid(order_id=order.id, amount=order.total_amount)
        tickets = [ticket for order in orders for ticket in order.tickets]
        devices = []
        for n in range(SCANNERS):
            _, issued = auth_services.enroll_device(
                name=f"gate-{n}", enrolled_by_id=None, ttl_days=1
            )
            devices.append({"Authorization": f"Bearer {issued.token}"})
        db.session.commit()
        return [t.code for t in tickets], devices, {t.code: t.max_sites for t in tickets}


def _race(app: Flask, codes: list[str], devices: list[dict[str, str]]) -> list[dict[str, Any]]:
    barrier = threading.Barrier(len(devices))
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def scanner(n: int, headers: dict[str, str]) -> None:
        client = app.test_client()
        work = [(code, site) for code in codes for site in SITES]
        random.Random(n).shuffle(work)
        barrier.wait()
        try:
            for code, site in work:
                response = client.post(
                    "/api/v1/checkin/redeem",
                    json={
                        "secret": code,
                        "site": site,
                        "nonce": secrets.token_hex(8),
                        "scanned_at": datetime.now(UTC).isoformat(),
                    },
                    headers=headers,
                )
                assert response.status_code == 200, response.get_data(as_text=True)
                with lock:
                    answers.append({**response.get_json(), "code": code})
        except BaseException as exc:  # reported below, with the thread's answers so far
            failures.append(exc)

    threads = [
        threading.Thread(target=scanner, args=(n, headers)) for n, headers in enumerate(devices)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[0]
    return answers


def _check(app: Flask, answers: list[dict[str, Any]], limits: dict[str, int]) -> None:
    assert len(answers) == len(limits) * len(SITES) * SCANNERS
    admitted = Counter((a["code"], a["site"]) for a in answers if a["status"] == "ok")
    assert all(count == 1 for count in admitted.values()), "a double entry"
    per_ticket = Counter(code for code, _ in admitted)
    assert per_ticket == Counter({code: min(limit, len(SITES)) for code, limit in limits.items()})
    losers = Counter(a["reason"] for a in answers if a["status"] != "ok")
    assert set(losers) <= {"already_redeemed", "quota_exhausted"}, losers
    assert all(a["entries_left"] is not None and a["message"] for a in answers)
    with app.app_context():
        entries = db.session.execute(
            select(TicketEntry.ticket_id, func.count()).group_by(TicketEntry.ticket_id)
        ).all()
        counted = dict(db.session.execute(select(Ticket.id, Ticket.entries_count)).all())
        limits_by_id = dict(db.session.execute(select(Ticket.id, Ticket.max_sites)).all())
        for ticket_id, count in entries:
            assert count == counted[ticket_id] == limits_by_id[ticket_id]
        # Every entry has its audit row, attributed to the device that scanned it.
        redeemed = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "ticket.redeem")
        ).all()
        assert len(redeemed) == sum(admitted.values())
        assert all(row.actor_device_id and row.changes["site"] in SITES for row in redeemed)


def test_racing_scanners_on_sqlite(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'race.db'}", TICKET_KEYS_DIR=str(tmp_path / "keys"))
    codes, devices, limits = _prepare(app)
    _check(app, _race(app, codes, devices), limits)


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Flask]:
    with scratch_postgres_app(
        "hoian_tickets",
        TICKET_KEYS_DIR=str(tmp_path / "keys"),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": SCANNERS, "max_overflow": 4},
    ) as app:
        yield app


@pytest.mark.postgres
def test_racing_scanners_on_postgres(pg_app: Flask) -> None:
    codes, devices, limits = _prepare(pg_app)
    _check(pg_app, _race(pg_app, codes, devices), limits)


@pytest.mark.postgres
def test_a_repeated_nonce_on_postgres_writes_nothing_more(pg_app: Flask) -> None:
    """On PostgreSQL a scan is one statement (scan, entry, counter, audit): a replayed nonce
    must get the first answer and add no entry, no count and no audit row."""
    codes, devices, _ = _prepare(pg_app)
    client = pg_app.test_client()
    scan = {
        "secret": codes[0],
        "site": SITES[0],
        "nonce": "replayed-nonce-1",
        "scanned_at": datetime.now(UTC).isoformat(),
    }
    first = client.post("/api/v1/checkin/redeem", json=scan, headers=devices[0])
    again = client.post("/api/v1/checkin/redeem", json=scan, headers=devices[0])
    other = client.post(
        "/api/v1/checkin/redeem", json={**scan, "nonce": "another-nonce-2"}, headers=devices[0]
    )
    assert first.get_json()["status"] == "ok" and first.get_json()["entries_left"] == 2
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"]
    assert other.get_json()["reason"] == "already_redeemed"
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TicketEntry)) == 1
        assert db.session.scalar(select(func.sum(Ticket.entries_count))) == 1
        actions = db.session.scalars(select(AuditLog.action)).all()
        assert actions.count("ticket.redeem") == 1


@pytest.mark.postgres
def test_postgres_schema_matches_the_models(pg_app: Flask) -> None:
    migrate_and_seed(pg_app)
    result = pg_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


@pytest.mark.postgres
def test_gates_on_postgres(pg_app: Flask) -> None:
    """Row locks and the one-statement scan on PostgreSQL: a pairing code taken under its lock,
    a nonce reused for another code (409, nothing written), annul, exit, a slow clock's sync."""
    codes, _, _ = _prepare(pg_app)
    with pg_app.app_context():
        site_id = services.catalogue_rules().site_ids[SITES[0]]
        device = auth_services.create_device(name="pg gate", enrolled_by_id=None, site_id=site_id)
        code = auth_services.start_pairing(device_id=device.id, created_by_id=None, minutes=5).code
        db.session.commit()
    client = pg_app.test_client()
    paired = client.post("/api/v1/devices/pair", json={"code": code})
    assert paired.status_code == 201, paired.get_json()
    assert client.post("/api/v1/devices/pair", json={"code": code}).status_code == 409
    gate = {"Authorization": f"Bearer {paired.get_json()['access_token']}"}
    now = datetime.now(UTC)
    scan = {
        "secret": codes[0],
        "site": SITES[0],
        "nonce": "pg-gate-0001",
        "scanned_at": now.isoformat(),
    }
    assert (
        client.post("/api/v1/checkin/redeem", json=scan, headers=gate).get_json()["reason"] == "ok"
    )
    reused = client.post("/api/v1/checkin/redeem", json={**scan, "secret": codes[1]}, headers=gate)
    assert reused.status_code == 409 and reused.get_json()["reason"] == "nonce_reused"
    elsewhere = client.post(
        "/api/v1/checkin/redeem",
        json={**scan, "site": SITES[1], "nonce": "pg-gate-0002"},
        headers=gate,
    ).get_json()
    assert (elsewhere["reason"], elsewhere["detail"]) == ("wrong_site", "device_site")
    annulled = client.post("/api/v1/checkin/annul", json={"nonce": "pg-gate-0001"}, headers=gate)
    assert annulled.status_code == 200, annulled.get_json()
    again = {**scan, "nonce": "pg-gate-0003"}
    assert (
        client.post("/api/v1/checkin/redeem", json=again, headers=gate).get_json()["reason"] == "ok"
    )
    leave = {**scan, "nonce": "pg-gate-0004", "direction": "exit"}
    assert (
        client.post("/api/v1/checkin/redeem", json=leave, headers=gate).get_json()["reason"] == "ok"
    )
    slow = datetime.now(UTC) - timedelta(hours=2)
    synced = client.post(
        "/api/v1/checkin/sync",
        json={
            "scans": [
                {
                    "secret": codes[1],
                    "site": SITES[0],
                    "nonce": "pg-gate-0005",
                    "scanned_at": slow.isoformat(),
                }
            ],
            "sent_at": slow.isoformat(),
        },
        headers=gate,
    ).get_json()
    assert abs(synced["clock_offset_s"] - 7200) < 30 and synced["results"][0]["reason"] == "ok"
    occupancy = client.get("/api/v1/checkin/gate", headers=gate).get_json()["today"]
    assert (occupancy["entries"], occupancy["exits"], occupancy["occupancy"]) == (2, 1, 1)
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TicketEntry)) == 2
        assert db.session.scalar(select(func.sum(Ticket.entries_count))) == 2
