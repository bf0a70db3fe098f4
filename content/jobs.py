"""Running pipeline tasks: the one task function every executor calls, and the executors.

`run_task(task_id)` is what RQ workers run (`rq worker guides`): it builds the Flask app
lazily in the worker process, claims the task's lease, runs its stage and records the outcome.
Without Redis, a local worker subprocess (`python -m content.jobs`, on the speech venv's
interpreter) runs the same function. The speech stack is imported only inside the functions
that run a stage, so the web process can import this module to queue work.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context
from rq import Worker
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.db import utcnow
from app.extensions import db
from audio_pipeline.errors import ModelMissing, PipelineError
from audio_pipeline.settings import PipelineSettings
from content import pipeline
from content.guides import media_dir
from content.models import (
    Guide,
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

if TYPE_CHECKING:
    from audio_pipeline.steps import Track

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "content" / "seed" / "glossary.yaml"
TASK_FUNCTION = "content.jobs.run_task"
_children: list[subprocess.Popen[bytes]] = []

# --- settings and engines (one set per worker process) ----------------------------------------


def pipeline_settings() -> PipelineSettings:
    """The engines' settings: HOIAN_* variables, the upload limit from the app's config."""
    override = current_app.config.get("PIPELINE_SETTINGS")
    if isinstance(override, PipelineSettings):
        return override
    limit = int(float(current_app.config["PIPELINE_MAX_UPLOAD_MB"]) * 1024 * 1024)
    return PipelineSettings.from_env(max_upload_bytes=limit)


@dataclass
class Engines:
    """Loaded models, kept for every task a worker runs."""

    settings: PipelineSettings
    _cache: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    def voices(self) -> Any:
        from audio_pipeline.tts import VoiceRegistry

        return self.get("voices", lambda: VoiceRegistry.from_settings(self.settings))

    def transcriber(self) -> Any:
        from audio_pipeline.stt import Transcriber

        return self.get("stt", lambda: Transcriber(self.settings))

    def translator(self) -> Any:
        from audio_pipeline.mt import ArgosTranslator

        return self.get("mt", lambda: ArgosTranslator(self.settings))

    def glossary(self) -> Any:
        from audio_pipeline.glossary import Glossary

        return self.get("glossary", lambda: Glossary.from_yaml(GLOSSARY))


def site_glossary(site_id: int) -> Any:
    """The town's glossary with the site's own names first: its name in every language it has
    a text in (so "Hội quán Phúc Kiến" comes out of translation as "Fujian Assembly Hall"),
    with the unaccented spelling of each Latin-script name as a variant Whisper may write."""
    from unidecode import unidecode

    from audio_pipeline.glossary import Glossary
    from audio_pipeline.languages import language

    site = db.session.get(Site, site_id)
    forms = {text.lang: text.name for text in (site.texts if site else []) if text.name.strip()}
    if len(forms) < 2:
        return engines().glossary()
    variants = {
        lang: [unidecode(name)]
        for lang, name in forms.items()
        if language(lang).latin and unidecode(name) != name
    }
    own = Glossary.from_data([{"forms": forms, "variants": variants}])
    return engines().glossary().merged(own)


_engines: dict[PipelineSettings, Engines] = {}


def engines() -> Engines:
    settings = pipeline_settings()
    if settings not in _engines:
        _engines[settings] = Engines(settings)
    return _engines[settings]


# --- the task function ------------------------------------------------------------------------


@cache
def _worker_app() -> Flask:
    from app import create_app

    return create_app()


def requeue_stalled() -> list[int]:
    """Queue every task a worker may claim now: due retries, and tasks whose worker died
    (its lease ran out). Claiming is idempotent, so a task queued twice runs once."""
    ids = pipeline.next_runnable()
    db.session.rollback()
    dispatch(ids, spawn=True)
    return ids


class PipelineWorker(Worker):
    """`rq worker -w content.jobs.PipelineWorker`: RQ's worker, whose periodic maintenance
    (at start, then every `--maintenance-interval` seconds) also requeues pipeline tasks left
    behind by a worker that was killed, so no cron job is needed for that."""

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        try:
            with _worker_app().app_context():
                ids = requeue_stalled()
        except Exception:  # maintenance must never stop the worker
            log.exception("requeueing stalled pipeline tasks failed")
            return
        if ids:
            log.info("requeued %d pipeline tasks: %s", len(ids), ids[:20])


def run_task(task_id: int) -> str:
    """Run one pipeline task (the RQ job function); safe to call again at any moment."""
    if has_app_context():
        return execute(task_id)
    with _worker_app().app_context():
        return execute(task_id)


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
                alive = pipeline.heartbeat(
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


@dataclass
class Outcome:
    """What a stage did; `apply` writes its results inside the task's final transaction."""

    event: str  # succeed, skip
    result: dict[str, Any]
    apply: Callable[[], None] | None = None


def execute(task_id: int, *, owner: str | None = None) -> str:
    """Claim a task, run its stage, record the outcome; the task's state afterwards."""
    from app import begin_write

    owner = owner or pipeline.new_worker_id()
    lease_s = float(current_app.config["PIPELINE_LEASE_S"])
    begin_write()
    task = pipeline.claim_task(task_id=task_id, owner=owner, lease_s=lease_s)
    if task is None:
        db.session.rollback()
        return "not_runnable"
    db.session.commit()
    log.info(
        "task %s (%s %s) attempt %s by %s", task.id, task.stage, task.lang, task.attempts, owner
    )
    outcome: Outcome | None = None
    error: tuple[str, str, bool, bool] | None = None  # reason, message, retryable, model
    with Heartbeat(task.id, owner, lease_s) as beat:
        try:
            outcome = run_stage(task, beat)
        except ModelMissing as exc:
            error = (exc.reason, exc.message, False, True)
        except PipelineError as exc:
            error = (exc.reason, exc.message, exc.retryable, False)
        except Exception as exc:
            log.exception("task %s crashed", task.id)
            error = ("internal_error", f"{type(exc).__name__}: {exc}"[:500], True, False)
    db.session.rollback()
    begin_write()
    task = db.session.get(PipelineTask, task_id)
    assert task is not None
    if not pipeline.still_owner(task, owner):
        db.session.rollback()
        log.warning("task %s: lease lost to %s; its outcome is dropped", task_id, task.lease_owner)
        return "lease_lost"
    if outcome is not None:
        if outcome.apply is not None:
            outcome.apply()
        runnable = pipeline.finish_task(task, outcome.event, result=outcome.result)
    else:
        assert error is not None
        reason, message, retryable, model = error
        if model:
            runnable = pipeline.finish_task(task, "wait_model", reason=reason, message=message)
        elif retryable:
            runnable = pipeline.retry_or_fail(task, reason=reason, message=message)
        else:
            runnable = pipeline.finish_task(task, "fail", reason=reason, message=message)
    state = task.state
    retry_at = task.next_attempt_at if state == TaskState.QUEUED.value else None
    db.session.commit()
    dispatch(runnable, spawn=False)
    if retry_at is not None:
        dispatch([task_id], spawn=False, at=retry_at)
    return state


# --- stages -----------------------------------------------------------------------------------


def run_stage(task: PipelineTask, beat: Heartbeat) -> Outcome:
    job = task.job
    narration = db.session.get(Narration, job.narration_id) if job.narration_id else None
    if narration is None:
        raise PipelineError("the job's narration was deleted", reason="narration_missing")
    stage = TaskStage(task.stage)
    if stage is TaskStage.SOURCE:
        return _source(task, narration, beat)
    if stage is TaskStage.TRANSLATE:
        return _translate(task, narration, beat)
    return _speech(task, narration, beat)


def _source(task: PipelineTask, narration: Narration, beat: Heartbeat) -> Outcome:
    """Check the text, or decode and transcribe the recording (its transcript is a draft)."""
    from audio_pipeline import steps
    from audio_pipeline.text import check_text

    eng = engines()
    if narration.source_kind == SourceKind.TEXT.value:
        check_text(narration.text, narration.source_lang, max_chars=eng.settings.max_text_chars)
        return Outcome("succeed", {"kind": "text", "chars": len(narration.text)})
    assert narration.recording_path
    beat.progress = 0.1
    _, transcript = steps.transcribe_recording(
        media_dir() / narration.recording_path,
        lang=narration.source_lang,
        transcriber=eng.transcriber(),
        glossary=site_glossary(narration.site_id),
        settings=eng.settings,
    )
    text = transcript.text
    result = {
        "kind": "recording",
        "transcript": text,
        "duration_s": transcript.duration_s,
        "speech_s": transcript.speech_s,
        "detected_lang": transcript.detected_lang,
        "detected_probability": transcript.detected_probability,
        "model_id": transcript.model_id,
        "segments": [[c.start, c.end, c.text] for c in transcript.segments],
    }

    def apply() -> None:
        row = db.session.get(Narration, narration.id)
        assert row is not None
        row.transcript_draft = text
        if not row.text:
            row.text = text

    return Outcome("succeed", result, apply)


def _translate(task: PipelineTask, narration: Narration, beat: Heartbeat) -> Outcome:
    """Machine translation into the task's language, unless a person translated it."""
    from audio_pipeline import steps
    from audio_pipeline.text import join

    existing = narration.text_for(task.lang)
    if existing is not None and existing.provenance == Provenance.HUMAN.value:
        return Outcome("skip", {"provenance": "human"})
    eng = engines()
    beat.progress = 0.1
    translation = steps.translate_text(
        text=narration.text,
        source=narration.source_lang,
        target=task.lang,
        translator=eng.translator(),
        glossary=site_glossary(narration.site_id),
        settings=eng.settings,
    )
    text = join(translation.structure, task.lang)
    if existing is not None and existing.text == text:
        return Outcome("skip", {"provenance": "machine", "unchanged": True})

    def apply() -> None:
        row = db.session.get(Narration, narration.id)
        assert row is not None
        current = row.text_for(task.lang)
        if current is None:
            row.texts.append(
                NarrationText(lang=task.lang, text=text, provenance=Provenance.MACHINE.value)
            )
        elif current.provenance == Provenance.MACHINE.value:
            current.text, current.reviewed = text, False

    return Outcome("succeed", {"route": translation.route, "chars": len(text)}, apply)


def _source_transcript(task: PipelineTask, narration: Narration) -> Any:
    """Whisper's transcript of the recording; when staff corrected its words, their text,
    timed over the speech Whisper heard."""
    from audio_pipeline.captions import Cue, retime
    from audio_pipeline.stt import Transcript
    from audio_pipeline.text import segment

    source = next(t for t in task.job.tasks if t.stage == TaskStage.SOURCE.value)
    data = source.result
    segments = [Cue(float(a), float(b), str(c)) for a, b, c in data["segments"]]
    heard = Transcript(
        lang=task.lang,
        detected_lang=data.get("detected_lang", task.lang),
        detected_probability=float(data.get("detected_probability", 1.0)),
        duration_s=float(data["duration_s"]),
        speech_s=float(data.get("speech_s", data["duration_s"])),
        segments=segments,
        corrections=[],
        model_id=str(data.get("model_id", "")),
    )
    corrected = (narration.text or "").strip()
    if not corrected or corrected == str(data.get("transcript", "")).strip():
        return heard
    sentences = [sentence for paragraph in segment(corrected) for sentence in paragraph]
    cues = retime(sentences, segments)
    return replace(heard, segments=cues) if cues else heard


def _speech(task: PipelineTask, narration: Narration, beat: Heartbeat) -> Outcome:
    """Speak (or render the recording), stage the files, rename them into place."""
    from audio_pipeline import audio, steps
    from audio_pipeline.text import check_text, join

    eng = engines()
    settings = eng.settings
    lang = task.lang
    job = task.job
    recording = narration.source_kind == SourceKind.RECORDING.value
    is_source = lang == narration.source_lang
    if recording and is_source:
        transcript = _source_transcript(task, narration)
        assert narration.recording_sha256 and narration.recording_path
        key = steps.recording_track_key(
            recording_sha256=narration.recording_sha256,
            transcript=transcript.text,
            lang=lang,
            settings=settings,
        )
        machine = False
        path = media_dir() / narration.recording_path

        def render(folder: Path) -> Track:
            decoded, _ = audio.load_upload(path, settings)
            beat.progress = 0.4
            return steps.recording_track(
                recording=decoded,
                recording_sha256=str(narration.recording_sha256),
                transcript=transcript,
                directory=folder,
                settings=settings,
            )

    else:
        row = None if is_source else narration.text_for(lang)
        if not is_source and row is None:
            raise PipelineError(f"no {lang} text to speak", reason="text_missing")
        text = narration.text if row is None else row.text
        machine = row is not None and row.provenance == Provenance.MACHINE.value
        voice = eng.voices().best(lang)
        structure = check_text(text, lang, max_chars=settings.max_text_chars)
        key = steps.speech_track_key(
            text=join(structure, lang), lang=lang, voice_id=voice.spec.id, settings=settings
        )

        def render(folder: Path) -> Track:
            return steps.speech_track(
                text=text, lang=lang, directory=folder, voices=eng.voices(), settings=settings
            )

    guide = db.session.scalar(
        db.select(Guide).where(Guide.site_id == job.site_id, Guide.lang == lang)
    )
    if guide is not None and guide.published_key == key:
        return Outcome("skip", {"key": key, "published": True})
    built = pipeline.track_with_key(site_id=job.site_id, lang=lang, key=key)
    if built is not None:
        track_id = built.id

        def reoffer() -> None:
            row = pipeline.track_with_key(site_id=job.site_id, lang=lang, key=key)
            assert row is not None and row.id == track_id
            target = pipeline._guide(job.site_id, lang)
            pipeline.offer_track(guide=target, track=row, auto_publish=job.auto_publish)

        return Outcome("skip", {"key": key, "track": track_id}, reoffer)
    beat.progress = 0.2
    staged = stage_and_place(task, key, render, machine_translated=machine)
    beat.progress = 0.9

    def publish() -> None:
        current = db.session.get(PipelineJob, job.id)
        assert current is not None
        pipeline.record_track(job=current, staged=staged)

    return Outcome(
        "succeed",
        {"key": key, "directory": staged.directory, "duration_s": staged.duration_s},
        publish,
    )


def stage_and_place(
    task: PipelineTask, key: str, render: Callable[[Path], Track], *, machine_translated: bool
) -> pipeline.StagedTrack:
    """Render into a hidden staging folder, then rename the whole folder into place.

    The rename is atomic: the final folder either does not exist or holds every file. If it
    already exists (a worker died after its rename, before its transaction), it is reused.
    """
    root = media_dir() / "guides"
    staging_root = root / ".staging"
    staging_root.mkdir(parents=True, exist_ok=True)
    for leftover in staging_root.glob(f"{task.id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # an earlier attempt of this task
    staging = staging_root / f"{task.id}-{os.getpid()}-{time.monotonic_ns()}"
    staging.mkdir()
    final = root / key
    try:
        if not final.exists():
            track = render(staging)
            manifest = track.manifest()
            manifest["machine_translated"] = machine_translated
            manifest["transcript"] = track.transcript
            (staging / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            try:
                os.rename(staging, final)
            except OSError:
                if not (final / "manifest.json").exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest = json.loads((final / "manifest.json").read_text(encoding="utf-8"))
    captions = final / manifest["captions"]
    from audio_pipeline.audio import sha256_file

    files = [
        pipeline.StagedFile(
            kind="audio",
            format=f["format"],
            name=f["name"],
            mime=f["mime"],
            bytes=int(f["bytes"]),
            duration_s=float(f["duration_s"]),
            sha256=f["sha256"],
        )
        for f in manifest["files"]
    ]
    files.append(
        pipeline.StagedFile(
            kind="captions",
            format="vtt",
            name=captions.name,
            mime="text/vtt",
            bytes=captions.stat().st_size,
            duration_s=None,
            sha256=sha256_file(captions),
        )
    )
    return pipeline.StagedTrack(
        lang=manifest["lang"],
        key=key,
        directory=f"guides/{key}",
        transcript=str(manifest["transcript"]),
        machine_translated=bool(manifest.get("machine_translated", machine_translated)),
        voice_id=manifest.get("voice_id"),
        duration_s=float(manifest["duration_s"]),
        loudness_lufs=manifest.get("loudness_lufs"),
        true_peak_dbtp=manifest.get("true_peak_dbtp"),
        files=files,
    )


# --- dispatching ------------------------------------------------------------------------------


def queue_after_commit(task_ids: Iterable[int]) -> None:
    """Hand these tasks to the executor once the current transaction has committed."""
    pending: list[int] = db.session.info.setdefault("pipeline_dispatch", [])
    pending.extend(task_ids)


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    ids = session.info.pop("pipeline_dispatch", None)
    if ids and has_app_context():
        dispatch(ids, spawn=True)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("pipeline_dispatch", None)


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
    """The local worker: the speech venv's interpreter running this module."""
    python = current_app.config.get("SPEECH_PYTHON") or sys.executable
    command = [python, "-m", "content.jobs"]
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
    env["HOIAN_AUTO_PUBLISH"] = "1" if config["AUTO_PUBLISH"] else "0"
    env["HOIAN_LANGUAGES"] = ",".join(config["LANGUAGES"])
    env["HOIAN_SOURCE_LANGUAGE"] = config["SOURCE_LANGUAGE"]
    env["HOIAN_FALLBACK_CHAIN"] = ",".join(config["FALLBACK_CHAIN"])
    env.pop("REDIS_URL", None)
    settings = config.get("PIPELINE_SETTINGS")
    if isinstance(settings, PipelineSettings):
        env["HOIAN_MODEL_DIR"] = str(settings.model_dir)
        env["HOIAN_SPEECH_THREADS"] = str(settings.threads)
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
    owner = owner or pipeline.new_worker_id()
    max_nap = float(current_app.config["PIPELINE_WORKER_IDLE_S"])
    ran = 0
    while True:
        ids = pipeline.next_runnable(job_id=job_id)
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
        wake = pipeline.next_wake_up(job_id=job_id)
        db.session.rollback()
        if wake is None:
            return ran
        delay = (wake - utcnow()) / timedelta(seconds=1)
        time.sleep(min(max(0.05, delay + 0.05), max_nap))


def main(argv: list[str] | None = None) -> int:
    """`python -m content.jobs [--job N] [--task N]`: the local worker process."""
    parser = argparse.ArgumentParser(prog="python -m content.jobs")
    parser.add_argument("--job", type=int, default=None, help="only this job's tasks")
    parser.add_argument("--task", type=int, default=None, help="run this one task and exit")
    args = parser.parse_args(argv)
    with _worker_app().app_context():
        if args.task is not None:
            print(execute(args.task))
            return 0
        ran = work(job_id=args.job)
        log.info("local worker ran %s tasks", ran)
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: one set of listeners and caches.
    from content.jobs import main as jobs_main

    sys.exit(jobs_main())
