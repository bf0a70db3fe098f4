"""The background job runner of app/tasks.py: jobs run after the commit and never after a
rollback, the thread runner runs due jobs in order in an app context of their own and
survives a failing job, and deferred jobs wait for their time."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app, g

from app import tasks
from app.extensions import db
from tests.conftest import make_app


@pytest.fixture
def threaded(tmp_path: Path) -> Flask:
    return make_app(f"sqlite:///{tmp_path / 't.db'}", TASK_RUNNER="thread")


def _recording(app: Flask) -> list[tuple[Any, str, bool]]:
    ran: list[tuple[Any, str, bool]] = []

    def job(value: Any) -> None:
        if value == "fail":
            raise RuntimeError("this job fails")
        # A fresh app context: nothing of the request that queued it leaks in.
        ran.append((value, threading.current_thread().name, "queued_by" in g))

    tasks.register(app, "test.record", job)
    return ran


def test_the_thread_runner_runs_due_jobs_in_their_own_context(threaded: Flask) -> None:
    ran = _recording(threaded)
    with threaded.app_context():
        g.queued_by = "request"
        tasks.enqueue("test.record", 1)
        tasks.enqueue("test.record", "fail")
        tasks.enqueue("test.record", 2)
        tasks.enqueue("test.record", 3, delay_s=3600)
        runner = tasks.local_runner()
        assert runner.drain(timeout_s=10)
        assert ran == [(1, "tasks", False), (2, "tasks", False)]
        assert runner.pending() == 1  # the deferred one waits for its hour
        assert tasks.runner_kind() == "thread"


def test_jobs_follow_the_commit_and_never_a_rollback(threaded: Flask) -> None:
    ran = _recording(threaded)
    with threaded.app_context():
        db.session.connection()
        tasks.enqueue_after_commit("test.record", "rolled back")
        db.session.rollback()
        db.session.connection()
        tasks.enqueue_after_commit("test.record", "committed")
        assert ran == []
        db.session.commit()
        assert tasks.local_runner().drain(timeout_s=10)
    assert [value for value, _, _ in ran] == ["committed"]


def test_an_unknown_job_is_refused_when_queued(threaded: Flask) -> None:
    with threaded.app_context(), pytest.raises(KeyError):
        tasks.enqueue("test.nothing")


def test_inline_runs_at_once_and_leaves_deferred_jobs_to_their_sweep(app: Flask) -> None:
    ran: list[Any] = []
    tasks.register(app, "test.inline", lambda value: ran.append((value, current_app.name)))
    with app.app_context():
        assert tasks.runner_kind() == "inline"
        tasks.enqueue("test.inline", "now")
        tasks.enqueue("test.inline", "later", delay_s=60)
    assert ran == [("now", app.name)]
