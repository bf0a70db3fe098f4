"""Executors: the local worker subprocess, RQ on the real Redis, and a worker killed with
SIGKILL in the middle of a job whose task another worker takes over."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import REDIS_URL, service_or_skip
from tests.guides.conftest import VI_TEXT, job_state, worker_env

ROOT = Path(__file__).resolve().parents[2]


def _assert_only_complete_files(media: Path) -> None:
    """Every visible guide folder is complete: its manifest's files are all there, whole."""
    from app.extensions import db
    from guides.models import GuideTrackFile

    guides = media / "guides"
    # A worker killed before its first rename (still calibrating its voice) left no folder.
    for folder in guides.iterdir() if guides.exists() else []:
        if folder.name == ".staging":
            continue
        manifest = json.loads((folder / "manifest.json").read_text())
        for item in manifest["files"]:
            data = (folder / item["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert not list(folder.glob(".*"))  # no partial file
    for row in db.session.scalars(select(GuideTrackFile)):
        assert hashlib.sha256((media / row.path).read_bytes()).hexdigest() == row.sha256


def test_the_local_executor_runs_the_job_in_a_speech_subprocess(
    pipeline_app: Flask, start_text_job: Callable[..., int]
) -> None:
    from guides import executor

    job_id = start_text_job()
    worker = executor.spawn_local_worker(job_id)
    assert worker.wait(timeout=120) == 0
    assert worker.args[:3] == [sys.executable, "-m", "worker"]
    state = job_state(job_id)
    assert state["status"] == "succeeded" and state["languages"]["vi"]["status"] == "succeeded"


@pytest.fixture
def rq_queue(pipeline_app: Flask) -> Iterator[tuple[str, str]]:
    """The app pointed at the real Redis and a queue of its own: (Redis URL, queue name)."""
    from app.redis_client import get_redis

    url = service_or_skip("Redis", REDIS_URL, 6379)
    queue_name = f"guides-test-{secrets.token_hex(4)}"
    pipeline_app.config.update(REDIS_URL=url, PIPELINE_QUEUE=queue_name)
    pipeline_app.extensions.pop("hoian_redis", None)
    try:
        yield url, queue_name
    finally:
        get_redis().delete(f"rq:queue:{queue_name}")
        pipeline_app.config.update(REDIS_URL=None)
        pipeline_app.extensions.pop("hoian_redis", None)


def _burst_worker(app: Flask, url: str, queue_name: str, *options: str) -> str:
    """Run `rq worker --burst` in a speech subprocess until the queue is empty; its log."""
    env = worker_env(app, REDIS_URL=url, HOIAN_PIPELINE_QUEUE=queue_name)
    rq = Path(sys.executable).with_name("rq")
    result = subprocess.run(
        [str(rq), "worker", "--burst", *options, "--url", url, queue_name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr[-2000:]


def test_rq_workers_run_the_same_task_function(
    pipeline_app: Flask, start_text_job: Callable[..., int], rq_queue: tuple[str, str]
) -> None:
    from rq import Queue

    from app.redis_client import get_redis
    from guides import executor, jobs

    url, queue_name = rq_queue
    job_id = start_text_job()
    executor.dispatch(jobs.queued_tasks(jobs.get_job(job_id=job_id)), spawn=True)
    assert Queue(queue_name, connection=get_redis()).count == 1
    log = _burst_worker(pipeline_app, url, queue_name)
    state = job_state(job_id)
    assert state["status"] == "succeeded", (state, log)
    assert [s["status"] for s in state["stages"]] == ["succeeded", "succeeded"]


def test_an_rq_pipeline_worker_requeues_a_task_whose_worker_died(
    pipeline_app: Flask, start_text_job: Callable[..., int], rq_queue: tuple[str, str]
) -> None:
    """A task left running by a worker that died (its lease ran out) and never queued again:
    `rq worker -w worker.PipelineWorker` finds it in its maintenance and finishes it
    (a plain `rq worker` would find an empty queue and leave it)."""
    from datetime import timedelta

    from app.db import utcnow
    from app.extensions import db
    from guides import jobs
    from guides.models import PipelineTask

    url, queue_name = rq_queue
    job_id = start_text_job()
    [source] = jobs.queued_tasks(jobs.get_job(job_id=job_id))
    task = db.session.get(PipelineTask, source)
    assert task is not None
    task.state, task.attempts = "running", 1
    task.lease_owner, task.lease_expires_at = "dead-worker", utcnow() - timedelta(seconds=5)
    db.session.commit()  # nothing is on the queue: only maintenance can find it
    log = _burst_worker(pipeline_app, url, queue_name, "-w", "worker.PipelineWorker")
    state = job_state(job_id)
    assert state["status"] == "succeeded", (state, log)


def test_a_worker_killed_mid_job_is_taken_over_and_the_guide_completes(
    pipeline_app: Flask, start_text_job: Callable[..., int]
) -> None:
    from app.extensions import db
    from guides import narrations, published
    from guides.models import PipelineEvent, PipelineTask

    # Long enough that the speech task is still working when it is killed.
    job_id = start_text_job("\n\n".join([VI_TEXT] * 6))
    env = worker_env(pipeline_app)
    command = [sys.executable, "-m", "worker", "--job", str(job_id)]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    speech = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        db.session.rollback()
        speech = db.session.scalar(
            select(PipelineTask).where(
                PipelineTask.job_id == job_id, PipelineTask.stage == "speech"
            )
        )
        if speech is not None and speech.state == "running":
            break
        db.session.rollback()
        time.sleep(0.05)
    assert speech is not None and speech.state == "running", "the worker never reached speech"
    killed_owner = speech.lease_owner
    db.session.rollback()
    time.sleep(0.3)  # let it get into synthesis
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL
    _assert_only_complete_files(Path(pipeline_app.config["MEDIA_DIR"]))
    assert job_state(job_id)["status"] == "running"

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=420)
    assert second.returncode == 0, second.stderr[-2000:]
    state = job_state(job_id)
    assert state["status"] == "succeeded", state
    speech_view = next(s for s in state["stages"] if s["stage"] == "speech")
    assert speech_view["status"] == "succeeded" and speech_view["attempts"] == 2, speech_view
    takeover = db.session.scalars(
        select(PipelineEvent).where(PipelineEvent.event == "take_over")
    ).all()
    assert [row.details["owner"][0] for row in takeover] == [killed_owner]
    site = narrations.site_by_slug("japanese-covered-bridge")
    document = published.guide_document(site, requested="vi")
    assert document["status"] == "ready" and len(document["tracks"]) == 2, (
        document,
        speech_view["result"],
    )
    _assert_only_complete_files(Path(pipeline_app.config["MEDIA_DIR"]))
