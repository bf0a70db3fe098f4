"""Pipeline jobs as staff watch them (the overall state, then each stage per language), and
narrations with their drafts."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from content.models import Site, Tour
from guides import review
from guides.jobs import FINAL_TASK_STATES
from guides.models import (
    GuideStatus,
    GuideTrack,
    Narration,
    PipelineJob,
    PipelineTask,
    TaskStage,
    TaskState,
)
from guides.published import file_url


def job_view(job: PipelineJob) -> dict[str, Any]:
    """A job's overall state, then each stage per language, for staff to watch."""
    site = db.session.get(Site, job.site_id) if job.site_id is not None else None
    tour = db.session.get(Tour, job.tour_id) if job.tour_id is not None else None
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
        "tour": tour.slug if tour else None,
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


def track_view(track: GuideTrack | None) -> dict[str, Any] | None:
    """A built track as staff review it: its files, captions, words and what Whisper heard."""
    if track is None:
        return None
    captions = track.captions()
    return {
        "id": track.id,
        "content_key": track.content_key,
        "transcript": track.transcript,
        "machine_translated": track.machine_translated,
        "voice_id": track.voice_id,
        "duration_s": track.duration_s,
        "loudness_lufs": track.loudness_lufs,
        "created_at": track.created_at,
        "job_id": track.job_id,
        "files": [
            {"format": f.format, "url": file_url(f), "bytes": f.bytes, "mime": f.mime}
            for f in track.audio_files()
        ],
        "captions_url": file_url(captions) if captions else None,
        "hearing": track.hearing,
    }


def narration_view(narration: Narration) -> dict[str, Any]:
    """A narration with its drafts per language: the words, their review state, the track
    waiting for review and the published one (staff only: reasons are the pipeline's own)."""
    site = db.session.get(Site, narration.site_id)
    guides = review.site_guides(narration.site_id)
    languages: dict[str, dict[str, Any]] = {}
    for lang in review.served_languages(narration):
        text, provenance, approved = review.words(narration, lang)
        guide = guides.get(lang)
        languages[lang] = {
            "state": review.review_state(narration, lang, guide).value,
            "text": text,
            "provenance": provenance,
            "approved": approved,
            "guide_status": guide.status if guide else GuideStatus.UNAVAILABLE.value,
            "reason": guide.reason if guide else "",
            "draft": track_view(guide.draft_track if guide else None),
            "published": track_view(guide.published_track if guide else None),
            "published_at": guide.published_at if guide else None,
        }
    return {
        "id": narration.id,
        "site": site.slug if site else None,
        "source_lang": narration.source_lang,
        "source_kind": narration.source_kind,
        "text": narration.text,
        "transcript_draft": narration.transcript_draft,
        "recording_sha256": narration.recording_sha256,
        "created_at": narration.created_at,
        "updated_at": narration.updated_at,
        "languages": languages,
    }
