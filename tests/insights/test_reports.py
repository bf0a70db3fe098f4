"""Reports equal the counts made independently from a generated month's raw rows, on SQLite
and PostgreSQL; local days and hours are right across midnight; bad ranges are refused; CSV
and the workbook hold the same figures; only managers, finance and admins read them."""

from __future__ import annotations

import csv
import io
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.auth import services as auth_services
from app.extensions import db
from content.seeding import load_seed
from insights import events, reports
from insights.models import (
    EntryDay,
    EntryHour,
    ListeningDay,
    ListeningHour,
    RefundDay,
    SaleDay,
    SaleHour,
    SaleItemDay,
)
from payments.models import Refund
from tests.conftest import make_app, migrate_and_seed, scratch_postgres_app
from tests.insights.generate import (
    MONTH_DAYS,
    MONTH_START,
    SITES,
    ZONE,
    Expected,
    generate_month,
)
from tests.payments.conftest import Buyer, tickets_of
from tests.ticketing.conftest import BRIDGE, TAN_KY, nonce, now_iso, redeem
from ticketing import services as ticketing_services
from ticketing.models import Order, Ticket, TicketEntry
from ticketing.seeding import load_products
from ticketing.verify import format_serial

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30", "group": "day"}


def _report(kind: str, **args: Any) -> dict[str, Any]:
    scope = reports.parse_range(
        start=date.fromisoformat(args.get("from", "2026-11-01")),
        end=date.fromisoformat(args.get("to", "2026-11-30")),
        group=args.get("group", "day"),
        site=args.get("site"),
        zone="Asia/Ho_Chi_Minh",
        max_days=366,
        today=date(2026, 12, 1),
    )
    return reports.build_report(kind=kind, scope=scope)


def check_against_raw_rows(expected: Expected) -> None:
    visitors = _report("visitors")
    series = {row["bucket"]: row["entries"] for row in visitors["tables"]["series"]}
    for offset in range(MONTH_DAYS):
        day = MONTH_START + timedelta(days=offset)
        assert series[day.isoformat()] == sum(expected.entries[(day, s)] for s in SITES), day
    totals = visitors["totals"]
    assert totals["entries"] == sum(expected.entries.values())
    for tier in ("foreign", "domestic", "child"):
        assert totals[tier] == expected.entries_by[("tier", tier)]
    assert totals["online"] == expected.entries_by[("mode", "online")]
    assert totals["offline"] == expected.entries_by[("mode", "offline")]
    assert totals["exits"] == expected.exits
    by_site = {row["site"]: row["entries"] for row in visitors["tables"]["by_site"]}
    for site in SITES:
        assert by_site.get(site, 0) == sum(n for (_, s), n in expected.entries.items() if s == site)
    one_site = _report("visitors", site=SITES[0])
    assert one_site["totals"]["entries"] == by_site.get(SITES[0], 0)
    assert sum(h["entries"] for h in visitors["tables"]["hours_of_day"]) == totals["entries"]

    sales = _report("sales")
    assert sales["totals"]["orders"] == sum(expected.orders_by_day.values())
    assert sales["totals"]["revenue"] == sum(expected.revenue_by_day.values())
    assert sales["totals"]["tickets"] == expected.tickets
    assert sales["totals"]["refunds"] == expected.refunds
    assert sales["totals"]["refunded"] == expected.refunded
    assert sales["totals"]["flags"] == expected.flags
    days = {row["bucket"]: row for row in sales["tables"]["series"]}
    for day, count in expected.orders_by_day.items():
        assert days[day.isoformat()]["orders"] == count
        assert days[day.isoformat()]["revenue"] == expected.revenue_by_day[day]
    methods = {row["method"]: row["revenue"] for row in sales["tables"]["by_method"]}
    assert methods == {m: v for m, v in expected.revenue_by_method.items() if v}
    tiers = {row["tier"]: row["tickets"] for row in sales["tables"]["by_tier"]}
    assert tiers == dict(expected.tickets_by_tier)

    listening = _report("listening")
    assert listening["totals"]["plays"] == sum(expected.plays.values())
    assert listening["totals"]["completions"] == expected.completions
    assert (
        listening["totals"]["minutes"] == expected.completions
    )  # 240 s per completion = 4 min / 4
    pairs = {(r["site"], r["lang"]): r["plays"] for r in listening["tables"]["by_site_language"]}
    assert {k: v for k, v in pairs.items() if v} == {k: v for k, v in expected.plays.items() if v}
    asked: Counter[str] = Counter()
    for row in listening["tables"]["asked_not_available"]:
        asked[row["asked"]] += row["opens"]
    assert asked == expected.fallback_opens

    feedback = _report("feedback")
    assert feedback["totals"]["count"] == sum(expected.feedback_by_topic.values())
    assert feedback["totals"]["open"] == expected.feedback_open
    topics = {r["topic"]: r["count"] for r in feedback["tables"]["by_topic"]}
    assert topics == dict(expected.feedback_by_topic)
    # The mean is over the rated items: a translation error quoted from a transcript has none.
    assert 0 < expected.rated < sum(expected.feedback_by_topic.values())
    mean = round(expected.rating_sum / expected.rated, 2)
    assert feedback["totals"]["mean_rating"] == mean

    # October is empty: the comparison says so.
    assert visitors["previous"]["range"] == {**visitors["previous"]["range"], "from": "2026-10-02"}
    assert visitors["previous"]["totals"]["entries"] == 0
    assert visitors["change"]["entries"] == totals["entries"]


def test_reports_equal_the_raw_rows_on_sqlite(app: Flask, db: Any) -> None:
    check_against_raw_rows(generate_month(seed=7))


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    with scratch_postgres_app("hoian_reports") as app:
        migrate_and_seed(app)
        yield app


@pytest.mark.postgres
def test_reports_equal_the_raw_rows_on_postgresql(pg_app: Flask) -> None:
    with pg_app.app_context():
        expected = generate_month(seed=11)
        db.session.commit()
        check_against_raw_rows(expected)


def test_local_hours_and_days_are_right_across_midnight(app: Flask, db: Any) -> None:
    scope = reports.parse_range(
        start=date(2026, 11, 30),
        end=date(2026, 12, 1),
        group="hour",
        site=None,
        zone="Asia/Ho_Chi_Minh",
        max_days=366,
        today=date(2026, 12, 1),
    )
    # 16:59 UTC is 23:59 in Hội An; 17:00 UTC is the next local day's midnight.
    assert scope.bucket(datetime(2026, 11, 30, 16, 59, tzinfo=UTC)) == "2026-11-30 23:00"
    assert scope.bucket(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == "2026-12-01 00:00"
    assert scope.since == datetime(2026, 11, 29, 17, tzinfo=UTC)
    assert scope.until == datetime(2026, 12, 1, 17, tzinfo=UTC)
    assert len(scope.buckets()) == 48 and scope.buckets()[0] == "2026-11-30 00:00"
    weekly = reports.parse_range(
        start=date(2026, 11, 1),
        end=date(2026, 11, 30),
        group="week",
        site=None,
        zone="Asia/Ho_Chi_Minh",
        max_days=366,
        today=date(2026, 12, 1),
    )
    # 1 November 2026 is a Sunday: its week starts on Monday 26 October.
    assert weekly.buckets()[:2] == ["2026-10-26", "2026-11-02"]
    assert weekly.bucket(datetime(2026, 11, 1, 16, 59, tzinfo=UTC)) == "2026-10-26"
    assert weekly.bucket(datetime(2026, 11, 1, 17, 0, tzinfo=UTC)) == "2026-11-02"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("from=2026-11-30&to=2026-11-01", "reversed_range"),
        ("from=2020-01-01&to=2026-11-30", "range_too_long"),
        ("from=2026-01-01&to=2026-11-30&group=hour", "too_many_buckets"),
        ("site=no-such-site", "unknown_site"),
    ],
)
def test_bad_ranges_are_refused_with_a_clear_message(
    client: FlaskClient, auth: Callable[..., dict[str, str]], query: str, reason: str
) -> None:
    answer = client.get(f"/api/v1/reports/visitors?{query}", headers=auth("manager"))
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["reason"] == reason
    assert answer.get_json()["message"]


@pytest.mark.parametrize("query", ["from=yesterday", "group=minute", "format=pdf"])
def test_malformed_report_arguments_are_refused(
    client: FlaskClient, auth: Callable[..., dict[str, str]], query: str
) -> None:
    answer = client.get(f"/api/v1/reports/sales?{query}", headers=auth("finance"))
    assert answer.status_code == 422


def test_csv_and_workbook_hold_the_same_figures(
    client: FlaskClient, db: Any, auth: Callable[..., dict[str, str]]
) -> None:
    generate_month(seed=3, orders=30)
    headers = auth("manager")
    query = "&".join(f"{k}={v}" for k, v in NOVEMBER.items())
    data = client.get(f"/api/v1/reports/sales?{query}", headers=headers).get_json()
    as_csv = client.get(f"/api/v1/reports/sales?{query}&format=csv", headers=headers)
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True).lstrip("\ufeff"))))
    summary = {row[0]: row[1] for row in rows if len(row) == 4 and row[0] != "figure"}
    assert int(summary["revenue"]) == data["totals"]["revenue"]
    book = client.get(f"/api/v1/reports/sales?{query}&format=xlsx", headers=headers)
    assert book.status_code == 200
    workbook = load_workbook(io.BytesIO(book.get_data()))
    sheet = workbook["summary"]
    figures = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert figures["revenue"] == data["totals"]["revenue"]
    series = list(workbook["series"].iter_rows(values_only=True))
    assert series[0][:3] == ("bucket", "orders", "tickets")
    assert sum(row[1] for row in series[1:]) == data["totals"]["orders"]


@pytest.mark.parametrize(
    ("role", "status"),
    [("manager", 200), ("finance", 200), ("admin", 200), ("editor", 403), ("inspector", 403)],
)
def test_each_role_reads_only_what_it_may(
    client: FlaskClient, auth: Callable[..., dict[str, str]], role: str, status: int
) -> None:
    headers = auth(role)
    for kind in reports.KINDS:
        assert client.get(f"/api/v1/reports/{kind}", headers=headers).status_code == status
    assert client.get("/api/v1/reports/sales").status_code == 401


# --- the rollups equal the raw rows -------------------------------------------------------


def _day(at: datetime) -> date:
    return at.astimezone(ZONE).date()


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _nonzero(rows: Any, keys: int) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """A rollup's rows as {key: counts}, leaving out keys whose counts all went back to 0."""
    out = {}
    for row in rows:
        key, counts = tuple(row[:keys]), tuple(int(v) for v in row[keys:])
        if any(counts):
            out[_utc_key(key)] = counts
    return out


def _utc_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in key)


def assert_rollups_match_raw_rows() -> None:
    """Every daily rollup equals the same counts made here from the raw rows."""
    session = db.session
    session.flush()
    session.expire_all()
    entry_days: Counter[tuple[Any, ...]] = Counter()
    exit_days: Counter[tuple[Any, ...]] = Counter()
    entry_hours: Counter[tuple[Any, ...]] = Counter()
    exit_hours: Counter[tuple[Any, ...]] = Counter()
    for entry, tier in session.execute(
        select(TicketEntry, Ticket.tier).join(Ticket, Ticket.id == TicketEntry.ticket_id)
    ):
        entry_days[(_day(entry.entered_at), entry.site_id, tier, entry.mode)] += 1
        entry_hours[(_hour(entry.entered_at), tier, entry.mode)] += 1
        if entry.exited_at is not None:
            exit_days[(_day(entry.exited_at), entry.site_id, tier, entry.mode)] += 1
            exit_hours[(_hour(entry.exited_at), tier, entry.mode)] += 1
    # A key's counts may be spread over several shards (one per writing connection): summed.
    day_key = (EntryDay.day, EntryDay.site_id, EntryDay.tier, EntryDay.mode)
    rolled = session.execute(
        select(*day_key, func.sum(EntryDay.entries), func.sum(EntryDay.exits)).group_by(*day_key)
    )
    assert _nonzero(rolled, 4) == {
        key: (entry_days[key], exit_days[key]) for key in {*entry_days, *exit_days}
    }
    hour_key = (EntryHour.hour, EntryHour.tier, EntryHour.mode)
    rolled = session.execute(
        select(*hour_key, func.sum(EntryHour.entries), func.sum(EntryHour.exits)).group_by(
            *hour_key
        )
    )
    assert _nonzero(rolled, 3) == {
        key: (entry_hours[key], exit_hours[key]) for key in {*entry_hours, *exit_hours}
    }

    sales: dict[tuple[Any, ...], list[int]] = {}
    sale_hours: dict[tuple[Any, ...], list[int]] = {}
    items: dict[tuple[Any, ...], list[int]] = {}
    for order in session.scalars(select(Order).where(Order.paid_at.is_not(None))):
        for table, when in ((sales, _day(order.paid_at)), (sale_hours, _hour(order.paid_at))):
            paid = table.setdefault((when, order.payment_method), [0, 0, 0])
            paid[0] += 1
            paid[1] += order.paid_amount
            paid[2] += len(order.tickets)
        for item in order.items:
            sold = items.setdefault((_day(order.paid_at), item.product_id, item.tier), [0, 0])
            sold[0] += item.quantity
            sold[1] += item.quantity * item.unit_amount
    rolled = session.execute(
        select(SaleDay.day, SaleDay.method, SaleDay.orders, SaleDay.revenue, SaleDay.tickets)
    )
    assert _nonzero(rolled, 2) == {k: tuple(v) for k, v in sales.items() if any(v)}
    rolled = session.execute(
        select(SaleHour.hour, SaleHour.method, SaleHour.orders, SaleHour.revenue, SaleHour.tickets)
    )
    assert _nonzero(rolled, 2) == {k: tuple(v) for k, v in sale_hours.items() if any(v)}
    rolled = session.execute(
        select(
            SaleItemDay.day,
            SaleItemDay.product_id,
            SaleItemDay.tier,
            SaleItemDay.tickets,
            SaleItemDay.revenue,
        )
    )
    assert _nonzero(rolled, 3) == {k: tuple(v) for k, v in items.items()}
    refunds: dict[tuple[Any, ...], list[int]] = {}
    for refund in session.scalars(select(Refund).where(Refund.state == "succeeded")):
        made = refunds.setdefault((_day(refund.created_at),), [0, 0])
        made[0] += 1
        made[1] += refund.amount
    rolled = session.execute(select(RefundDay.day, RefundDay.refunds, RefundDay.amount))
    assert _nonzero(rolled, 1) == {k: tuple(v) for k, v in refunds.items()}

    counters = (
        "opens",
        "plays",
        "quarters",
        "completions",
        "seconds",
        "switches",
        "downloads",
        "offline",
    )
    listened: dict[tuple[Any, ...], list[int]] = {}
    for hour in session.scalars(select(ListeningHour)):
        key = (_day(hour.hour), hour.site_id, hour.lang, hour.requested_lang)
        sums = listened.setdefault(key, [0] * len(counters))
        for index, name in enumerate(counters):
            sums[index] += getattr(hour, name)
    rolled = session.execute(
        select(
            ListeningDay.day,
            ListeningDay.site_id,
            ListeningDay.lang,
            ListeningDay.requested_lang,
            *(getattr(ListeningDay, c) for c in counters),
        )
    )
    assert _nonzero(rolled, 4) == {k: tuple(v) for k, v in listened.items() if any(v)}


def assert_rollups_answer_as_the_raw_rows() -> None:
    """Every report read from the rollups (in their zone) equals the same report counted from
    the raw rows, asked in another zone with the same offset (Bangkok, UTC+7 all year)."""
    for start, end, group in (
        ("2026-11-01", "2026-11-30", "day"),
        ("2026-11-01", "2026-11-30", "week"),
        ("2026-11-09", "2026-11-15", "hour"),
    ):
        for site in (None, SITES[0]):
            for kind in reports.KINDS:
                answers = []
                for zone in ("Asia/Ho_Chi_Minh", "Asia/Bangkok"):
                    scope = reports.parse_range(
                        start=date.fromisoformat(start),
                        end=date.fromisoformat(end),
                        group=group,
                        site=site,
                        zone=zone,
                        max_days=366,
                        today=date(2026, 12, 1),
                    )
                    assert scope.rolled_up == (zone == "Asia/Ho_Chi_Minh")
                    answer = reports.build_report(kind=kind, scope=scope)
                    for part in (answer["range"], answer["previous"]["range"]):
                        part.pop("timezone")
                    answers.append(answer)
                assert answers[0] == answers[1], (kind, group, site)


def _change_the_month() -> None:
    """Writes the rollups must follow: exits, annulled entries, an entry moved, an order paid
    later and with another method, a ticket added, a refund failed, events sent again."""
    entries = db.session.scalars(select(TicketEntry).order_by(TicketEntry.id)).all()
    for entry in entries[::7]:
        entry.exited_at = entry.entered_at + timedelta(hours=2)
    for entry in entries[1::11]:
        entry.exited_at = None
    for entry in entries[2::13]:
        db.session.delete(entry)
    entries[3].entered_at -= timedelta(days=3)
    entries[3].mode = "offline"
    db.session.flush()
    orders = db.session.scalars(select(Order).order_by(Order.id)).all()
    orders[0].paid_at = None
    orders[1].paid_at = orders[1].paid_at + timedelta(days=2)  # type: ignore[operator]
    orders[1].payment_method = "stripe" if orders[1].payment_method != "stripe" else "cash"
    orders[2].paid_amount -= 1
    item = orders[2].items[0]
    item.quantity += 1
    db.session.flush()
    ticket = orders[2].tickets[0]
    db.session.add(
        Ticket(
            serial=99_000_001,
            order_id=orders[2].id,
            order_item_id=item.id,
            number=2,
            product_id=item.product_id,
            tier=item.tier,
            unit_amount=item.unit_amount,
            max_sites=3,
            valid_from=ticket.valid_from,
            valid_until=ticket.valid_until,
            key_id=ticket.key_id,
            code="code-added",
        )
    )
    for refund in db.session.scalars(select(Refund).order_by(Refund.id)).all()[:2]:
        refund.state = "failed"
    db.session.flush()
    at = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)
    batch = [
        {
            "id": f"again-{n}",
            "kind": kind,
            "site": SITES[0],
            "lang": "en",
            "source": "page",
            "at": at,
            "requested_lang": "it",
            "track": None,
            "duration_s": 240,
        }
        for n, kind in enumerate(("guide_opened", "play_started", "progress_100"))
    ]
    for _ in range(2):
        events.record_batch(events=batch, languages=["vi", "en", "ko"], now=at)
    # New events in the same hour, site and language: the hourly row is updated, not added.
    later = [{**event, "id": f"later-{n}"} for n, event in enumerate(batch)]
    events.record_batch(events=later, languages=["vi", "en", "ko"], now=at)
    db.session.flush()


def test_rollups_equal_the_raw_rows_after_changes_on_sqlite(app: Flask, db: Any) -> None:
    generate_month(seed=5, orders=60)
    assert_rollups_match_raw_rows()
    _change_the_month()
    assert_rollups_match_raw_rows()
    assert_rollups_answer_as_the_raw_rows()


@pytest.mark.postgres
def test_rollups_equal_the_raw_rows_after_changes_on_postgresql() -> None:
    with scratch_postgres_app("hoian_rollups") as app:
        migrate_and_seed(app)
        with app.app_context():
            generate_month(seed=13, orders=60)
            assert_rollups_match_raw_rows()
            _change_the_month()
            assert_rollups_match_raw_rows()
            db.session.commit()
            assert_rollups_match_raw_rows()
            assert_rollups_answer_as_the_raw_rows()


@pytest.fixture
def gate(db: Any) -> dict[str, str]:
    """Headers of an enrolled inspector device."""
    _, issued = auth_services.enroll_device(name="gate", enrolled_by_id=None, ttl_days=1)
    return {"Authorization": f"Bearer {issued.token}"}


def test_rollups_follow_scans_exits_offline_sync_and_refunds(
    buyer: Buyer, db: Any, auth: Callable[..., dict[str, str]], gate: dict[str, str]
) -> None:
    desk = auth("finance")
    order = buyer.order("cash", ("old-town-pass", "foreign", 2), ("old-town-pass", "domestic", 2))
    paid = buyer.client.post(
        f"/api/v1/orders/{order['code']}/cash", json={"amount_received": 500000}, headers=desk
    )
    assert paid.status_code == 200, paid.get_json()
    first, second, third, unused = tickets_of(db, order["code"])
    for ticket in (first, second, third):
        ticket.valid_from -= timedelta(days=2)  # bought before the gate went offline
    db.session.flush()
    assert redeem(buyer.client, gate, site=BRIDGE, code=first.code).get_json()["reason"] == "ok"
    assert redeem(buyer.client, gate, site=TAN_KY, code=first.code).get_json()["reason"] == "ok"
    exit_scan = {
        "secret": first.code,
        "site": BRIDGE,
        "nonce": nonce(),
        "scanned_at": now_iso(),
        "direction": "exit",
    }
    left = buyer.client.post("/api/v1/checkin/redeem", json=exit_scan, headers=gate).get_json()
    assert left["reason"] == "ok"
    yesterday = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    synced = buyer.client.post(
        "/api/v1/checkin/sync",
        json={
            "scans": [
                {"secret": second.code, "site": BRIDGE, "nonce": nonce(), "scanned_at": yesterday},
                {"secret": third.code, "site": TAN_KY, "nonce": nonce(), "scanned_at": yesterday},
            ]
        },
        headers=gate,
    ).get_json()
    assert [r["reason"] for r in synced["results"]] == ["ok", "ok"]
    refunded = buyer.client.post(
        f"/api/v1/orders/{order['code']}/refund",
        json={"tickets": [format_serial(unused.serial)]},
        headers=desk,
    )
    assert refunded.status_code == 200, refunded.get_json()
    assert db.session.scalar(select(func.sum(EntryDay.entries))) == 4
    assert db.session.scalar(select(func.sum(EntryDay.exits))) == 1
    assert db.session.scalar(select(func.sum(RefundDay.refunds))) == 1
    assert_rollups_match_raw_rows()


GATES = 8


@pytest.mark.postgres
def test_offline_syncs_at_once_neither_deadlock_nor_miscount(tmp_path: Path) -> None:
    """Gates syncing at once, each its own tickets, scanned in opposite tier orders: their
    rollup rows are locked in different orders, which must queue, not deadlock."""
    with scratch_postgres_app(
        "hoian_rollup_race",
        TICKET_KEYS_DIR=str(tmp_path / "keys"),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": GATES, "max_overflow": 2},
    ) as app:
        migrate_and_seed(app)
        with app.app_context():
            ticketing_services.ensure_signing_key()
            load_products(languages=app.config["LANGUAGES"])
            order = ticketing_services.create_order(
                items=[
                    {"product": "old-town-pass", "tier": "domestic", "quantity": GATES},
                    {"product": "old-town-pass", "tier": "foreign", "quantity": GATES},
                ],
                email="race@hoian.test",
                payment_method="cash",
                language="en",
                idempotency_key=None,
            ).order
            ticketing_services.mark_order_paid(order_id=order.id, amount=order.total_amount)
            for ticket in order.tickets:
                ticket.valid_from -= timedelta(hours=1)  # bought before the gates went offline
            domestic = [t.code for t in order.tickets if t.tier == "domestic"]
            foreign = [t.code for t in order.tickets if t.tier == "foreign"]
            gates = []
            for n in range(GATES):
                _, issued = auth_services.enroll_device(
                    name=f"gate-{n}", enrolled_by_id=None, ttl_days=1
                )
                gates.append({"Authorization": f"Bearer {issued.token}"})
            db.session.commit()
        barrier = threading.Barrier(GATES)
        answers: list[Any] = []

        def gate(n: int) -> None:
            pair = (domestic[n], foreign[n]) if n % 2 else (foreign[n], domestic[n])
            start = datetime.now(UTC) - timedelta(minutes=1)
            scans = [
                {
                    "secret": code,
                    "site": site,
                    "nonce": secrets.token_hex(8),
                    "scanned_at": (start + timedelta(seconds=len(site) + k)).isoformat(),
                }
                for site in (BRIDGE, TAN_KY, "fujian-assembly-hall")
                for k, code in enumerate(pair)
            ]
            client = app.test_client()
            barrier.wait()
            answers.append(
                client.post("/api/v1/checkin/sync", json={"scans": scans}, headers=gates[n])
            )

        threads = [threading.Thread(target=gate, args=(n,)) for n in range(GATES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status_code for a in answers] == [200] * GATES, answers[0].get_json()
        reasons = {r["reason"] for a in answers for r in a.get_json()["results"]}
        assert reasons == {"ok"}
        with app.app_context():
            assert db.session.scalar(select(func.sum(EntryDay.entries))) == GATES * 2 * 3
            assert_rollups_match_raw_rows()


def _backfilled(app: Flask) -> None:
    with app.app_context():
        upgrade(revision="0016_feedback_review")  # the one before the rollups
        load_seed(languages=app.config["LANGUAGES"], source_lang=app.config["SOURCE_LANGUAGE"])
        generate_month(seed=17, orders=40)
        db.session.commit()
        upgrade()
        assert_rollups_match_raw_rows()
        assert db.session.scalar(select(func.sum(EntryDay.entries)))


def test_the_migration_fills_the_rollups_from_existing_rows_on_sqlite(tmp_path: Path) -> None:
    _backfilled(make_app(f"sqlite:///{tmp_path / 'before.db'}"))


@pytest.mark.postgres
def test_the_migration_fills_the_rollups_from_existing_rows_on_postgresql() -> None:
    with scratch_postgres_app("hoian_backfill") as app:
        _backfilled(app)
