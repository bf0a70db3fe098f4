"""Running pipeline tasks: `execute`, the one function every executor calls, and the
executors that call it.

`execute(task_id)` claims the task's lease, runs its stage and records the outcome. RQ workers
run it through `worker.run_task` (`rq worker -w worker.PipelineWorker guides`); without Redis, a
local worker subprocess (`python -m worker`, on the speech venv's interpreter) runs `work`,
which calls it for every runnable task. The speech stack is imported only inside the stages,
so the web process can import this module to queue work.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy.engine import Engine

from app.db import begin_write, on_commit, transaction_info, utcnow
from app.extensions import db
from guides import jobs, stages
from guides.models import PipelineJob, PipelineTask, TaskState
from guides.narrations import start_build

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
#: What RQ workers call: the entry point, which makes the worker's app (`worker.py`).
TASK_FUNCTION = "worker.run_task"
_children: list[subprocess.Popen[bytes]] = []


def cap_memory(megabytes: int) -> None:
    """Cap this worker process's memory, so that a task needing more fails with MemoryError,
    once and by name (`out_of_memory`), instead of the machine's OOM killer taking the worker and
    the task being taken over and run again, to die again. 0: no cap.

    The cap is RLIMIT_DATA (heap and private mappings, Linux 4.7+), not RLIMIT_AS: importing
    torch alone maps 4.7 GB of address space, most of it never used.
    """
    if megabytes <= 0:
        return
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def requeue_stalled() -> list[int]:
    """Queue every task a worker may claim now: due retries, and tasks whose worker died
    (its lease ran out). Claiming is idempotent, so a task queued twice runs once."""
    ids = jobs.next_runnable()
    db.session.rollback()
    dispatch(ids, spawn=True)
    return ids


class Heartbeat:
    """Extends the task's lease from a thread while the stage works; stops when told to."""

    def __init__(self, task_id: int, owner: str, lease_s: float) -> None:
        self.task_id, self.owner, self.lease_s = task_id, owner, lease_s
        self.progress: float | None = None
        self.lost = False
        self._engine = db.engine
        # A session bound to one connection (a test's rolled-back transaction) cannot be seen
        # from another connection; nothing else could take the task over there anyway.
        self.enabled = isinstance(db.session.get_bind(), Engine)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"lease-{task_id}")

    def __enter__(self) -> Heartbeat:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()

    def _run(self) -> None:
        interval = max(0.2, self.lease_s / 3)
        while not self._stop.wait(interval):
            try:
                alive = jobs.heartbeat(
                    self._engine,
                    task_id=self.task_id,
                    owner=self.owner,
                    lease_s=self.lease_s,
                    progress=self.progress,
                )
            except Exception:  # a database hiccup: the next beat tries again
                log.warning("heartbeat of task %s failed", self.task_id, exc_info=True)
                continue
            if not alive:
                self.lost = True
                return


def execute(task_id: int, *, owner: str | None = None) -> str:
    """Claim a task, run its stage, record the outcome; the task's state afterwards."""
    owner = owner or jobs.new_worker_id()
    lease_s = float(current_app.config["PIPELINE_LEASE_S"])
    begin_write()
    task = jobs.claim_task(task_id=task_id, owner=owner, lease_s=lease_s)
    if task is None:
        db.session.rollback()
        return "not_runnable"
    db.session.commit()
    log.info(
        "task %s (%s %s) attempt %s by %s", task.id, task.stage, task.lang, task.attempts, owner
    )
    outcome: stages.Outcome | None = None
    error: stages.StageError | None = None
    with Heartbeat(task.id, owner, lease_s) as beat:
        try:
            outcome = stages.run_stage(task, beat)
        except stages.StageError as exc:
            error = exc
        except MemoryError:
            # Over the worker's cap (cap_memory): the same input would need as much again.
            log.error("task %s needed more memory than a task may use", task.id)
            error = stages.StageError(
                "out_of_memory",
                "the task needed more memory than a pipeline task may use "
                f"({current_app.config['PIPELINE_TASK_MEMORY_MB']} MB, HOIAN_TASK_MEMORY_MB)",
            )
        except Exception as exc:
            log.exception("task %s crashed", task.id)
            message = f"{type(exc).__name__}: {exc}"[:500]
            error = stages.StageError("internal_error", message, retryable=True)
    db.session.rollback()
    begin_write()
    task = db.session.get(PipelineTask, task_id)
    assert task is not None
    if not jobs.still_owner(task, owner):
        db.session.rollback()
        log.warning("task %s: lease lost to %s; its outcome is dropped", task_id, task.lease_owner)
        return "lease_lost"
    runnable = _record(task, outcome, error)
    state = task.state
    retry_at = task.next_attempt_at if state == TaskState.QUEUED.value else None
    db.session.commit()
    dispatch(runnable, spawn=False)
    if retry_at is not None:
        dispatch([task_id], spawn=False, at=retry_at)
    return state


def _record(
    task: PipelineTask, outcome: stages.Outcome | None, error: stages.StageError | None
) -> list[int]:
    """Write what the stage did (or why it did not) and move the job on; runnable task ids."""
    if outcome is not None:
        if outcome.apply is not None:
            outcome.apply()
        return jobs.finish_task(task, outcome.event, result=outcome.result)
    assert error is not None
    if error.model_missing:
        return jobs.finish_task(task, "wait_model", reason=error.reason, message=error.message)
    if error.retryable:
        return jobs.retry_or_fail(task, reason=error.reason, message=error.message)
    return jobs.finish_task(task, "fail", reason=error.reason, message=error.message)


# --- dispatching ------------------------------------------------------------------------------


def queue_after_commit(task_ids: Iterable[int]) -> None:
    """Hand these tasks to the executor once the current transaction has committed."""
    pending: list[int] = transaction_info().setdefault("pipeline_dispatch", [])
    pending.extend(task_ids)

    def hand_over() -> None:
        if has_app_context():
            dispatch(pending, spawn=True)

    on_commit(hand_over, key="pipeline_dispatch")


def start_job(job: PipelineJob) -> None:
    """Run a new job's first tasks once the transaction that created it commits."""
    queue_after_commit(jobs.queued_tasks(job))


def dispatch(task_ids: Iterable[int], *, spawn: bool, at: Any = None) -> None:
    """RQ when REDIS_URL is set; otherwise a local worker subprocess (when `spawn`)."""
    ids = list(task_ids)
    if not ids:
        return
    if current_app.config.get("REDIS_URL"):
        _enqueue(ids, at=at)
    elif spawn and current_app.config["PIPELINE_SPAWN_WORKERS"]:
        spawn_local_worker()


def _enqueue(task_ids: list[int], *, at: Any = None) -> None:
    from rq import Queue, Retry

    from app.redis_client import get_redis

    queue = Queue(current_app.config["PIPELINE_QUEUE"], connection=get_redis())
    for task_id in task_ids:
        options: dict[str, Any] = {
            "job_timeout": 3600,
            "retry": Retry(max=2),
            "description": f"pipeline task {task_id}",
        }
        if at is not None:
            queue.enqueue_at(at, TASK_FUNCTION, task_id, **options)
        else:
            queue.enqueue(TASK_FUNCTION, task_id, **options)


def worker_command(job_id: int | None = None) -> list[str]:
    """The local worker: the speech venv's interpreter running `worker.py`."""
    python = current_app.config.get("SPEECH_PYTHON") or sys.executable
    command = [python, "-m", "worker"]
    return [*command, "--job", str(job_id)] if job_id is not None else command


def worker_environment() -> dict[str, str]:
    """The environment of a local worker: ours, plus what this app was configured with."""
    config = current_app.config
    env = dict(os.environ)
    env["DATABASE_URL"] = config["SQLALCHEMY_DATABASE_URI"]
    env["MEDIA_DIR"] = str(config["MEDIA_DIR"])
    env["HOIAN_PIPELINE_LEASE_S"] = str(config["PIPELINE_LEASE_S"])
    env["HOIAN_PIPELINE_RETRY_BASE_S"] = str(config["PIPELINE_RETRY_BASE_S"])
    env["HOIAN_PIPELINE_MAX_ATTEMPTS"] = str(config["PIPELINE_MAX_ATTEMPTS"])
    env["HOIAN_TASK_MEMORY_MB"] = str(config["PIPELINE_TASK_MEMORY_MB"])
    env["HOIAN_AUTO_PUBLISH"] = "1" if config["AUTO_PUBLISH"] else "0"
    env["HOIAN_LANGUAGES"] = ",".join(config["LANGUAGES"])
    env["HOIAN_SOURCE_LANGUAGE"] = config["SOURCE_LANGUAGE"]
    env["HOIAN_FALLBACK_CHAIN"] = ",".join(config["FALLBACK_CHAIN"])
    env.pop("REDIS_URL", None)
    env.update(stages.settings_environment())
    return env


def spawn_local_worker(job_id: int | None = None) -> subprocess.Popen[bytes]:
    """Start a worker subprocess that runs every runnable task, then exits."""
    for child in list(_children):  # reap the ones that ended
        if child.poll() is not None:
            _children.remove(child)
    log_path = Path(current_app.instance_path) / "pipeline-worker.log"
    with log_path.open("ab") as out:
        child = subprocess.Popen(  # noqa: S603 - our interpreter and module, no shell
            worker_command(job_id),
            cwd=ROOT,
            env=worker_environment(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children.append(child)
    return child


def work(
    *,
    job_id: int | None = None,
    owner: str | None = None,
    on_task: Callable[[PipelineTask, str], None] | None = None,
) -> int:
    """Run runnable tasks until none is left or waiting; how many this worker ran."""
    owner = owner or jobs.new_worker_id()
    max_nap = float(current_app.config["PIPELINE_WORKER_IDLE_S"])
    ran = 0
    while True:
        ids = jobs.next_runnable(job_id=job_id)
        db.session.rollback()
        for task_id in ids:
            state = execute(task_id, owner=owner)
            if state != "not_runnable":
                ran += 1
                if on_task is not None:
                    task = db.session.get(PipelineTask, task_id)
                    assert task is not None
                    on_task(task, state)
        if ids:
            continue
        wake = jobs.next_wake_up(job_id=job_id)
        db.session.rollback()
        if wake is None:
            return ran
        delay = (wake - utcnow()) / timedelta(seconds=1)
        time.sleep(min(max(0.05, delay + 0.05), max_nap))


def run_job_here(
    *, job_id: int, on_task: Callable[[PipelineTask, str], None] | None = None
) -> PipelineJob:
    """Run a committed job's tasks in this process (the CLI; needs the speech venv)."""
    work(job_id=job_id, on_task=on_task)
    db.session.expire_all()
    return jobs.get_job(job_id=job_id)


def build_guide(
    site_slug: str, *, langs: Iterable[str] | None = None, auto_publish: bool = True
) -> PipelineJob:
    """Build and publish a site's guides now, synchronously (CLI and tests; speech venv)."""
    job = start_build(site_slug=site_slug, langs=langs)
    job.auto_publish = auto_publish
    db.session.commit()
    return run_job_here(job_id=job.id)
