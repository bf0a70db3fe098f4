"""Listening events: stored once per client id, rolled up per site, language and local hour,
refused whole when malformed, limited per client, pruned by the CLI."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from content.models import Site
from insights import events
from insights.cli import prune_events
from insights.models import ListeningEvent, ListeningHour
from tests.conftest import migrate_and_seed, scratch_postgres_app

SITE = "cantonese-assembly-hall"


def _event(kind: str = "play_started", **extra: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "site": SITE,
        "lang": "en",
        "source": "page",
        **extra,
    }


def _rollup(site: str = SITE) -> dict[str, int]:
    site_id = db.session.scalar(select(Site.id).where(Site.slug == site))
    row = db.session.execute(
        select(
            func.coalesce(func.sum(ListeningHour.plays), 0),
            func.coalesce(func.sum(ListeningHour.completions), 0),
            func.coalesce(func.sum(ListeningHour.seconds), 0),
            func.coalesce(func.sum(ListeningHour.opens), 0),
        ).where(ListeningHour.site_id == site_id)
    ).one()
    return {"plays": row[0], "completions": row[1], "seconds": row[2], "opens": row[3]}


def test_a_retried_batch_counts_once(client: FlaskClient, db: Any) -> None:
    batch = {
        "events": [
            _event("guide_opened"),
            _event("play_started"),
            *(_event(f"progress_{p}", duration_s=200) for p in (25, 50, 75, 100)),
        ]
    }
    first = client.post("/api/v1/events", json=batch)
    assert first.status_code == 202, first.get_json()
    assert first.get_json() == {"received": 6, "stored": 6}
    assert "Set-Cookie" not in first.headers
    again = client.post("/api/v1/events", json=batch)
    assert again.get_json() == {"received": 6, "stored": 0}
    assert _rollup() == {"plays": 1, "completions": 1, "seconds": 200, "opens": 1}
    assert db.session.scalar(select(func.count()).select_from(ListeningEvent)) == 6


def test_the_same_id_twice_in_one_batch_is_one_event(client: FlaskClient, db: Any) -> None:
    event = _event()
    answer = client.post("/api/v1/events", json={"events": [event, event]})
    assert answer.get_json() == {"received": 2, "stored": 1}
    assert _rollup()["plays"] == 1


def test_events_fall_in_their_hour_across_midnight(client: FlaskClient, db: Any) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # 23:59 and 00:00 in Hội An (UTC+7): the same minute apart, two hours and two days.
    midnight_local_utc = (now - timedelta(days=1)).replace(hour=17)
    before = midnight_local_utc - timedelta(minutes=1)
    batch = [
        _event(at=before.isoformat()),
        _event(at=midnight_local_utc.isoformat()),
    ]
    assert client.post("/api/v1/events", json={"events": batch}).status_code == 202
    hours = db.session.scalars(select(ListeningHour.hour).order_by(ListeningHour.hour)).all()
    assert hours == [midnight_local_utc - timedelta(hours=1), midnight_local_utc]


def test_a_device_clock_far_off_gets_the_server_time(client: FlaskClient, db: Any) -> None:
    far = datetime(2001, 1, 1, tzinfo=UTC).isoformat()
    assert client.post("/api/v1/events", json={"events": [_event(at=far)]}).status_code == 202
    hour = db.session.scalar(select(ListeningHour.hour))
    assert hour is not None and hour > datetime.now(UTC) - timedelta(hours=2)


def test_fallbacks_are_counted_by_the_language_asked_for(client: FlaskClient, db: Any) -> None:
    batch = [_event("guide_opened", requested_lang="it"), _event("guide_opened", lang="en")]
    assert client.post("/api/v1/events", json={"events": batch}).status_code == 202
    rows = db.session.execute(
        select(ListeningHour.requested_lang, ListeningHour.opens).order_by(
            ListeningHour.requested_lang
        )
    ).all()
    assert [tuple(row) for row in rows] == [("", 1), ("it", 1)]


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"events": [_event(site="no-such-site")]}, 422, "events"),
        ({"events": [_event(lang="xx")]}, 422, "events"),
        ({"events": [_event(kind="clicked")]}, 422, "events"),
        ({"events": [_event(id="short")]}, 422, "events"),
        ({"events": [_event(duration_s=-1)]}, 422, "events"),
        ({"events": []}, 422, "events"),
        ({"events": [_event() for _ in range(101)]}, 422, "events"),
        ({"events": "many"}, 422, "events"),
        ({}, 422, "events"),
    ],
)
def test_bad_batches_are_refused_whole(
    client: FlaskClient, db: Any, body: dict[str, Any], status: int, where: str
) -> None:
    good = _event()
    if isinstance(body.get("events"), list) and body["events"] and len(body["events"]) < 100:
        body = {"events": [good, *body["events"]]}
    answer = client.post("/api/v1/events", json=body)
    assert answer.status_code == status, answer.get_json()
    payload = answer.get_json()
    assert set(payload) >= {"code", "status", "message", "reason", "errors"}
    assert where in payload["errors"]
    assert db.session.scalar(select(func.count()).select_from(ListeningEvent)) == 0


def test_an_oversized_batch_is_refused_before_it_is_read(client: FlaskClient, db: Any) -> None:
    body = {"events": [_event(track="x" * 120) for _ in range(100)], "pad": "y" * 70_000}
    answer = client.post("/api/v1/events", json=body)
    assert answer.status_code == 413
    assert answer.get_json()["reason"] == "too_large"


def test_a_malformed_body_gets_the_error_shape(client: FlaskClient, db: Any) -> None:
    answer = client.post(
        "/api/v1/events", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code in (400, 422)
    assert "reason" in answer.get_json()


def test_a_flood_from_one_client_is_limited_and_nothing_else_slows(
    app: Flask, client: FlaskClient, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "EVENTS_RATE_LIMIT", "5 per minute")
    # An address of its own: the limit's window outlives the test in the process's store.
    me = {"REMOTE_ADDR": f"10.1.{secrets.randbelow(256)}.{secrets.randbelow(256)}"}
    statuses = [
        client.post("/api/v1/events", json={"events": [_event()]}, environ_base=me).status_code
        for _ in range(8)
    ]
    assert statuses[:5] == [202] * 5
    assert statuses[5:] == [429] * 3
    refused = client.post("/api/v1/events", json={"events": [_event()]}, environ_base=me)
    assert refused.get_json()["reason"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get("/api/v1/sites").status_code == 200
    other = client.post(
        "/api/v1/events",
        json={"events": [_event()]},
        environ_base={"REMOTE_ADDR": f"10.2.{secrets.randbelow(256)}.{secrets.randbelow(256)}"},
    )
    assert other.status_code == 202


def test_prune_deletes_old_raw_events_and_keeps_the_rollup(app: Flask, db: Any) -> None:
    now = datetime.now(UTC)
    events.record_batch(events=[_loaded(_event())], languages=["en"], now=now - timedelta(days=40))
    events.record_batch(events=[_loaded(_event())], languages=["en"], now=now)
    db.session.flush()
    result = app.test_cli_runner().invoke(prune_events, ["--days", "30"])
    assert result.exit_code == 0, result.output
    assert "1 raw events older than 30 days deleted" in result.output
    assert db.session.scalar(select(func.count()).select_from(ListeningEvent)) == 1
    assert _rollup()["plays"] == 2


def test_prune_refuses_a_bad_number_of_days(app: Flask, db: Any) -> None:
    result = app.test_cli_runner().invoke(prune_events, ["--days", "0"])
    assert result.exit_code != 0
    assert "0 is not in the range" in result.output


def _loaded(event: dict[str, Any]) -> dict[str, Any]:
    return {"at": None, "requested_lang": None, "track": None, "duration_s": None, **event}


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    with scratch_postgres_app("hoian_events") as app:
        migrate_and_seed(app)
        yield app


@pytest.mark.postgres
def test_a_batch_sent_twice_at_once_counts_once_on_postgresql(pg_app: Flask) -> None:
    batch = {"events": [_event(), _event("progress_100", duration_s=120)]}
    answers: list[Any] = []

    def send() -> None:
        answers.append(pg_app.test_client().post("/api/v1/events", json=batch).get_json())

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answer["stored"] for answer in answers) == [0, 0, 0, 2]
    with pg_app.app_context():
        # one milestone is a quarter of the track heard
        assert _rollup() == {"plays": 1, "completions": 1, "seconds": 30, "opens": 0}
