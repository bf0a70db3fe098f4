"""Online redeems per second: 50 scanners on PostgreSQL through gunicorn (issue #4).

In one run, under the project's gunicorn config (`gunicorn.conf.py`):

* the baseline: `benchmarks.bare_wsgi:app` (what gunicorn alone costs per request);
* `wsgi:app` in production configuration on a scratch PostgreSQL database, migrated, with the
  catalogue, the products, a signing key, thousands of paid old-town tickets and 50 enrolled
  inspector devices.

wrk then sends `POST /api/v1/checkin/redeem` over 50 connections: each request carries a real
signed code, a site and a fresh nonce, rotating over the 50 device tokens, so every request
does the whole job (token, signature, row lock, rules, entry, scan log, audit, commit). It
reports redeems per second, how many admitted, latency, and the ratio to the bare baseline,
then checks the database: no ticket entered a site twice or more sites than it admits.

    <venv>/bin/python benchmarks/ticket_redeem.py [--duration 20] [--tickets 6000]

Environment: BENCH_POSTGRES_URL (default TEST_POSTGRES_URL, then
postgresql://postgres@127.0.0.1:5432/test); WEB_CONCURRENCY and GUNICORN_THREADS as usual.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.catalogue import (  # noqa: E402 - after the path is set
    BIN,
    WRK_REPORT_LUA,
    BenchmarkError,
    Cleanup,
    Server,
    admin_postgres_url,
    effective_gunicorn_settings,
    free_port,
    load_average,
    machine,
    production_env,
    run_checked,
    run_wrk,
    scratch_database,
)

RESULTS = ROOT / "benchmarks" / "results"
SCANNERS = 50
SITES = [
    "japanese-covered-bridge",
    "tan-ky-old-house",
    "fujian-assembly-hall",
    "quan-cong-temple",
    "museum-of-trade-ceramics",
]
GOAL_RPS = 500

# Request k redeems ticket (k mod N) at site (k div N) mod 5: like visitors at 50 gates, each
# ticket comes back to a new site only after every other ticket was scanned once more.
REDEEM_LUA = r"""
local threads = {}
local counter = 0
local codes, tokens, sites = {}, {}, {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do table.insert(out, line) end
  return out
end

function init(args)
  codes = lines("CODES_FILE")
  tokens = lines("TOKENS_FILE")
  sites = {"SITES"}
  ok, refused = 0, 0
end

request = function()
  local k = counter * NTHREADS + tid
  counter = counter + 1
  local ticket = k % #codes + 1
  local site = sites[math.floor(k / #codes) % #sites + 1]
  local body = '{"secret":"' .. codes[ticket] .. '","site":"' .. site ..
    '","nonce":"bench-' .. tid .. '-' .. counter .. '","scanned_at":"2026-03-01T08:00:00+07:00"}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[counter % #tokens + 1],
  }
  return wrk.format("POST", "/api/v1/checkin/redeem", headers, body)
end

response = function(status, headers, body)
  if status == 200 and string.find(body, '"status": *"ok"') then
    ok = ok + 1
  else
    refused = refused + 1
  end
end

local report = done
done = function(summary, latency, requests)
  local admitted, other = 0, 0
  for _, thread in ipairs(threads) do
    admitted = admitted + thread:get("ok")
    other = other + thread:get("refused")
  end
  local out = io.open("COUNTS_FILE", "w")
  out:write(string.format('{"admitted":%d,"refused":%d}', admitted, other))
  out:close()
  report(summary, latency, requests)
end
"""


def _prepare(database_url: str, keys_dir: Path, tickets: int, workdir: Path) -> tuple[Path, Path]:
    """Paid tickets and enrolled devices; their codes and tokens go to files for wrk."""
    from app import create_app
    from app.auth import services as auth_services
    from app.extensions import db
    from ticketing import services

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TICKET_KEYS_DIR": str(keys_dir),
            "LOG_LEVEL": "WARNING",
        }
    )
    codes: list[str] = []
    with app.app_context():
        while len(codes) < tickets:
            order = services.create_order(
                items=[{"product": "old-town-pass", "tier": "foreign", "quantity": 20}],
                email="bench@hoian.test",
                payment_method="cash",
                language="en",
                idempotency_key=None,
            ).order
            services.mark_order_paid(order_id=order.id, amount=order.total_amount)
            codes.extend(ticket.code for ticket in order.tickets)
            if len(codes) % 1000 == 0:
                db.session.commit()
        tokens = [
            auth_services.enroll_device(name=f"gate-{n}", enrolled_by_id=None, ttl_days=1)[1].token
            for n in range(SCANNERS)
        ]
        db.session.commit()
        db.engine.dispose()
    (workdir / "codes.txt").write_text("\n".join(codes[:tickets]) + "\n")
    (workdir / "tokens.txt").write_text("\n".join(tokens) + "\n")
    return workdir / "codes.txt", workdir / "tokens.txt"


def _check_database(database_url: str) -> dict[str, int]:
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        entries = conn.execute("SELECT count(*) FROM ticket_entries").fetchone()
        doubles = conn.execute(
            "SELECT count(*) FROM (SELECT ticket_id, site_id FROM ticket_entries "
            "GROUP BY 1, 2 HAVING count(*) > 1) AS d"
        ).fetchone()
        over = conn.execute(
            "SELECT count(*) FROM tickets t WHERE (SELECT count(*) FROM ticket_entries e "
            "WHERE e.ticket_id = t.id) > t.max_sites"
        ).fetchone()
        scans = conn.execute("SELECT count(*) FROM checkin_scans").fetchone()
    assert entries and doubles and over and scans
    return {
        "entries": entries[0],
        "scans": scans[0],
        "double_entries": doubles[0],
        "over_quota": over[0],
    }


def benchmark(args: argparse.Namespace, cleanup: Cleanup) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise BenchmarkError("wrk is missing: install the Debian package (`make bench` does)")
    workdir = Path(tempfile.mkdtemp(prefix="hoian-redeem-"))
    cleanup.push("remove work dir", lambda: shutil.rmtree(workdir, ignore_errors=True))
    with scratch_database(admin_postgres_url(), cleanup) as database_url:
        keys_dir = workdir / "keys"
        env = production_env(database_url, HOIAN_TICKET_KEYS_DIR=str(keys_dir))
        print("scratch database: migrating, loading the catalogue and products ...")
        for step in (["db", "upgrade"], ["content", "load"], ["tickets", "setup"]):
            run_checked([str(BIN / "flask"), *step], env=env, what="flask " + " ".join(step))
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            print(f"issuing {args.tickets} tickets and enrolling {SCANNERS} devices ...")
            codes, tokens = _prepare(database_url, keys_dir, args.tickets, workdir)
        finally:
            os.environ.clear()
            os.environ.update(saved)

        lua_report = workdir / "report.lua"
        lua_report.write_text(WRK_REPORT_LUA)
        lua_redeem = workdir / "redeem.lua"
        script = WRK_REPORT_LUA + REDEEM_LUA
        for name, value in {
            '"SITES"': ", ".join(f'"{site}"' for site in SITES),
            "NTHREADS": str(args.threads),
            "CODES_FILE": str(codes),
            "TOKENS_FILE": str(tokens),
            "COUNTS_FILE": str(workdir / "redeem-counts.json"),
        }.items():
            script = script.replace(name, value)
        lua_redeem.write_text(script)
        servers = {
            "bare": Server("bare", "benchmarks.bare_wsgi:app", free_port()),
            "app": Server("app", "wsgi:app", free_port()),
        }
        for server in servers.values():
            server.start(env=env, workdir=workdir, cleanup=cleanup)
        servers["bare"].wait_ready("/")
        servers["app"].wait_ready("/healthz")
        load_before = load_average()

        common = {"connections": SCANNERS, "threads": args.threads}
        bare = servers["bare"]
        assert bare.proc is not None
        baseline = run_wrk(
            bare.base_url + "/",
            server_pid=bare.proc.pid,
            lua=lua_report,
            duration_s=args.duration,
            **common,
        )
        app = servers["app"]
        assert app.proc is not None
        redeem = _run_redeem(app, lua_redeem, args)
        database = _check_database(database_url)
    ratio = redeem["rps"] / baseline["rps"] if baseline["rps"] else 0.0
    return {
        "benchmark": "ticket_redeem",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "gunicorn": effective_gunicorn_settings(env),
        "scanners": SCANNERS,
        "tickets": args.tickets,
        "bare": baseline,
        "redeem": redeem,
        "ratio_to_bare": round(ratio, 4),
        "database_after": database,
        "goal": {"redeems_per_s": GOAL_RPS, "met": redeem["rps"] >= GOAL_RPS},
    }


def _run_redeem(server: Server, lua: Path, args: argparse.Namespace) -> dict[str, Any]:
    assert server.proc is not None
    counts = lua.parent / "redeem-counts.json"
    result = run_wrk(
        server.base_url + "/api/v1/checkin/redeem",
        server_pid=server.proc.pid,
        lua=lua,
        connections=SCANNERS,
        threads=args.threads,
        duration_s=args.duration,
    )
    result.update(json.loads(counts.read_text()))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tickets", type=int, default=6000)
    args = parser.parse_args()
    cleanup = Cleanup()
    try:
        result = benchmark(args, cleanup)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        cleanup.run()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (RESULTS / f"ticket-redeem-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    redeem, bare = result["redeem"], result["bare"]
    print(f"bare WSGI baseline   {bare['rps']:>9,.0f} req/s")
    print(
        f"redeem (PostgreSQL)  {redeem['rps']:>9,.0f} req/s   p50 {redeem['latency_ms']['p50']} ms"
        f"   p99 {redeem['latency_ms']['p99']} ms   ratio {result['ratio_to_bare']}"
    )
    print(f"database after       {result['database_after']}")
    print(
        f"load average         before {result['load_average_before']} after "
        f"{result['load_average_after']}"
    )
    print(f"goal >= {GOAL_RPS}/s: {'met' if result['goal']['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
