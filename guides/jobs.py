"""Pipeline jobs in the database: their tasks, state machines, leases and outcomes.

A job row and its task rows are the truth: whoever runs a task (an RQ worker, the local
worker subprocess, `flask guide build`) claims it with a lease, heartbeats while it works,
and records the outcome in one transaction. This module imports no speech engine: the web
process creates jobs and reads them; `guides/executor.py` runs them in a speech process.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine

from app import audit
from app.db import utcnow
from app.errors import NotFound
from app.extensions import db, locked
from app.states import StateMachine
from content.models import Provenance, Site, Tour
from guides import publishing
from guides.models import (
    JobState,
    Narration,
    PipelineEvent,
    PipelineJob,
    PipelineTask,
    TaskStage,
    TaskState,
)

#: Task states after which nothing more happens to the task.
FINAL_TASK_STATES = frozenset(
    {
        TaskState.SUCCEEDED,
        TaskState.SKIPPED,
        TaskState.PENDING,
        TaskState.FAILED,
        TaskState.CANCELLED,
    }
)
#: Upstream outcomes that let a dependent task run.
DONE_STATES = frozenset({TaskState.SUCCEEDED, TaskState.SKIPPED})


def _job_history(
    job: PipelineJob, event: str, before: str, after: str, changes: Mapping[str, Any]
) -> None:
    db.session.add(
        PipelineEvent(
            job_id=job.id, event=event, from_state=before, to_state=after, details=dict(changes)
        )
    )


def _task_history(
    task: PipelineTask, event: str, before: str, after: str, changes: Mapping[str, Any]
) -> None:
    db.session.add(
        PipelineEvent(
            job_id=task.job_id,
            task_id=task.id,
            event=event,
            from_state=before,
            to_state=after,
            details={"stage": task.stage, "lang": task.lang, **changes},
        )
    )


# The machine's moves go to the job's own history, not to the people's audit log.
JOBS = StateMachine(
    kind="pipeline_job",
    history=_job_history,
    noun="job",
    states=JobState,
    moves={
        (JobState.QUEUED, "start"): JobState.RUNNING,
        (JobState.QUEUED, "finish"): JobState.SUCCEEDED,
        (JobState.QUEUED, "fail"): JobState.FAILED,
        (JobState.RUNNING, "finish"): JobState.SUCCEEDED,
        (JobState.RUNNING, "fail"): JobState.FAILED,
    },
)

TASKS = StateMachine(
    kind="pipeline_task",
    history=_task_history,
    noun="task",
    states=TaskState,
    moves={
        (TaskState.BLOCKED, "unblock"): TaskState.QUEUED,
        (TaskState.BLOCKED, "cancel"): TaskState.CANCELLED,
        (TaskState.BLOCKED, "wait_model"): TaskState.PENDING,
        (TaskState.QUEUED, "lease"): TaskState.RUNNING,
        (TaskState.QUEUED, "cancel"): TaskState.CANCELLED,
        # A worker takes over a task whose previous worker stopped heartbeating.
        (TaskState.RUNNING, "take_over"): TaskState.RUNNING,
        (TaskState.RUNNING, "succeed"): TaskState.SUCCEEDED,
        (TaskState.RUNNING, "skip"): TaskState.SKIPPED,
        (TaskState.RUNNING, "retry"): TaskState.QUEUED,
        (TaskState.RUNNING, "fail"): TaskState.FAILED,
        (TaskState.RUNNING, "wait_model"): TaskState.PENDING,
    },
)


def transition_job(job: PipelineJob, event: str, *, changes: dict[str, Any] | None = None) -> None:
    """Move a job along its state machine, or refuse; every move is audited."""
    JOBS.move(job, event, changes=changes)
    now = utcnow()
    if job.state == JobState.RUNNING.value:
        job.started_at = now
    if job.state in (JobState.SUCCEEDED.value, JobState.FAILED.value):
        job.finished_at = now


def transition_task(
    task: PipelineTask, event: str, *, changes: dict[str, Any] | None = None
) -> None:
    """Move a task along its state machine, or refuse; every move is audited."""
    TASKS.move(task, event, changes=changes)
    if TaskState(task.state) in FINAL_TASK_STATES:
        task.finished_at = utcnow()
        task.lease_owner = None
        task.lease_expires_at = None


# --- creating jobs ----------------------------------------------------------------------------


def create_job(
    *,
    site: Site,
    narration: Narration,
    targets: Sequence[str],
    kind: str = "build",
    requested_by_id: int | None = None,
    auto_publish: bool | None = None,
) -> PipelineJob:
    """A job with its tasks: the source stage, then per language translation and speech.
    `targets` are served languages, checked by the caller (`narrations.check_languages`)."""
    source = narration.source_lang
    job = PipelineJob(
        site_id=site.id,
        narration_id=narration.id,
        kind=kind,
        source_lang=source,
        langs=list(targets),
        auto_publish=(current_app.config["AUTO_PUBLISH"] if auto_publish is None else auto_publish),
        requested_by_id=requested_by_id,
    )
    db.session.add(job)
    attempts = current_app.config["PIPELINE_MAX_ATTEMPTS"]

    def task(stage: TaskStage, lang: str, after: PipelineTask | None) -> PipelineTask:
        row = PipelineTask(
            stage=stage.value,
            lang=lang,
            state=(TaskState.BLOCKED if after else TaskState.QUEUED).value,
            max_attempts=attempts,
        )
        job.tasks.append(row)
        db.session.flush()
        if after is not None:
            row.depends_on_id = after.id
        return row

    source_task = task(TaskStage.SOURCE, source, None)
    for lang in targets:
        after = source_task
        human = narration.text_for(lang)
        if lang != source and not (human and human.provenance == Provenance.HUMAN.value):
            after = task(TaskStage.TRANSLATE, lang, source_task)
        task(TaskStage.SPEECH, lang, after)
    db.session.flush()
    audit.record(
        action="pipeline_job.create",
        object_type="pipeline_job",
        object_id=job.id,
        changes={"site": site.slug, "langs": list(targets), "kind": kind},
    )
    return job


def create_translation_job(
    *,
    kind: str,
    owner: Site | Tour,
    source_lang: str,
    targets: Sequence[str],
    requested_by_id: int | None = None,
) -> PipelineJob:
    """A job of one translate task per target language, none waiting for another (a site's or
    a tour's catalogue texts, or what another domain registered: `stages.register_job_kind`)."""
    is_tour = isinstance(owner, Tour)
    job = PipelineJob(
        site_id=None if is_tour else owner.id,
        tour_id=owner.id if is_tour else None,
        narration_id=None,
        kind=kind,
        source_lang=source_lang,
        langs=list(targets),
        auto_publish=False,
        requested_by_id=requested_by_id,
    )
    db.session.add(job)
    for lang in targets:
        job.tasks.append(
            PipelineTask(
                stage=TaskStage.TRANSLATE.value,
                lang=lang,
                state=TaskState.QUEUED.value,
                max_attempts=current_app.config["PIPELINE_MAX_ATTEMPTS"],
            )
        )
    db.session.flush()
    audit.record(
        action="pipeline_job.create",
        object_type="pipeline_job",
        object_id=job.id,
        changes={"tour" if is_tour else "site": owner.slug, "langs": list(targets), "kind": kind},
    )
    return job


def queued_tasks(job: PipelineJob) -> list[int]:
    """Tasks of a new job that may start at once (handed to the executor after the commit)."""
    return [t.id for t in job.tasks if t.state == TaskState.QUEUED.value]


def list_jobs(
    *,
    site_id: int | None = None,
    state: str | None = None,
    lang: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[PipelineJob], int]:
    """Jobs, newest first, of one site, in one state, or building one language; and how many."""
    query = select(PipelineJob)
    if site_id is not None:
        query = query.where(PipelineJob.site_id == site_id)
    if state is not None:
        query = query.where(PipelineJob.state == state)
    if lang is not None:
        query = query.where(
            PipelineJob.id.in_(select(PipelineTask.job_id).where(PipelineTask.lang == lang))
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(PipelineJob.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), int(total)


def get_job(*, job_id: int) -> PipelineJob:
    job = db.session.get(PipelineJob, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


# --- leases -----------------------------------------------------------------------------------


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def runnable_filter(now: datetime) -> Any:
    """Tasks a worker may claim now: queued and due, or running with an expired lease."""
    return or_(
        (PipelineTask.state == TaskState.QUEUED.value) & (PipelineTask.next_attempt_at <= now),
        (PipelineTask.state == TaskState.RUNNING.value) & (PipelineTask.lease_expires_at < now),
    )


def claim_task(*, task_id: int, owner: str, lease_s: float) -> PipelineTask | None:
    """Lease a runnable task to `owner` (compare-and-set), or None when it is not runnable."""
    now = utcnow()
    before = db.session.get(PipelineTask, task_id)
    if before is None:
        return None
    db.session.refresh(before)
    previous = (TaskState(before.state), before.lease_owner)
    result = db.session.execute(
        update(PipelineTask)
        .where(PipelineTask.id == task_id, runnable_filter(now))
        .values(
            state=TaskState.RUNNING.value,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_s),
            heartbeat_at=now,
            attempts=PipelineTask.attempts + 1,
            started_at=now,
            progress=0.0,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return None
    task = db.session.get(PipelineTask, task_id)
    assert task is not None
    db.session.refresh(task)
    state, old_owner = previous
    event = "take_over" if state is TaskState.RUNNING else "lease"
    _task_history(
        task,
        event,
        state.value,
        TaskState.RUNNING.value,
        {"owner": [old_owner, owner], "attempt": task.attempts},
    )
    job = task.job
    if job.state == JobState.QUEUED.value:
        transition_job(job, "start")
    return task


def still_owner(task: PipelineTask, owner: str) -> bool:
    """Whether `owner` still holds the lease; the row stays locked until the commit."""
    locked(PipelineTask, task.id)  # refreshes `task` (the same object) under the lock
    return task.state == TaskState.RUNNING.value and task.lease_owner == owner


def heartbeat(
    engine: Engine, *, task_id: int, owner: str, lease_s: float, progress: float | None = None
) -> bool:
    """Extend a lease, outside the worker's own transaction; False when it was lost."""
    now = utcnow()
    values: dict[str, Any] = {
        "heartbeat_at": now,
        "lease_expires_at": now + timedelta(seconds=lease_s),
    }
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, progress))
    with engine.begin() as conn:
        result = conn.execute(
            update(PipelineTask)
            .where(
                PipelineTask.id == task_id,
                PipelineTask.lease_owner == owner,
                PipelineTask.state == TaskState.RUNNING.value,
            )
            .values(**values)
        )
    return bool(result.rowcount == 1)


def next_runnable(*, job_id: int | None = None) -> list[int]:
    """Ids of tasks a worker may claim now, oldest first."""
    query = select(PipelineTask.id).where(runnable_filter(utcnow())).order_by(PipelineTask.id)
    if job_id is not None:
        query = query.where(PipelineTask.job_id == job_id)
    return list(db.session.scalars(query))


def next_wake_up(*, job_id: int | None = None) -> datetime | None:
    """When a task that is waiting (backoff, or another worker's lease) may become runnable."""
    query = select(PipelineTask).where(
        PipelineTask.state.in_([TaskState.QUEUED.value, TaskState.RUNNING.value])
    )
    if job_id is not None:
        query = query.where(PipelineTask.job_id == job_id)
    times = [
        (t.next_attempt_at if t.state == TaskState.QUEUED.value else t.lease_expires_at)
        for t in db.session.scalars(query)
    ]
    known = [t for t in times if t is not None]
    return min(known) if known else None


# --- outcomes ---------------------------------------------------------------------------------


def finish_task(
    task: PipelineTask,
    event: str,
    *,
    result: dict[str, Any] | None = None,
    reason: str | None = None,
    message: str | None = None,
) -> list[int]:
    """Record a task's outcome, then move what depends on it; ids of tasks now runnable."""
    if result is not None:
        task.result = result
    task.error_reason, task.error_message = reason, message
    task.progress = 1.0
    transition_task(task, event, changes={"reason": reason} if reason else None)
    return _advance(task.job)


def retry_or_fail(task: PipelineTask, *, reason: str, message: str) -> list[int]:
    """A failed attempt: try again later with backoff while attempts remain."""
    if task.attempts >= task.max_attempts:
        return finish_task(
            task, "fail", reason=reason, message=f"{message} (after {task.attempts} attempts)"
        )
    base = float(current_app.config["PIPELINE_RETRY_BASE_S"])
    delay = base * 4 ** max(0, task.attempts - 1)
    task.next_attempt_at = utcnow() + timedelta(seconds=delay)
    task.error_reason, task.error_message = reason, message
    transition_task(task, "retry", changes={"reason": reason, "retry_in_s": delay})
    return []


def _advance(job: PipelineJob) -> list[int]:
    """Unblock, cancel or park dependents of finished tasks; finish the job when all ended."""
    by_id = {t.id: t for t in job.tasks}
    runnable: list[int] = []
    changed = True
    while changed:
        changed = False
        for task in job.tasks:
            if task.state != TaskState.BLOCKED.value or task.depends_on_id is None:
                continue
            upstream = by_id[task.depends_on_id]
            state = TaskState(upstream.state)
            if state in DONE_STATES:
                transition_task(task, "unblock")
                runnable.append(task.id)
            elif state in (TaskState.FAILED, TaskState.CANCELLED):
                task.error_reason = upstream.error_reason
                task.error_message = f"{upstream.stage} ({upstream.lang}) did not succeed"
                transition_task(task, "cancel")
                changed = True
            elif state is TaskState.PENDING:
                task.error_reason = upstream.error_reason
                task.error_message = upstream.error_message
                transition_task(task, "wait_model")
                changed = True
    if all(TaskState(t.state) in FINAL_TASK_STATES for t in job.tasks):
        failed = next((t for t in job.tasks if t.state == TaskState.FAILED.value), None)
        if job.state == JobState.QUEUED.value:
            transition_job(job, "start")
        if failed is not None:
            job.error_reason, job.error_message = failed.error_reason, failed.error_message
            transition_job(job, "fail", changes={"reason": failed.error_reason})
        else:
            transition_job(job, "finish")
            _mark_waiting_for_models(job)
    return runnable


def _mark_waiting_for_models(job: PipelineJob) -> None:
    """A job that succeeded and left languages waiting for a model: those will come once an
    admin installs one, and tourists are told they are being prepared. A job that failed
    changes nothing they see."""
    for task in job.tasks:
        if task.stage == TaskStage.SPEECH.value and task.state == TaskState.PENDING.value:
            publishing.mark_waiting_for_model(
                site_id=job.guide_site_id,
                lang=task.lang,
                reason=task.error_message or task.error_reason or "waiting for a model",
            )
