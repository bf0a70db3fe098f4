"""Reports equal the counts made independently from a generated month's raw rows, on SQLite
and PostgreSQL; local days and hours are right across midnight; bad ranges are refused; CSV
and the workbook hold the same figures; only managers, finance and admins read them."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from app.extensions import db
from insights import reports
from tests.conftest import migrate_and_seed, scratch_postgres_app
from tests.insights.generate import MONTH_DAYS, MONTH_START, SITES, Expected, generate_month

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
