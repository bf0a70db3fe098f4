"""Catalogue read benchmark (issue #2): cached site detail and `near=` search against bare WSGI.

Starts, in one run and under the same gunicorn config (`gunicorn.conf.py`, same workers,
threads and bind style):

* `benchmarks.bare_wsgi:app`, a bare WSGI app answering a small JSON body (the baseline);
* `wsgi:app` with the production configuration (`APP_ENV=production`, a random `SECRET_KEY`,
  PostgreSQL in a scratch database migrated and loaded with the seed catalogue, Redis when
  reachable, an https `PUBLIC_BASE_URL`);

then drives each target with wrk (loopback, fixed connections, threads and duration, after a
warm-up that also fills every worker's response cache), samples the RSS of every gunicorn
worker, prints a table and writes the figures as JSON under `benchmarks/results/`.
Everything it starts (servers, wrk, the scratch database) is stopped or dropped on the way
out, Ctrl-C and failures included.

    make bench                                  # or: <venv>/bin/python benchmarks/catalogue.py
    python benchmarks/catalogue.py --duration 15 --rounds 3

Environment: BENCH_POSTGRES_URL (default TEST_POSTGRES_URL, then
postgresql://postgres@127.0.0.1:5432/test) is where the scratch database is created;
BENCH_REDIS_URL (default redis://127.0.0.1:6379/13; empty: no Redis); WEB_CONCURRENCY and
GUNICORN_THREADS are passed to both servers alike.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import runpy
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

DETAIL_PATH = "/api/v1/sites/japanese-covered-bridge?lang=en"
NEAR_PATH = "/api/v1/sites?near=15.8771,108.3260&radius_m=1000&lang=en"
# name, server, path
TARGETS = [
    ("bare", "bare", "/"),
    ("site_detail", "app", DETAIL_PATH),
    ("near_query", "app", NEAR_PATH),
]
GOAL_RATIO = 0.6
GOAL_P99_MS = 50.0
# Issue #18: the tail no longer than the bare server's (in every round), the throughput close.
GOAL_TAIL_RATIO = 1.5
GOAL_TAIL_THROUGHPUT = 0.9
GOAL_RSS_MB = 150.0

# wrk calls done() once at the end; it prints one JSON line that this script parses. The share
# of requests slower than 100 ms is found by bisecting the percentile (iterating wrk's raw
# latency values is quadratic in their number).
WRK_REPORT_LUA = r"""
local function share_over(latency, limit_us)
  if latency.max <= limit_us then return 0 end
  local lo, hi = 0, 100
  for _ = 1, 40 do
    local mid = (lo + hi) / 2
    if latency:percentile(mid) <= limit_us then lo = mid else hi = mid end
  end
  return 100 - lo
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d},"over_100ms_pct":%.4f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), share_over(latency, 100000)))
end
"""


class BenchmarkError(RuntimeError):
    """The benchmark cannot run or its targets do not answer as expected."""


# ---------------------------------------------------------------- processes and clean-up


class Cleanup:
    """A stack of undo actions run in reverse on exit, each guarded so all of them run."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Any]] = []

    def push(self, what: str, action: Any) -> None:
        self._actions.append((what, action))

    def run(self) -> None:
        # Ctrl-C pressed again during clean-up must not leave servers or databases behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self._actions:
                what, action = self._actions.pop()
                try:
                    action()
                except Exception as exc:
                    print(f"clean-up: {what} failed: {exc}", file=sys.stderr)
        finally:
            signal.signal(signal.SIGINT, previous)


def stop_process(proc: subprocess.Popen[Any], *, grace_s: float = 10.0) -> None:
    """SIGTERM the process group we started (gunicorn master and workers), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def admin_postgres_url() -> str:
    """The PostgreSQL server the benchmarks make scratch databases on."""
    return os.environ.get("BENCH_POSTGRES_URL") or os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """This process's environment for the app in production configuration on `database_url`,
    without the settings of whatever started it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"FLASK_DEBUG", "DATABASE_URL", "REDIS_URL", "GUNICORN_BIND"}
    }
    env.update(
        APP_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=database_url,
        PUBLIC_BASE_URL="https://bench.invalid",
        FLASK_APP="wsgi:app",
        PYTHONDONTWRITEBYTECODE="1",
    )
    # One access line per request at INFO measures the log pipe too; warnings unless asked.
    env["LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env


def run_checked(cmd: list[str], *, env: dict[str, str], what: str) -> None:
    result = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise BenchmarkError(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")


# ---------------------------------------------------------------- services


@contextlib.contextmanager
def scratch_database(admin_url: str, cleanup: Cleanup) -> Iterator[str]:
    """Create a randomly named PostgreSQL database and yield its URL; dropped by `cleanup`."""
    import psycopg

    name = f"hoian_bench_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise BenchmarkError(f"cannot create a database through {admin_url}: {exc}") from exc

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    cleanup.push(f"drop database {name}", drop)
    parts = urlsplit(admin_url)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or HOST, parts.port or 6379), 2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def bench_redis_url() -> str:
    """BENCH_REDIS_URL (default redis://127.0.0.1:6379/13), or "" when it does not answer."""
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    if url and not redis_reachable(url):
        print(f"Redis at {url} not reachable: running without REDIS_URL", file=sys.stderr)
        return ""
    return url


def catalogue_env(database_url: str, *, redis_url: str, **extra: str) -> dict[str, str]:
    """The production environment on `database_url` (and Redis when given), once the database
    is migrated and loaded with the seed catalogue."""
    env = production_env(database_url, **extra)
    if redis_url:
        env["REDIS_URL"] = redis_url
    print(f"scratch database {urlsplit(database_url).path[1:]}: migrating and loading ...")
    run_checked([str(BIN / "flask"), "db", "upgrade"], env=env, what="flask db upgrade")
    run_checked([str(BIN / "flask"), "content", "load"], env=env, what="flask content load")
    return env


def effective_gunicorn_settings(env: dict[str, str]) -> dict[str, Any]:
    """Evaluate gunicorn.conf.py under the servers' environment (what both of them use)."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    keys = ("worker_class", "workers", "threads", "keepalive", "max_requests",
            "max_requests_jitter", "preload_app", "timeout", "accesslog")  # fmt: skip
    return {key: conf[key] for key in keys}


@dataclass
class Server:
    name: str
    app_spec: str
    port: int
    proc: subprocess.Popen[Any] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, *, env: dict[str, str], workdir: Path, cleanup: Cleanup) -> None:
        """Start gunicorn with the project's config; the bind comes from GUNICORN_BIND."""
        env = {**env, "GUNICORN_BIND": f"{HOST}:{self.port}"}
        self.log_path = workdir / f"gunicorn-{self.name}.log"
        log = self.log_path.open("wb")
        cmd = [
            str(BIN / "gunicorn"),
            "--config", "gunicorn.conf.py",
            # Our own control socket, so a gunicorn the developer is running keeps theirs.
            "--control-socket", str(workdir / f"{self.name}.ctl"),
            self.app_spec,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        proc = self.proc
        cleanup.push(f"stop gunicorn {self.name}", lambda: stop_process(proc))

    def wait_ready(self, path: str, *, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise BenchmarkError(f"gunicorn {self.name} exited:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.base_url + path, timeout=2) as resp,
            ):
                if resp.status == 200 and len(self.worker_pids()) > 0:
                    return
            time.sleep(0.2)
        raise BenchmarkError(f"gunicorn {self.name} not ready in {timeout_s}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return children_of(self.proc.pid)


# ---------------------------------------------------------------- measurements


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    except OSError:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    pids.append(int(stat.parent.name))
        return pids


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (and Pss, which shares out the pages preload_app lets workers share), in kB."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss_kb"] = int(line.split()[1])
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["pss_kb"] = int(line.split()[1])
    return out


def cpu_seconds(pid: int) -> float:
    """utime+stime of a process, plus that of its children already reaped (cutime+cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def server_cpu_seconds(master_pid: int) -> float:
    """CPU used so far by a gunicorn master and every worker it ever had.

    Workers recycled by max_requests are counted through the master's cutime/cstime once
    reaped, so the difference of two readings is the server's CPU over that interval.
    """
    total = cpu_seconds(master_pid)
    for pid in children_of(master_pid):
        with contextlib.suppress(OSError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def load_average_warned() -> list[float]:
    """The load average before a run, with a warning when the machine is already busy."""
    load = load_average()
    if load[0] > 0.5 * (os.cpu_count() or 1):
        print(
            f"warning: load average {load[0]} before the run; other work on this "
            "machine will lower and scatter every figure",
            file=sys.stderr,
        )
    return load


@dataclass
class RssSampler:
    """Samples every worker's RSS during a load (workers recycle after max_requests)."""

    server: Server
    interval_s: float = 0.5
    max_rss_kb: int = 0
    pids_seen: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        for pid in self.server.worker_pids():
            self.pids_seen.add(pid)
            self.max_rss_kb = max(self.max_rss_kb, memory_kb(pid).get("rss_kb", 0))

    def __enter__(self) -> RssSampler:
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                self.sample()

        self.sample()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


def run_wrk(
    url: str,
    *,
    server_pid: int,
    lua: Path,
    connections: int,
    threads: int,
    duration_s: int,
) -> dict[str, Any]:
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--timeout", "5s",
        "-s", str(lua), url,
    ]  # fmt: skip
    server_cpu_before = server_cpu_seconds(server_pid)
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=duration_s + 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wall = time.monotonic() - started
    server_cpu = server_cpu_seconds(server_pid) - server_cpu_before
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (usage.ru_utime + usage.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    match = re.search(r"^WRK_JSON (.*)$", stdout, re.MULTILINE)
    if proc.returncode != 0 or not match:
        raise BenchmarkError(f"wrk failed ({proc.returncode}): {stderr or stdout}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    return {
        "requests": raw["requests"],
        "duration_s": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1),
        "transfer_mb_s": round(raw["bytes"] / seconds / 1e6, 2),
        "latency_ms": {k: round(v / 1000, 2) for k, v in lat.items()},
        "over_100ms_pct": round(raw["over_100ms_pct"], 3),
        "errors": raw["errors"],
        # CPU cost per request: the throughput ratio is about the inverse ratio of these.
        "server_cpu_us_per_request": round(server_cpu / raw["requests"] * 1e6, 1),
        "server_cores_busy": round(server_cpu / wall, 2),
        "wrk_cpu_us_per_request": round(wrk_cpu / raw["requests"] * 1e6, 1),
        "wrk_cores_busy": round(wrk_cpu / wall, 2),
    }


def check_target(name: str, url: str) -> int:
    """One request before the load: a 200 with the JSON we mean to measure. Returns its size."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read()
            status, ctype = resp.status, resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        raise BenchmarkError(f"{name}: {url} answered {exc.code}: {exc.read()[:500]!r}") from exc
    data = json.loads(body)
    ok = status == 200 and "json" in ctype
    if name == "site_detail":
        ok = ok and data.get("slug") == "japanese-covered-bridge" and data.get("lang") == "en"
    elif name == "near_query":
        items = data.get("items") or []
        ok = ok and bool(items) and all("distance_m" in item for item in items)
    if not ok:
        raise BenchmarkError(f"{name}: unexpected answer from {url}: {body[:500]!r}")
    return len(body)


# ---------------------------------------------------------------- machine and report


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": (wrk_version.stdout or wrk_version.stderr).splitlines()[0].strip(),
        "note": "load generator (wrk) and gunicorn share the same cores over loopback",
    }


def code_version() -> dict[str, Any]:
    """The commit measured and whether tracked files differ from it (read-only git calls)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "note": "not a git checkout"}
    changed = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "tracked_files_modified": bool(changed)}


def print_table(result: dict[str, Any]) -> None:
    rows = result["targets"]
    print()
    head = (
        f"{'target':<12} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'CPU us/req':>10} {'CPU ratio':>9} {'wrk cores':>9} {'workers':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, row in rows.items():
        ratio = row.get("ratio_to_bare")
        cpu_ratio = row.get("cpu_cost_ratio_bare_over_target")
        errors = sum(row["errors"].values())
        print(
            f"{name:<12} {row['rps']:>8.0f} {'' if ratio is None else f'{ratio:.2f}':>6} "
            f"{row['latency_ms']['p50']:>7.1f} {row['latency_ms']['p99']:>7.1f} {errors:>6} "
            f"{row['server_cpu_us_per_request']:>10.0f} "
            f"{'' if cpu_ratio is None else f'{cpu_ratio:.2f}':>9} "
            f"{row['wrk_cores_busy']:>9.2f} {row['worker_pids_seen']:>7}"
        )
    print(
        "ratio: req/s over bare's. CPU us/req: gunicorn master and workers' CPU per request;\n"
        "CPU ratio: bare's over the target's. p99: worst round. workers: most worker pids\n"
        "seen in one measurement (max_requests recycles them)."
    )
    print()
    print("per round: p99 ms (ratio to bare's p99 in the same round), % of requests over 100 ms")
    for name, row in rows.items():
        cells = []
        for i, p99 in enumerate(row["p99_ms_per_round"]):
            ratios = row.get("p99_ratio_to_bare_per_round")
            ratio_text = f" ({ratios[i]:.2f}x)" if ratios else ""
            cells.append(f"{p99:.1f}{ratio_text} {row['over_100ms_pct_per_round'][i]:.3f}%")
        spread = max(row["p99_ms_per_round"]) - min(row["p99_ms_per_round"])
        print(f"{name:<12} " + " | ".join(cells) + f"  spread {spread:.1f} ms")
    print()
    for name, mem in result["memory"].items():
        print(
            f"{name} workers: max VmRSS after load {mem['max_rss_mb_after_load']:.1f} MB, "
            f"max sampled during load {mem['max_rss_mb_during_load']:.1f} MB, "
            f"max Pss after load {mem['max_pss_mb_after_load']:.1f} MB, "
            f"{mem['worker_pids_seen']} worker pids seen"
        )
    print()
    for goal, verdict in result["goals"].items():
        print(f"{goal:<40} {'met' if verdict['met'] else 'NOT met'}  ({verdict['value']})")


def evaluate_goals(targets: dict[str, Any], memory: dict[str, Any]) -> dict[str, Any]:
    goals: dict[str, Any] = {}
    for name in ("site_detail", "near_query"):
        ratio = targets[name]["ratio_to_bare"]
        goals[f"{name} throughput >= {GOAL_RATIO} x bare"] = {
            "met": ratio >= GOAL_RATIO,
            "value": ratio,
        }
        p99 = targets[name]["latency_ms"]["p99"]
        goals[f"{name} p99 <= {GOAL_P99_MS:g} ms"] = {"met": p99 <= GOAL_P99_MS, "value": p99}
        worst = max(targets[name]["p99_ratio_to_bare_per_round"])
        goals[f"{name} p99 <= {GOAL_TAIL_RATIO:g} x bare's, every round"] = {
            "met": worst <= GOAL_TAIL_RATIO,
            "value": worst,
        }
        goals[f"{name} throughput >= {GOAL_TAIL_THROUGHPUT:g} x bare"] = {
            "met": ratio >= GOAL_TAIL_THROUGHPUT,
            "value": ratio,
        }
    rss = max(memory["app"]["max_rss_mb_after_load"], memory["app"]["max_rss_mb_during_load"])
    goals[f"web worker RSS <= {GOAL_RSS_MB:g} MB"] = {"met": rss <= GOAL_RSS_MB, "value": rss}
    return goals


# ---------------------------------------------------------------- main


def benchmark(args: argparse.Namespace, cleanup: Cleanup) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise BenchmarkError("wrk is missing: install the Debian package (`make bench` does)")
    load_before = load_average_warned()
    workdir = Path(tempfile.mkdtemp(prefix="hoian-bench-"))
    cleanup.push("remove work dir", lambda: shutil.rmtree(workdir, ignore_errors=True))
    lua = workdir / "report.lua"
    lua.write_text(WRK_REPORT_LUA)

    admin_url = admin_postgres_url()
    redis_url = bench_redis_url()

    with scratch_database(admin_url, cleanup) as database_url:
        env = catalogue_env(database_url, redis_url=redis_url, LOG_LEVEL=args.log_level)

        settings = effective_gunicorn_settings(env)
        servers = {
            "bare": Server("bare", "benchmarks.bare_wsgi:app", free_port()),
            "app": Server("app", "wsgi:app", free_port()),
        }
        for server in servers.values():
            server.start(env=env, workdir=workdir, cleanup=cleanup)
        servers["bare"].wait_ready("/")
        servers["app"].wait_ready("/healthz")
        body_bytes = {
            name: check_target(name, servers[server].base_url + path)
            for name, server, path in TARGETS
        }

        runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in TARGETS}
        samplers: dict[str, list[RssSampler]] = {name: [] for name in servers}
        for round_no in range(1, args.rounds + 1):
            for name, server_name, path in TARGETS:
                server = servers[server_name]
                assert server.proc is not None
                url = server.base_url + path
                print(f"round {round_no}: {name}: warm-up {args.warmup}s, measure {args.duration}s")
                common = {
                    "server_pid": server.proc.pid,
                    "lua": lua,
                    "connections": args.connections,
                    "threads": args.threads,
                }
                run_wrk(url, duration_s=args.warmup, **common)
                with RssSampler(server) as sampler:
                    run = run_wrk(url, duration_s=args.duration, **common)
                run["worker_pids_seen"] = len(sampler.pids_seen)
                runs[name].append(run)
                samplers[server_name].append(sampler)

        memory: dict[str, Any] = {}
        for name, server in servers.items():
            after = {pid: memory_kb(pid) for pid in server.worker_pids()}
            pids_seen = set(after).union(*(sampler.pids_seen for sampler in samplers[name]))
            max_rss_during_kb = max(sampler.max_rss_kb for sampler in samplers[name])
            memory[name] = {
                "workers_after_load": {
                    str(pid): {k.replace("_kb", "_mb"): round(v / 1024, 1) for k, v in m.items()}
                    for pid, m in after.items()
                },
                "max_rss_mb_after_load": round(
                    max(m.get("rss_kb", 0) for m in after.values()) / 1024, 1
                ),
                "max_pss_mb_after_load": round(
                    max(m.get("pss_kb", 0) for m in after.values()) / 1024, 1
                ),
                "max_rss_mb_during_load": round(max_rss_during_kb / 1024, 1),
                "worker_pids_seen": len(pids_seen),
                "master_rss_mb": round(memory_kb(server.proc.pid).get("rss_kb", 0) / 1024, 1)
                if server.proc
                else None,
            }

    targets: dict[str, Any] = {}
    for name, server_name, path in TARGETS:
        measured = runs[name]
        total_requests = sum(r["requests"] for r in measured)
        total_seconds = sum(r["duration_s"] for r in measured)
        targets[name] = {
            "server": server_name,
            "path": path,
            "body_bytes": body_bytes[name],
            "rps": round(total_requests / total_seconds, 1),
            # Latency figures of a multi-round run are the worst round's, not an average.
            "latency_ms": {
                key: max(r["latency_ms"][key] for r in measured)
                for key in measured[0]["latency_ms"]
            },
            "errors": {
                key: sum(r["errors"][key] for r in measured) for key in measured[0]["errors"]
            },
            "server_cpu_us_per_request": round(
                sum(r["server_cpu_us_per_request"] * r["requests"] for r in measured)
                / total_requests,
                1,
            ),
            "p99_ms_per_round": [r["latency_ms"]["p99"] for r in measured],
            "over_100ms_pct_per_round": [r["over_100ms_pct"] for r in measured],
            "wrk_cores_busy": max(r["wrk_cores_busy"] for r in measured),
            "worker_pids_seen": max(r["worker_pids_seen"] for r in measured),
            "rounds": measured,
        }
    for name in ("site_detail", "near_query"):
        targets[name]["ratio_to_bare"] = round(targets[name]["rps"] / targets["bare"]["rps"], 3)
        # CPU per request does not depend on how much of the cores other work left us, so its
        # inverse ratio is a steadier reading of the same thing on a shared machine.
        targets[name]["cpu_cost_ratio_bare_over_target"] = round(
            targets["bare"]["server_cpu_us_per_request"]
            / targets[name]["server_cpu_us_per_request"],
            3,
        )
        # Bare and catalogue of the same round ran back to back: their ratio shows the spread.
        targets[name]["ratio_to_bare_per_round"] = [
            round(run["rps"] / bare_run["rps"], 3)
            for run, bare_run in zip(runs[name], runs["bare"], strict=True)
        ]
        targets[name]["p99_ratio_to_bare_per_round"] = [
            round(run["latency_ms"]["p99"] / bare_run["latency_ms"]["p99"], 2)
            for run, bare_run in zip(runs[name], runs["bare"], strict=True)
        ]

    result_machine_load = load_average()
    now = dt.datetime.now(dt.UTC)
    return {
        "benchmark": "catalogue",
        "date": now.isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "code": code_version(),
        "machine": {
            **machine(),
            "load_average_before": load_before,
            "load_average_after": result_machine_load,
        },
        "load": {
            "tool": "wrk",
            "connections": args.connections,
            "threads": args.threads,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "target_host": HOST,
        },
        "gunicorn": settings,
        "app_env": {
            "APP_ENV": "production",
            "LOG_LEVEL": args.log_level,
            "database": "postgresql (scratch database, seed catalogue)",
            "redis": redis_url or None,
        },
        "targets": targets,
        "memory": memory,
        "goals": evaluate_goals(targets, memory),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds measured per target and round"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="seconds of warm-up per target and round"
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="measure the targets N times, interleaved (bare, detail, near, bare, ...)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="the app's LOG_LEVEL (INFO writes an access line per request, as production does)",
    )
    args = parser.parse_args()
    return run_and_report(benchmark, args, name="catalogue", print_table=print_table)


def run_and_report(
    run: Callable[[argparse.Namespace, Cleanup], dict[str, Any]],
    args: argparse.Namespace,
    *,
    name: str,
    print_table: Callable[[dict[str, Any]], None],
) -> int:
    """Run a benchmark with its clean-up guaranteed, write its result (which has a `date`) to
    benchmarks/results/<name>-<date>.json and print its table; the process's exit status."""
    # Ctrl-C raises KeyboardInterrupt even where SIGINT was inherited ignored (a background
    # job of a script); SIGTERM and SIGHUP (a CI timeout, a closed terminal) unwind the same
    # way, so the clean-up below runs in every case.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    cleanup = Cleanup()
    try:
        result = run(args, cleanup)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; stopping servers and dropping the scratch database", file=sys.stderr)
        return 130
    finally:
        cleanup.run()

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{result['date'].replace(':', '').replace('+0000', 'Z')}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print_table(result)
    print(f"\nresult written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
