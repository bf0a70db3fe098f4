"""Listening events: a batch stored once per client event id and rolled up per site, language
and hour in the same transaction, so reports never read half a batch; old raw events pruned.

A batch costs three statements whatever its size: the sites' ids, one INSERT of every event
(ON CONFLICT DO NOTHING RETURNING the new ids), and one upsert of the rollup rows the new
events touch (usually one: a tourist's batch is one site, one language, one hour). The
statements are built once per process, so nothing is compiled per batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from app.errors import ValidationFailed
from app.extensions import db
from content.models import Site
from insights.models import PROGRESS_KINDS, EventKind, EventSource, ListeningEvent, ListeningHour

#: How far back a device's clock may place an event (an offline pack sent days later), and
#: how far ahead (a clock a little fast): outside that, the server's time is used.
OLDEST_EVENT = timedelta(days=30)
NEWEST_EVENT = timedelta(minutes=10)

_COUNTER = {
    EventKind.GUIDE_OPENED.value: "opens",
    EventKind.PLAY_STARTED.value: "plays",
    EventKind.PROGRESS_100.value: "completions",
    EventKind.LANGUAGE_SWITCHED.value: "switches",
    EventKind.PACK_DOWNLOADED.value: "downloads",
}
_PROGRESS = frozenset(kind.value for kind in PROGRESS_KINDS)
_OFFLINE = EventSource.OFFLINE.value
COUNTERS = ("opens", "plays", "quarters", "completions", "seconds", "switches", "downloads")


@dataclass(frozen=True, slots=True)
class BatchResult:
    received: int  # events in the batch
    stored: int  # new ones (the others had been sent before)


def _clamp(occurred_at: datetime | None, now: datetime) -> datetime:
    if occurred_at is None or not now - OLDEST_EVENT <= occurred_at <= now + NEWEST_EVENT:
        return now
    return occurred_at.astimezone(UTC)


def record_batch(
    *, events: list[Mapping[str, Any]], languages: Iterable[str], now: datetime
) -> BatchResult:
    """Store the batch's new events (a retried batch counts once) and add them to the rollup."""
    served = set(languages)
    site_ids: dict[str, int] = dict(db.session.execute(_SITE_IDS).all())  # type: ignore[arg-type]
    errors: dict[str, Any] = {}
    for index, event in enumerate(events):
        problems: dict[str, list[str]] = {}
        if event["site"] not in site_ids:
            problems["site"] = [f"unknown site {event['site']!r}"]
        if event["lang"] not in served:
            problems["lang"] = [f"{event['lang']!r} is not a served language"]
        if problems:
            errors[str(index)] = problems
    if errors:
        raise ValidationFailed(
            "some events name an unknown site or language; nothing was stored",
            reason="unknown_site_or_language",
            errors={"events": errors},
        )
    rows = [
        {
            "event_id": event["id"],
            "kind": event["kind"],
            "site_id": site_ids[event["site"]],
            "lang": event["lang"],
            "requested_lang": _requested(event),
            "track": event.get("track"),
            "source": event["source"],
            "duration_s": event.get("duration_s"),
            "occurred_at": _clamp(event.get("at"), now),
            "received_at": now,
        }
        for event in events
    ]
    # The same id twice in one batch is one event, like the same id in two batches.
    unique = list({row["event_id"]: row for row in rows}.values())
    stored = _insert_new(unique)
    _roll_up(stored)
    return BatchResult(received=len(events), stored=len(stored))


def _requested(event: Mapping[str, Any]) -> str | None:
    requested = event.get("requested_lang")
    return requested if requested and requested != event["lang"] else None


#: Every site's id by slug: a few dozen rows, one cached statement (no IN list per batch).
_SITE_IDS = select(Site.slug, Site.id)

#: PostgreSQL: the whole batch as one array per column, unnested into one INSERT whose SQL
#: is the same for every batch size (a multi-row VALUES is a new statement per size).
_INSERT_UNNESTED = text(
    "INSERT INTO listening_events (event_id, kind, site_id, lang, requested_lang, track, "
    "source, duration_s, occurred_at, received_at) "
    "SELECT * FROM unnest(CAST(:event_id AS varchar[]), CAST(:kind AS varchar[]), "
    "CAST(:site_id AS integer[]), CAST(:lang AS varchar[]), CAST(:requested_lang AS varchar[]), "
    "CAST(:track AS varchar[]), CAST(:source AS varchar[]), CAST(:duration_s AS integer[]), "
    "CAST(:occurred_at AS timestamptz[]), CAST(:received_at AS timestamptz[])) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_EVENT_COLUMNS = (
    "event_id",
    "kind",
    "site_id",
    "lang",
    "requested_lang",
    "track",
    "source",
    "duration_s",
    "occurred_at",
    "received_at",
)


#: SQLite: INSERT ... ON CONFLICT DO NOTHING RETURNING, sent as one executemany (SQLAlchemy
#: batches it into multi-row VALUES).
_INSERT_EACH = (
    sqlite.insert(ListeningEvent.__table__)
    .on_conflict_do_nothing(index_elements=["event_id"])
    .returning(ListeningEvent.__table__.c.event_id)
)


@cache
def _rollup_statement(dialect: str) -> Any:
    """The hourly rollup's upsert, adding the batch's counts to the rows already there."""
    table = ListeningHour.__table__
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    return statement.on_conflict_do_update(
        index_elements=["hour", "site_id", "lang", "requested_lang"],
        set_={name: table.c[name] + statement.excluded[name] for name in (*COUNTERS, "offline")},
    )


def _insert_new(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that were new (ON CONFLICT DO NOTHING RETURNING, PostgreSQL and SQLite alike),
    so a concurrent retry of the same batch cannot count them twice either."""
    if not rows:
        return []
    if db.engine.dialect.name == "postgresql":
        arrays = {column: [row[column] for row in rows] for column in _EVENT_COLUMNS}
        new = set(db.session.execute(_INSERT_UNNESTED, arrays).scalars())
    else:
        new = set(db.session.execute(_INSERT_EACH, rows).scalars())
    return [row for row in rows if row["event_id"] in new]


def _roll_up(rows: list[dict[str, Any]]) -> None:
    totals: dict[tuple[datetime, int, str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys((*COUNTERS, "offline"), 0)
    )
    for row in rows:
        hour = row["occurred_at"].replace(minute=0, second=0, microsecond=0)
        key = (hour, row["site_id"], row["lang"], row["requested_lang"] or "")
        counts = totals[key]
        kind = row["kind"]
        if kind in _COUNTER:
            counts[_COUNTER[kind]] += 1
        if kind in _PROGRESS:
            counts["quarters"] += 1
            counts["seconds"] += (row["duration_s"] or 0) // 4
        if row["source"] == _OFFLINE:
            counts["offline"] += 1
    if not totals:
        return
    values = [
        {"hour": hour, "site_id": site, "lang": lang, "requested_lang": requested, **counts}
        for (hour, site, lang, requested), counts in sorted(totals.items())
    ]
    db.session.execute(_rollup_statement(db.engine.dialect.name), values)


def prune_events(*, older_than_days: int, now: datetime) -> int:
    """Delete raw events received more than `older_than_days` ago; the rollup keeps them."""
    if older_than_days < 1:
        raise ValidationFailed("keep raw events for at least one day", reason="invalid_days")
    cutoff = now - timedelta(days=older_than_days)
    result = db.session.execute(delete(ListeningEvent).where(ListeningEvent.received_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
