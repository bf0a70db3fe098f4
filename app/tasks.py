"""Background jobs that follow a commit: on RQ when REDIS_URL is set, otherwise on a small
thread runner inside this process; the same job function runs either way.

A domain registers its job functions by name in its `init_app` (`register(app, "mail.deliver",
deliver)`) and queues them with `enqueue_after_commit("mail.deliver", 7)`, so a job never runs
for work that rolled back. Job functions take ids, run in an app context of their own, commit
their own work and are safe to run twice; retrying is the job's business: it queues itself
again with `delay_s`, its row knowing how many attempts were made.

`HOIAN_TASK_RUNNER` picks the runner: `rq`, `thread`, or `inline` (right after the commit, in
the committing thread, with deferred jobs left to the job's own sweep: the test suite, where
every request shares one connection and nothing may run behind a test's back); unset, RQ with
Redis and the thread runner without.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, has_app_context

from app.db import on_commit

log = logging.getLogger(__name__)

#: What RQ workers call: the entry point that makes the worker's app (`worker.py`).
RQ_FUNCTION = "worker.run_job"
#: How long a process leaving (a CLI command, a worker shutting down) waits for jobs due now.
_DRAIN_AT_EXIT_S = 20.0
_REGISTRY = "hoian_tasks"
_RUNNER = "hoian_task_runner"

JobFunction = Callable[..., object]


def register(app: Flask, name: str, function: JobFunction) -> None:
    """Make a job function runnable by name, by every runner."""
    app.extensions.setdefault(_REGISTRY, {})[name] = function


def run(name: str, *args: Any) -> None:
    """Run a registered job in the current app context (RQ workers and the runners call this)."""
    function: JobFunction = current_app.extensions[_REGISTRY][name]
    function(*args)


def runner_kind() -> str:
    """Which runner this app uses: rq, thread or inline."""
    chosen = current_app.config.get("TASK_RUNNER")
    if chosen:
        return str(chosen)
    return "rq" if current_app.config.get("REDIS_URL") else "thread"


def enqueue(name: str, *args: Any, delay_s: float = 0.0) -> None:
    """Hand a job to the runner now (its data must be committed); `delay_s` defers it."""
    if name not in current_app.extensions.get(_REGISTRY, {}):
        raise KeyError(f"no job {name!r} is registered")
    kind = runner_kind()
    if kind == "rq":
        _enqueue_rq(name, args, delay_s)
    elif kind == "inline":
        if delay_s <= 0:
            # A context of its own: a fresh session, as a worker would have.
            with current_app.app_context():
                _run_logged(name, args)
    else:
        local_runner().submit(name, args, delay_s=delay_s)


def enqueue_after_commit(name: str, *args: Any) -> None:
    """Queue a job once the current transaction commits, and never if it rolls back."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def hand_over() -> None:
        if has_app_context():
            enqueue(name, *args)
        else:
            with app.app_context():
                enqueue(name, *args)

    on_commit(hand_over)


def _run_logged(name: str, args: tuple[Any, ...]) -> None:
    try:
        run(name, *args)
    except Exception:  # a job's failure must never reach the request that queued it
        log.exception("job %s%r failed", name, args)


def _enqueue_rq(name: str, args: tuple[Any, ...], delay_s: float) -> None:
    from rq import Queue

    from app.redis_client import get_redis

    queue = Queue(current_app.config["TASKS_QUEUE"], connection=get_redis())
    options: dict[str, Any] = {"job_timeout": 600, "description": f"{name} {list(args)}"}
    if delay_s > 0:
        queue.enqueue_in(timedelta(seconds=delay_s), RQ_FUNCTION, name, *args, **options)
    else:
        queue.enqueue(RQ_FUNCTION, name, *args, **options)


class LocalRunner:
    """One daemon thread running jobs in due order, each in its own app context.

    Jobs live in memory: a process that stops loses the ones not yet due, which is why every
    job's row records what is left to do and a sweep (`flask mail retry`) queues it again.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pid = os.getpid()
        self._heap: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._running = 0
        self._thread: threading.Thread | None = None
        atexit.register(self.drain, timeout_s=_DRAIN_AT_EXIT_S)

    def submit(self, name: str, args: tuple[Any, ...], *, delay_s: float = 0.0) -> None:
        with self._changed:
            due = time.monotonic() + max(0.0, delay_s)
            heapq.heappush(self._heap, (due, next(self._order), name, args))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True, name="tasks")
                self._thread.start()
            self._changed.notify_all()

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._changed.wait(wait)
                _, _, name, args = heapq.heappop(self._heap)
                self._running += 1
            try:
                with self.app.app_context():
                    _run_logged(name, args)
            finally:
                with self._changed:
                    self._running -= 1
                    self._changed.notify_all()

    def drain(self, *, timeout_s: float) -> bool:
        """Wait until no job is due now or running (later retries stay queued); whether it
        got there within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._running or (self._heap and self._heap[0][0] <= time.monotonic()):
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._changed.wait(min(left, 0.5))
            return True

    def pending(self) -> int:
        """Jobs waiting, due or not."""
        with self._changed:
            return len(self._heap)


def local_runner() -> LocalRunner:
    """This process's thread runner, made on first use (after a fork, a new one)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runner: LocalRunner | None = app.extensions.get(_RUNNER)
    if runner is None or runner.pid != os.getpid():
        runner = LocalRunner(app)
        app.extensions[_RUNNER] = runner
    return runner
