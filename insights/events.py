"""Listening events: a batch stored once per client event id and rolled up per site, language
and hour in the same transaction, so reports never read half a batch; old raw events pruned."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
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
    EventKind.GUIDE_OPENED: "opens",
    EventKind.PLAY_STARTED: "plays",
    EventKind.PROGRESS_100: "completions",
    EventKind.LANGUAGE_SWITCHED: "switches",
    EventKind.PACK_DOWNLOADED: "downloads",
}
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
    slugs = {event["site"] for event in events}
    site_ids = dict(
        db.session.execute(select(Site.slug, Site.id).where(Site.slug.in_(slugs))).all()
    )
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


def _dialect_insert(table: Any) -> Any:
    module = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _insert_new(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING (PostgreSQL and SQLite alike): the rows that
    were new, so a concurrent retry of the same batch cannot count them twice either. Sent as
    one executemany of a cached statement (SQLAlchemy batches it into multi-row VALUES)."""
    if not rows:
        return []
    table = ListeningEvent.__table__
    statement = (
        _dialect_insert(table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.event_id)
    )
    new = set(db.session.execute(statement, rows).scalars())
    return [row for row in rows if row["event_id"] in new]


def _roll_up(rows: list[dict[str, Any]]) -> None:
    totals: dict[tuple[datetime, int, str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys((*COUNTERS, "offline"), 0)
    )
    for row in rows:
        hour = row["occurred_at"].replace(minute=0, second=0, microsecond=0)
        key = (hour, row["site_id"], row["lang"], row["requested_lang"] or "")
        counts = totals[key]
        kind = EventKind(row["kind"])
        if kind in _COUNTER:
            counts[_COUNTER[kind]] += 1
        if kind in PROGRESS_KINDS:
            counts["quarters"] += 1
            counts["seconds"] += (row["duration_s"] or 0) // 4
        if row["source"] == EventSource.OFFLINE.value:
            counts["offline"] += 1
    if not totals:
        return
    table = ListeningHour.__table__
    values = [
        {"hour": hour, "site_id": site, "lang": lang, "requested_lang": requested, **counts}
        for (hour, site, lang, requested), counts in sorted(totals.items())
    ]
    statement = _dialect_insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["hour", "site_id", "lang", "requested_lang"],
        set_={name: table.c[name] + statement.excluded[name] for name in (*COUNTERS, "offline")},
    )
    db.session.execute(statement, values)


def prune_events(*, older_than_days: int, now: datetime) -> int:
    """Delete raw events received more than `older_than_days` ago; the rollup keeps them."""
    if older_than_days < 1:
        raise ValidationFailed("keep raw events for at least one day", reason="invalid_days")
    cutoff = now - timedelta(days=older_than_days)
    result = db.session.execute(delete(ListeningEvent).where(ListeningEvent.received_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
