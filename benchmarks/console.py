"""Console page latency: every page a person reads in the console, server time per request.

A scratch PostgreSQL database is migrated and loaded with the seed catalogue plus `--sites`
generated sites (500 by default: texts in Vietnamese and English, every kind, spread over the
old town) and `--narrations` generated narrations (2,000 by default, each with its English
translation); a person holding every staff role signs in; each page is requested `--rounds`
times in-process through the whole Flask stack (session lookup, CSRF, role check, queries,
template) and the median and p95 are reported, with the ratio to the console's home page (the
foundation's, a few queries) requested the same way in the same run. Goal (issue 11): every
page ≤ 150 ms server time.

Usage: python benchmarks/console.py [--sites 500] [--narrations 2000] [--rounds 30]
(TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test: where the scratch
database is created; it is dropped on the way out.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "testing")
GOAL_MS = 150.0
PASSWORD = "bench password 1234"


def _pages(slug: str, tour: str, narration: int) -> dict[str, str]:
    return {
        "home (baseline)": "/console/",
        "sites list": "/console/sites",
        "sites search": "/console/sites?q=chua+cau",
        "sites filtered": "/console/sites?kind=old_house&status=published&missing=ko",
        "site edit": f"/console/sites/{slug}",
        "site images": f"/console/sites/{slug}/images",
        "tours list": "/console/tours",
        "tour edit": f"/console/tours/{tour}",
        "plaques": "/console/plaques",
        "narrations": "/console/narrations",
        "review queue": "/console/review",
        "review one": f"/console/review/{narration}",
        "glossary": "/console/glossary",
        "models": "/console/models",
        "feedback": "/console/feedback",
        "reports": "/console/reports",
        "orders": "/console/orders",
        "flags": "/console/flags",
        "users": "/console/users",
        "devices": "/console/devices",
        "audit": "/console/audit",
    }


def _generate(count: int) -> None:
    from app.extensions import db
    from content import services
    from content.models import SITE_KINDS

    for n in range(count):
        services.create_site(
            data={
                "slug": f"bench-site-{n:04d}",
                "kind": SITE_KINDS[n % len(SITE_KINDS)],
                "lat": 15.87 + (n % 50) * 0.0004,
                "lon": 108.32 + (n // 50) * 0.0004,
                "published": n % 5 != 0,
                "texts": {
                    "vi": {"name": f"Nhà cổ số {n}", "summary": "Một ngôi nhà gỗ cổ ở phố Hội."},
                    "en": {"name": f"Old house number {n}", "summary": "An old wooden house."},
                },
            }
        )
    db.session.commit()


def _generate_narrations(count: int) -> int:
    """`count` narrations spread over the sites, each with an English translation; the id of
    one on the covered bridge (the review page's)."""
    from app.extensions import db
    from content.models import Site
    from guides.models import Narration, NarrationText

    sites = db.session.scalars(db.select(Site).order_by(Site.id)).all()
    for n in range(count):
        narration = Narration(
            site_id=sites[n % len(sites)].id,
            source_lang="vi",
            text=f"Ngôi nhà số {n} được dựng vào thế kỷ mười tám. Gỗ lim giữ mát quanh năm.",
        )
        narration.texts.append(
            NarrationText(
                lang="en",
                text=f"House number {n} was built in the eighteenth century.",
                provenance="human",
            )
        )
        db.session.add(narration)
    db.session.commit()
    bridge = db.session.scalar(db.select(Site.id).where(Site.slug == "japanese-covered-bridge"))
    return int(
        db.session.scalar(
            db.select(Narration.id).where(Narration.site_id == bridge).order_by(Narration.id)
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--narrations", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--only", action="append", default=[], help="measure only this page (repeatable)"
    )
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from app.auth import services as auth
    from app.extensions import db
    from content.models import Tour
    from content.seeding import load_seed

    base = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"hoian_bench_{secrets.token_hex(4)}"
    admin = create_engine(
        make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(drivername="postgresql+psycopg", database=name)
    results: dict[str, Any] = {}
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False),
                "LOG_JSON": False,
                "LOG_LEVEL": "WARNING",
            }
        )
        with app.app_context():
            upgrade()
            load_seed(languages=app.config["LANGUAGES"], source_lang="vi")
            db.session.commit()
            _generate(args.sites)
            narration = _generate_narrations(args.narrations)
            auth.create_user(
                email="bench@hoian.test",
                password=PASSWORD,
                roles=["editor", "admin", "finance", "manager"],
            )
            db.session.commit()
            tour = db.session.scalar(db.select(Tour.slug).order_by(Tour.slug))
        client = app.test_client()
        client.get("/console/login")
        token = _csrf(client.get("/console/login").text)
        signed = client.post(
            "/console/login",
            data={"email": "bench@hoian.test", "password": PASSWORD, "csrf_token": token},
        )
        assert signed.status_code == 302, signed.text
        for label, path in _pages("japanese-covered-bridge", str(tour), narration).items():
            if args.only and label not in args.only and label != "home (baseline)":
                continue
            timings = []
            for _ in range(args.rounds + 2):
                started = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            timings = timings[2:]  # the first two warm the template and statement caches
            results[label] = {
                "path": path,
                "median_ms": round(statistics.median(timings), 1),
                "p95_ms": round(sorted(timings)[int(0.95 * (len(timings) - 1))], 1),
                "bytes": len(response.data),
            }
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    baseline = results["home (baseline)"]["median_ms"]
    print(f"{'page':<18} {'median ms':>10} {'p95 ms':>8} {'x home':>8} {'bytes':>9}  goal")
    failed = False
    for label, row in results.items():
        row["ratio"] = round(row["median_ms"] / baseline, 2)
        ok = row["p95_ms"] <= GOAL_MS
        failed |= not ok
        print(
            f"{label:<18} {row['median_ms']:>10} {row['p95_ms']:>8} {row['ratio']:>8} "
            f"{row['bytes']:>9}  {'ok' if ok else 'OVER ' + str(GOAL_MS)}"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    record = {
        "benchmark": "console",
        "sites_generated": args.sites,
        "narrations_generated": args.narrations,
        "rounds": args.rounds,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "results": results,
    }
    (out / "console.json").write_text(json.dumps(record, indent=2) + "\n")
    return 1 if failed else 0


def _csrf(page: str) -> str:
    marker = 'name="csrf_token" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


if __name__ == "__main__":
    raise SystemExit(main())
