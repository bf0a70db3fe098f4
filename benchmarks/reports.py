"""Reports and the events endpoint on PostgreSQL with a year of generated data.

At --scale 1 (issue #13's figure): 50,000 orders, 100,000 tickets, 1,000,000 entries, the
hourly listening rollup of about 5,000,000 play events, 20,000 feedback items. Each report is
asked for the whole year (weekly) and for one month (daily), five times; the median is kept.
The events endpoint then takes batches of 50 new events through the Flask app in this process.
The baseline, run the same way in the same invocation, is `GET /api/v1/languages`.

    python benchmarks/reports.py [--scale 0.1] [--events 20000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "testing")

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
YEAR_START = date(2025, 12, 1)

GENERATE = """
INSERT INTO ticket_signing_keys (id, public_key, status, created_at)
VALUES (250, :key, 'verify_only', now());
INSERT INTO ticket_products (id, slug, names, descriptions, currency, max_sites, validity_kind,
    validity_days, max_per_order, position, active, created_at, updated_at)
VALUES (950, 'bench-pass', '{}', '{}', 'VND', 10, 'purchase', 30, 20, 0, true, now(), now());
INSERT INTO orders (code, email, language, status, payment_method, currency, total_amount,
    paid_amount, refunded_amount, access_token_hash, access_token_salt, request_hash,
    expires_at, paid_at, created_at, updated_at)
SELECT 'B' || lpad(n::text, 9, '0'), 'b' || n || '@example.com', 'en', 'paid',
    (ARRAY['cash', 'vietqr', 'stripe'])[1 + n % 3], 'VND', 240000, 240000, 0,
    md5(n::text) || md5((n + 1)::text), md5(n::text), md5(n::text) || md5(n::text),
    t + interval '30 minutes', t, t, t
FROM (SELECT n, CAST(:start AS timestamptz) + (n * interval '1 second' * :spread) AS t
      FROM generate_series(1, :orders) AS n) AS g;
INSERT INTO order_items (order_id, position, product_id, tier, quantity, unit_amount)
SELECT id, 0, 950, (ARRAY['foreign', 'domestic', 'child'])[1 + id % 3], 2, 120000 FROM orders
WHERE code LIKE 'B%';
INSERT INTO tickets (serial, order_id, order_item_id, number, product_id, tier, unit_amount,
    max_sites, valid_from, valid_until, use_window_minutes, entries_count, status, generation,
    key_id, code, created_at, updated_at)
SELECT 900000000 + i.id * 2 + k, i.order_id, i.id, k, 950, i.tier, 120000, 10, o.paid_at,
    o.paid_at + interval '30 days', 0, 0, 'valid', 0, 250, 'bench', o.paid_at, o.paid_at
FROM order_items i JOIN orders o ON o.id = i.order_id, generate_series(1, 2) AS k
WHERE o.code LIKE 'B%';
INSERT INTO ticket_entries (ticket_id, site_id, entered_at, recorded_at, mode, exited_at)
SELECT t.id, s.id, t.valid_from + (s.rank * interval '17 minutes'), now(),
    CASE WHEN (t.id + s.id) % 4 = 0 THEN 'offline' ELSE 'online' END,
    CASE WHEN (t.id + s.id) % 2 = 0 THEN t.valid_from + (s.rank * interval '17 minutes')
         + interval '40 minutes' END
FROM tickets t
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rank FROM sites) AS s
  ON s.rank <= :sites_per_ticket
WHERE t.code = 'bench';
INSERT INTO payments (order_id, method, state, amount, received_amount, refunded_amount,
    currency, details, created_at, updated_at)
SELECT id, payment_method, 'succeeded', 240000, 240000, 0, 'VND', '{}', paid_at, paid_at
FROM orders WHERE code LIKE 'B%';
INSERT INTO payment_refunds (payment_id, state, origin, amount, currency, tickets, note,
    created_at, updated_at)
SELECT id, 'succeeded', 'api', 120000, 'VND', '[]', '', created_at + interval '1 day',
    created_at + interval '1 day'
FROM payments WHERE id % 25 = 0;
INSERT INTO listening_hours (hour, site_id, lang, requested_lang, opens, plays, quarters,
    completions, seconds, switches, downloads, offline)
SELECT date_trunc('hour', CAST(:start AS timestamptz) + h * interval '1 hour'), s.id, l.lang,
    CASE WHEN l.lang = 'en' AND h % 7 = 0 THEN 'it' ELSE '' END,
    :plays_per_row + 2, :plays_per_row, :plays_per_row * 3, :plays_per_row / 2,
    :plays_per_row * 180, 0, 0, 0
FROM generate_series(0, 8759) AS h, (SELECT id FROM sites) AS s,
     (SELECT unnest(ARRAY['vi', 'en', 'ko']) AS lang) AS l;
INSERT INTO feedback (site_id, rating, topic, comment, page_lang, channel, state, created_at)
SELECT (SELECT id FROM sites ORDER BY id LIMIT 1 OFFSET (n % 20)), 1 + n % 5,
    (ARRAY['audio_guide', 'translation_error', 'site_information', 'site',
           'facilities'])[1 + n % 5],
    '', 'en', 'page', (ARRAY['open', 'held', 'handled'])[1 + n % 3],
    CAST(:start AS timestamptz) + (n * interval '1 second' * (31536000 / :feedback))
FROM generate_series(1, :feedback) AS n;
ANALYZE;
"""


def _median_ms(run: Any, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--keep", action="store_true", help="leave the database (for EXPLAIN); print its name"
    )
    options = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from content.seeding import load_seed
    from insights import reports

    name = f"hoian_bench_{secrets.token_hex(4)}"
    admin = create_engine(
        make_url(POSTGRES).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES).set(drivername="postgresql+psycopg", database=name)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False),
            "LOG_JSON": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    figures: dict[str, Any] = {"scale": options.scale, "load_before": os.getloadavg()}
    try:
        with app.app_context():
            upgrade()
            load_seed(languages=app.config["LANGUAGES"], source_lang=app.config["SOURCE_LANGUAGE"])
            db.session.commit()
            orders = int(50_000 * options.scale)
            sites = db.session.scalar(text("SELECT count(*) FROM sites")) or 1
            # 2 tickets per order; entries per ticket so that the total is 1 M at scale 1.
            per_ticket = max(1, min(int(sites), round(1_000_000 / (2 * 50_000))))
            plays = max(1, round(5_000_000 * options.scale / (8760 * int(sites) * 3)))
            began = time.perf_counter()
            params = {
                "key": secrets.token_urlsafe(32)[:43],
                "start": str(YEAR_START),
                "spread": 31_536_000 // max(orders, 1),
                "orders": orders,
                "sites_per_ticket": per_ticket,
                "plays_per_row": plays,
                "feedback": int(20_000 * options.scale) or 1,
            }
            for statement in GENERATE.split(";\n"):
                if statement.strip():
                    db.session.execute(text(statement), params)
            db.session.commit()
            counts = {
                table: db.session.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("orders", "tickets", "ticket_entries", "listening_hours", "feedback")
            }
            counts["play_events_rolled_up"] = db.session.scalar(
                text("SELECT sum(plays) FROM listening_hours")
            )
            figures["rows"] = counts
            figures["generate_s"] = round(time.perf_counter() - began, 1)
            print(f"generated in {figures['generate_s']} s: {counts}")

            timings: dict[str, float] = {}
            end = YEAR_START + timedelta(days=364)
            for kind in reports.KINDS:
                for label, start, group in (
                    ("year-weekly", YEAR_START, "week"),
                    ("month-daily", end - timedelta(days=29), "day"),
                    ("week-hourly", end - timedelta(days=6), "hour"),
                ):
                    scope = reports.parse_range(
                        start=start,
                        end=end,
                        group=group,
                        site=None,
                        zone="Asia/Ho_Chi_Minh",
                        max_days=366,
                        today=end,
                    )
                    timings[f"{kind} {label}"] = round(
                        _median_ms(lambda s=scope, k=kind: reports.build_report(kind=k, scope=s)),
                        1,
                    )
            figures["report_ms"] = timings

        client = app.test_client()
        baseline = _median_ms(lambda: client.get("/api/v1/languages"), repeat=50)
        site = "cantonese-assembly-hall"
        batches = options.events // 50
        began = time.perf_counter()
        for _ in range(batches):
            batch = [
                {"id": uuid.uuid4().hex, "kind": "play_started", "site": site, "lang": "en"}
                for _ in range(50)
            ]
            answer = client.post("/api/v1/events", json={"events": batch})
            assert answer.status_code == 202, answer.get_json()
        elapsed = time.perf_counter() - began
        figures["events_per_s"] = round(batches * 50 / elapsed)
        figures["events_batch_ms"] = round(elapsed / batches * 1000, 2)
        figures["baseline_languages_ms"] = round(baseline, 2)
        figures["load_after"] = os.getloadavg()
    finally:
        with app.app_context():
            db.engine.dispose()
        if options.keep:
            print(f"kept the database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(json.dumps(figures, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "reports.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
