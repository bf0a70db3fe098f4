"""Pipeline jobs as staff watch them: the overall state, then each stage per language."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from content.models import Site
from guides.jobs import FINAL_TASK_STATES
from guides.models import PipelineJob, PipelineTask, TaskStage, TaskState


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
            # What Whisper heard of the new track; not intelligible: it waits for an editor.
            "hearing": (speech.result or {}).get("hearing") if speech else None,
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
                "next_attempt_at": t.next_attempt_at if t.state == TaskState.QUEUED.value else None,
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
