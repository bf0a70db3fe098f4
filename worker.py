"""Entry points of the speech workers, which make their own app (as `wsgi.py` does the web's).

- `rq worker -w worker.PipelineWorker guides`: an RQ worker (with Redis) that runs
  `worker.run_task` and also requeues, in RQ's periodic maintenance, tasks left behind by a
  worker that was killed.
- `rq worker --with-scheduler tasks`: the other background jobs (`app.tasks`: mail to buyers),
  each run through `worker.run_job`; any interpreter with the web requirements will do.
- `python -m worker [--job N] [--task N]`: the local executor (without Redis), which the web
  process starts on the speech venv's interpreter to run every runnable task, then exits.
"""

from __future__ import annotations

import argparse
import logging
import sys
from functools import cache
from typing import Any

from flask import Flask, has_app_context
from rq import Worker

from app import create_app, tasks
from guides import executor

log = logging.getLogger(__name__)


@cache
def worker_app() -> Flask:
    """The app of a worker process, made once, on first use."""
    return create_app()


def run_task(task_id: int) -> str:
    """Run one pipeline task (the RQ job function); safe to call again at any moment."""
    if has_app_context():
        return executor.execute(task_id)
    with worker_app().app_context():
        return executor.execute(task_id)


def run_job(name: str, *args: Any) -> None:
    """Run one job registered with `app.tasks` (the RQ job function of that queue)."""
    if has_app_context():
        tasks.run(name, *args)
        return
    with worker_app().app_context():
        tasks.run(name, *args)


class PipelineWorker(Worker):
    """RQ's worker, whose periodic maintenance (at start, then every `--maintenance-interval`
    seconds) also requeues pipeline tasks left behind by a worker that was killed, so no cron
    job is needed for that; each task runs in its own forked horse, under the memory cap."""

    def main_work_horse(self, job: Any, queue: Any) -> None:
        executor.cap_memory(int(worker_app().config["PIPELINE_TASK_MEMORY_MB"]))
        super().main_work_horse(job, queue)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        try:
            with worker_app().app_context():
                ids = executor.requeue_stalled()
        except Exception:  # maintenance must never stop the worker
            log.exception("requeueing stalled pipeline tasks failed")
            return
        if ids:
            log.info("requeued %d pipeline tasks: %s", len(ids), ids[:20])


def main(argv: list[str] | None = None) -> int:
    """The local worker process."""
    parser = argparse.ArgumentParser(prog="python -m worker")
    parser.add_argument("--job", type=int, default=None, help="only this job's tasks")
    parser.add_argument("--task", type=int, default=None, help="run this one task and exit")
    args = parser.parse_args(argv)
    # One task at a time: the process's cap is each task's.
    executor.cap_memory(int(worker_app().config["PIPELINE_TASK_MEMORY_MB"]))
    with worker_app().app_context():
        if args.task is not None:
            print(executor.execute(args.task))
            return 0
        ran = executor.work(job_id=args.job)
        log.info("local worker ran %s tasks", ran)
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: one set of listeners and caches.
    from worker import main as worker_main

    sys.exit(worker_main())
