"""The speech pipeline's jobs in the database: their state machines, leases, and publishing.

A job row and its task rows are the truth: whoever runs a task (an RQ worker, the local
worker subprocess, `flask guide build`) claims it with a lease, heartbeats while it works,
and records the outcome in one transaction. This module imports no speech engine: the web
process creates jobs and reads them; `content/jobs.py` runs them in a speech process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from app import audit
from app.db import utcnow
from app.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.extensions import db, locked
from content import services
from content.cache import bump_catalogue_version
from content.models import (
    Guide,
    GuideStatus,
    GuideTrack,
    GuideTrackFile,
    JobState,
    Narration,
    NarrationText,
    PipelineJob,
    PipelineTask,
    Provenance,
    Site,
    SourceKind,
    TaskStage,
    TaskState,
)

log = logging.getLogger(__name__)

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

# --- state machines ---------------------------------------------------------------------------

_JOB_MOVES: dict[tuple[JobState, str], JobState] = {
    (JobState.QUEUED, "start"): JobState.RUNNING,
    (JobState.QUEUED, "finish"): JobState.SUCCEEDED,
    (JobState.QUEUED, "fail"): JobState.FAILED,
    (JobState.RUNNING, "finish"): JobState.SUCCEEDED,
    (JobState.RUNNING, "fail"): JobState.FAILED,
}

_TASK_MOVES: dict[tuple[TaskState, str], TaskState] = {
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
}


def transition_job(job: PipelineJob, event: str, *, changes: dict[str, Any] | None = None) -> None:
    """Move a job along its state machine, or refuse; every move is audited."""
    current = JobState(job.state)
    target = _JOB_MOVES.get((current, event))
    if target is None:
        raise Conflict(
            f"job {job.id} is {current.value}; it cannot {event}",
            reason="illegal_transition",
            errors={"state": [current.value], "event": [event]},
        )
    job.state = target.value
    now = utcnow()
    if target is JobState.RUNNING:
        job.started_at = now
    if target in (JobState.SUCCEEDED, JobState.FAILED):
        job.finished_at = now
    audit.record(
        action=f"pipeline_job.{event}",
        object_type="pipeline_job",
        object_id=job.id,
        changes={"state": [current.value, target.value], **(changes or {})},
    )


def transition_task(
    task: PipelineTask, event: str, *, changes: dict[str, Any] | None = None
) -> None:
    """Move a task along its state machine, or refuse; every move is audited."""
    current = TaskState(task.state)
    target = _TASK_MOVES.get((current, event))
    if target is None:
        raise Conflict(
            f"task {task.id} is {current.value}; it cannot {event.replace('_', ' ')}",
            reason="illegal_transition",
            errors={"state": [current.value], "event": [event]},
        )
    task.state = target.value
    if target in FINAL_TASK_STATES:
        task.finished_at = utcnow()
        task.lease_owner = None
        task.lease_expires_at = None
    audit.record(
        action=f"pipeline_task.{event}",
        object_type="pipeline_task",
        object_id=task.id,
        changes={
            "state": [current.value, target.value],
            "job": task.job_id,
            "stage": task.stage,
            "lang": task.lang,
            **(changes or {}),
        },
    )


# --- creating jobs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recording:
    """An upload saved under the media directory."""

    path: str  # relative to the media directory
    sha256: str


#: Containers staff may upload; the job decodes the whole file to be sure.
RECORDING_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".webm")


class UploadTooLarge(DomainError):
    status, reason = 413, "file_too_large"


def save_recording(*, stream: IO[bytes], filename: str, max_bytes: int) -> Recording:
    """Copy an upload under the media directory, named by its sha256, within the size limit."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in RECORDING_SUFFIXES:
        raise ValidationFailed(
            f"{suffix or 'files without an extension'} cannot be uploaded; "
            "send wav, mp3, m4a, ogg or webm",
            reason="unsupported_format",
            errors={"audio": [", ".join(RECORDING_SUFFIXES)]},
        )
    folder = Path(current_app.config["MEDIA_DIR"]) / "narrations"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as out:
        try:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(
                        f"the file is larger than {max_bytes / 1e6:.0f} MB",
                        errors={"audio": [f"at most {max_bytes} bytes"]},
                    )
                digest.update(chunk)
                out.write(chunk)
        except BaseException:
            os.unlink(out.name)
            raise
    if size == 0:
        os.unlink(out.name)
        raise ValidationFailed(
            "the file is empty", reason="audio_rejected", errors={"audio": ["empty"]}
        )
    name = f"{digest.hexdigest()}{suffix}"
    os.replace(out.name, folder / name)
    return Recording(path=f"narrations/{name}", sha256=digest.hexdigest())


def current_narration(site: Site) -> Narration | None:
    """The site's newest narration."""
    return db.session.scalar(
        select(Narration).where(Narration.site_id == site.id).order_by(Narration.id.desc())
    )


def check_languages(*, source_lang: str, langs: Iterable[str] | None) -> list[str]:
    """The languages to build, once the source and every target are served languages (checked
    before an upload is kept, so a refused request leaves no file behind)."""
    _source_language(source_lang)
    return _target_languages(langs)


def _source_language(source_lang: str) -> None:
    if source_lang not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(
            f"{source_lang!r} is not a served language",
            reason="unsupported_language",
            errors={"source_lang": [", ".join(current_app.config["LANGUAGES"])]},
        )


def _target_languages(langs: Iterable[str] | None) -> list[str]:
    configured = list(current_app.config["LANGUAGES"])
    if langs is None:
        return configured
    wanted = list(dict.fromkeys(langs))
    unknown = [code for code in wanted if code not in configured]
    if unknown:
        raise ValidationFailed(
            f"languages not served: {', '.join(unknown)}",
            reason="unsupported_language",
            errors={"langs": [f"each one of: {', '.join(configured)}"]},
        )
    if not wanted:
        raise ValidationFailed("name at least one language", errors={"langs": ["empty"]})
    return wanted


def create_narration(
    *,
    site: Site,
    source_lang: str,
    text: str | None = None,
    recording: Recording | None = None,
) -> Narration:
    """A new narration for a site, from text or from a saved recording."""
    _source_language(source_lang)
    if recording is None and not (text or "").strip():
        raise ValidationFailed(
            "the narration text is empty", reason="text_rejected", errors={"text": ["empty"]}
        )
    narration = Narration(
        site_id=site.id,
        source_lang=source_lang,
        text=(text or "").strip() if recording is None else "",
        source_kind=(SourceKind.RECORDING if recording else SourceKind.TEXT).value,
        recording_path=recording.path if recording else None,
        recording_sha256=recording.sha256 if recording else None,
    )
    db.session.add(narration)
    db.session.flush()
    audit.record(
        action="narration.create",
        object_type="narration",
        object_id=narration.id,
        changes={"site": site.slug, "source_kind": narration.source_kind, "lang": source_lang},
    )
    return narration


def create_job(
    *,
    site: Site,
    narration: Narration,
    langs: Iterable[str] | None = None,
    kind: str = "build",
    requested_by_id: int | None = None,
    auto_publish: bool | None = None,
) -> PipelineJob:
    """A job with its tasks: the source stage, then per language translation and speech."""
    targets = _target_languages(langs)
    source = narration.source_lang
    job = PipelineJob(
        site_id=site.id,
        narration_id=narration.id,
        kind=kind,
        source_lang=source,
        langs=targets,
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
        _mark_building(site_id=site.id, lang=lang, narration_id=narration.id)
    db.session.flush()
    audit.record(
        action="pipeline_job.create",
        object_type="pipeline_job",
        object_id=job.id,
        changes={"site": site.slug, "langs": targets, "kind": kind},
    )
    return job


def _guide(site_id: int, lang: str) -> Guide:
    guide = db.session.scalar(select(Guide).where(Guide.site_id == site_id, Guide.lang == lang))
    if guide is None:
        guide = Guide(site_id=site_id, lang=lang, status=GuideStatus.PENDING.value, reason="")
        db.session.add(guide)
        db.session.flush()
    return guide


def _mark_building(*, site_id: int, lang: str, narration_id: int) -> None:
    """A guide being built says so, unless a published one is served meanwhile."""
    guide = _guide(site_id, lang)
    guide.narration_id = narration_id
    if guide.status != GuideStatus.READY.value:
        guide.status = GuideStatus.PENDING.value
        guide.reason = "being built"


def start_narration(
    *,
    site_slug: str,
    source_lang: str,
    text: str | None = None,
    recording: Recording | None = None,
    langs: Iterable[str] | None = None,
    requested_by_id: int | None = None,
) -> PipelineJob:
    """A new narration for a site and the job that turns it into guides."""
    site = site_by_slug(site_slug)
    targets = _target_languages(langs)
    narration = create_narration(site=site, source_lang=source_lang, text=text, recording=recording)
    return create_job(
        site=site,
        narration=narration,
        langs=targets,
        kind="narration",
        requested_by_id=requested_by_id,
    )


def start_build(
    *, site_slug: str, langs: Iterable[str] | None = None, requested_by_id: int | None = None
) -> PipelineJob:
    """A job that (re)builds a site's guides from its current narration."""
    site = site_by_slug(site_slug)
    narration = current_narration(site)
    if narration is None:
        raise Conflict(f"{site_slug} has no narration yet", reason="no_narration")
    return create_job(site=site, narration=narration, langs=langs, requested_by_id=requested_by_id)


def set_translation(
    *, narration_id: int, lang: str, text: str, requested_by_id: int | None = None
) -> PipelineJob:
    """A person's translation replaces the machine one; that language is spoken again."""
    narration = db.session.get(Narration, narration_id)
    if narration is None:
        raise NotFound(f"narration {narration_id} not found")
    _target_languages([lang])
    if not text.strip():
        raise ValidationFailed(
            "the translation is empty", reason="text_rejected", errors={"text": ["empty"]}
        )
    if lang == narration.source_lang:
        before: str | None = narration.text
        narration.text = text.strip()
        narration.transcript_draft = None if narration.source_kind == "text" else text.strip()
    else:
        row = narration.text_for(lang)
        before = row.text if row else None
        if row is None:
            row = NarrationText(lang=lang, text=text.strip(), provenance=Provenance.HUMAN.value)
            narration.texts.append(row)
        row.text, row.provenance, row.reviewed = text.strip(), Provenance.HUMAN.value, True
    audit.record(
        action="narration.translate",
        object_type="narration",
        object_id=narration.id,
        changes={"lang": lang, "provenance": "human", "replaced": before is not None},
    )
    site = db.session.get(Site, narration.site_id)
    assert site is not None
    # A corrected source (a recording's transcript, or the text itself) is translated and
    # spoken again in every language; people's translations and unchanged tracks are skipped.
    return create_job(
        site=site,
        narration=narration,
        langs=None if lang == narration.source_lang else [lang],
        kind="translation",
        requested_by_id=requested_by_id,
    )


def run_job_here(
    *, job_id: int, on_task: Callable[[PipelineTask, str], None] | None = None
) -> PipelineJob:
    """Run a committed job's tasks in this process (the CLI; needs the speech venv)."""
    from content import jobs

    jobs.work(job_id=job_id, on_task=on_task)
    db.session.expire_all()
    return get_job(job_id=job_id)


def build_guide(
    site_slug: str, *, langs: Iterable[str] | None = None, auto_publish: bool = True
) -> PipelineJob:
    """Build and publish a site's guides now, synchronously (CLI and tests; speech venv)."""
    job = start_build(site_slug=site_slug, langs=langs)
    job.auto_publish = auto_publish
    db.session.commit()
    return run_job_here(job_id=job.id)


def site_by_slug(slug: str) -> Site:
    """A site by slug, published or not (staff build guides before a site goes public)."""
    return services.get_site(slug=slug, include_unpublished=True)


def queued_tasks(job: PipelineJob) -> list[int]:
    """Tasks of a new job that may start at once (handed to the executor after the commit)."""
    return [t.id for t in job.tasks if t.state == TaskState.QUEUED.value]


def get_job(*, job_id: int) -> PipelineJob:
    job = db.session.get(PipelineJob, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def job_view(job: PipelineJob) -> dict[str, Any]:
    """A job's overall state, then each stage per language, for staff to watch."""
    site = db.session.get(Site, job.site_id)
    tasks = list(job.tasks)
    done = sum(1.0 if TaskState(t.state) in FINAL_TASK_STATES else t.progress for t in tasks)
    languages: dict[str, dict[str, Any]] = {}
    for lang in job.langs:
        mine = [t for t in tasks if t.lang == lang and t.stage != TaskStage.SOURCE.value]
        speech = next((t for t in mine if t.stage == TaskStage.SPEECH.value), None)
        languages[lang] = {
            "status": speech.state if speech else "unknown",
            "progress": round(sum(_progress(t) for t in mine) / max(1, len(mine)), 3),
            "error": _error(speech) if speech else None,
        }
    return {
        "id": job.id,
        "site": site.slug if site else None,
        "narration_id": job.narration_id,
        "kind": job.kind,
        "status": job.state,
        "source_lang": job.source_lang,
        "langs": list(job.langs),
        "pending_languages": [
            lang for lang, view in languages.items() if view["status"] == TaskState.PENDING.value
        ],
        "auto_publish": job.auto_publish,
        "progress": round(done / max(1, len(tasks)), 3),
        "error": (
            {"reason": job.error_reason, "message": job.error_message} if job.error_reason else None
        ),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "languages": languages,
        "stages": [
            {
                "id": t.id,
                "stage": t.stage,
                "lang": t.lang,
                "status": t.state,
                "progress": _progress(t),
                "attempts": t.attempts,
                "next_attempt_at": t.next_attempt_at if t.state == "queued" else None,
                "error": _error(t),
                "result": t.result,
            }
            for t in tasks
        ],
    }


def _progress(task: PipelineTask) -> float:
    return 1.0 if TaskState(task.state) in FINAL_TASK_STATES else round(task.progress, 3)


def _error(task: PipelineTask) -> dict[str, str] | None:
    if not task.error_reason:
        return None
    return {"reason": task.error_reason, "message": task.error_message or ""}


# --- leases -----------------------------------------------------------------------------------


def new_worker_id() -> str:
    import socket

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
    audit.record(
        action=f"pipeline_task.{event}",
        object_type="pipeline_task",
        object_id=task.id,
        changes={
            "state": [state.value, TaskState.RUNNING.value],
            "owner": [old_owner, owner],
            "attempt": task.attempts,
            "stage": task.stage,
            "lang": task.lang,
        },
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
    for task in job.tasks:
        if task.stage == TaskStage.SPEECH.value and TaskState(task.state) in (
            TaskState.FAILED,
            TaskState.CANCELLED,
            TaskState.PENDING,
        ):
            _guide_not_built(job, task)
    if all(TaskState(t.state) in FINAL_TASK_STATES for t in job.tasks):
        failed = next((t for t in job.tasks if t.state == TaskState.FAILED.value), None)
        if job.state == JobState.QUEUED.value:
            transition_job(job, "start")
        if failed is not None:
            job.error_reason, job.error_message = failed.error_reason, failed.error_message
            transition_job(job, "fail", changes={"reason": failed.error_reason})
        else:
            transition_job(job, "finish")
    return runnable


def _guide_not_built(job: PipelineJob, task: PipelineTask) -> None:
    """A language that could not be built says why, unless a published guide is served."""
    guide = _guide(job.site_id, task.lang)
    if guide.status == GuideStatus.READY.value:
        return
    guide.status = GuideStatus.PENDING.value
    guide.reason = (task.error_message or task.error_reason or "not built")[:300]


# --- publishing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StagedFile:
    kind: str
    format: str
    name: str
    mime: str
    bytes: int
    duration_s: float | None
    sha256: str


@dataclass(frozen=True, slots=True)
class StagedTrack:
    """A complete track already renamed into its final folder, not yet in the database."""

    lang: str
    key: str
    directory: str  # relative to the media directory
    transcript: str
    machine_translated: bool
    voice_id: str | None
    duration_s: float
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    files: list[StagedFile]


def track_with_key(*, site_id: int, lang: str, key: str) -> GuideTrack | None:
    return db.session.scalar(
        select(GuideTrack)
        .join(Guide, Guide.id == GuideTrack.guide_id)
        .where(Guide.site_id == site_id, Guide.lang == lang, GuideTrack.content_key == key)
    )


def record_track(*, job: PipelineJob, staged: StagedTrack) -> GuideTrack:
    """The track's rows; with auto-publish, it is published in the same transaction."""
    guide = _guide(job.site_id, staged.lang)
    track = track_with_key(site_id=job.site_id, lang=staged.lang, key=staged.key)
    if track is None:
        track = GuideTrack(
            guide_id=guide.id,
            content_key=staged.key,
            directory=staged.directory,
            transcript=staged.transcript,
            machine_translated=staged.machine_translated,
            voice_id=staged.voice_id,
            duration_s=staged.duration_s,
            loudness_lufs=staged.loudness_lufs,
            true_peak_dbtp=staged.true_peak_dbtp,
            job_id=job.id,
            files=[
                GuideTrackFile(
                    kind=f.kind,
                    format=f.format,
                    path=str(Path(staged.directory) / f.name),
                    mime=f.mime,
                    bytes=f.bytes,
                    duration_s=f.duration_s,
                    sha256=f.sha256,
                )
                for f in staged.files
            ],
        )
        db.session.add(track)
        db.session.flush()
    offer_track(guide=guide, track=track, auto_publish=job.auto_publish)
    return track


def offer_track(*, guide: Guide, track: GuideTrack, auto_publish: bool) -> None:
    """A built track waits for review, or is published at once when so configured."""
    if guide.published_track_id == track.id:
        return
    guide.draft_track = track
    if guide.status != GuideStatus.READY.value:
        guide.status = GuideStatus.PENDING.value
        guide.reason = "built; waiting for an editor to publish it"
    audit.record(
        action="guide.build",
        object_type="guide",
        object_id=guide.id,
        changes={"lang": guide.lang, "key": track.content_key, "track": track.id},
    )
    if auto_publish:
        _publish(guide)


def _publish(guide: Guide) -> None:
    track = guide.draft_track
    assert track is not None
    previous = guide.published_key
    guide.published_track = track
    guide.published_key = track.content_key
    guide.published_at = utcnow()
    guide.draft_track = None
    guide.status = GuideStatus.READY.value
    guide.reason = ""
    guide.machine_translated = track.machine_translated
    db.session.flush()
    bump_catalogue_version()
    audit.record(
        action="guide.publish",
        object_type="guide",
        object_id=guide.id,
        changes={"lang": guide.lang, "published_key": [previous, track.content_key]},
    )


def publish_guide(*, site_slug: str, lang: str) -> Guide:
    """Publish the reviewed track waiting for a site's guide in one language."""
    site = site_by_slug(site_slug)
    guide: Guide | None = db.session.scalar(
        select(Guide).where(Guide.site_id == site.id, Guide.lang == lang)
    )
    if guide is None or guide.draft_track is None:
        raise Conflict(
            f"no built guide waits for review for {site_slug} in {lang}",
            reason="nothing_to_publish",
        )
    track = guide.draft_track
    assert track is not None
    if track.machine_translated and guide.narration_id:
        narration = db.session.get(Narration, guide.narration_id)
        row = narration.text_for(lang) if narration else None
        if row is not None:
            row.reviewed = True
    _publish(guide)
    return guide
