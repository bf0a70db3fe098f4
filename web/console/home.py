"""The console's first page: what waits for staff (guides to review, jobs running or failed,
languages waiting for a model; for managers the gate conflicts nobody resolved), the last
changes people made, and for admins the service's health."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from sqlalchemy import func, select

from app import audit
from app.db import utcnow
from app.extensions import db
from app.health import service_checks
from app.i18n import N_, _
from content.models import Site, SiteText, Tour
from guides.models import Guide, JobState, PipelineJob, PipelineTask, TaskStage, TaskState
from ticketing import checkin
from web.console.access import allowed, bp, menu_item, staff, staff_page

menu_item("home", N_("Home"))

RECENT_FAILURES = timedelta(days=7)


def site_names(site_ids: set[int], lang: str) -> dict[int, str]:
    """Sites' names in `lang`, else Vietnamese, else their slug (one query)."""
    if not site_ids:
        return {}
    rows = db.session.execute(
        select(Site.id, Site.slug, SiteText.lang, SiteText.name)
        .outerjoin(SiteText, SiteText.site_id == Site.id)
        .where(Site.id.in_(site_ids))
    ).all()
    names: dict[int, dict[str, str]] = {}
    for site_id, slug, text_lang, name in rows:
        forms = names.setdefault(site_id, {"": slug})
        if text_lang:
            forms[text_lang] = name
    return {sid: f.get(lang) or f.get("vi") or f[""] for sid, f in names.items()}


def job_subjects(rows: list[PipelineJob], lang: str) -> dict[int, str]:
    """What each job works on, by job id: its site's name, or its tour's (a catalogue job that
    translates a tour's texts), in `lang` else Vietnamese else the slug."""
    sites = site_names({job.site_id for job in rows if job.site_id is not None}, lang)
    tours = {
        tour.id: tour
        for tour in db.session.scalars(
            select(Tour).where(Tour.id.in_({job.tour_id for job in rows if job.tour_id}))
        )
    }
    subjects: dict[int, str] = {}
    for job in rows:
        if job.site_id is not None:
            subjects[job.id] = sites.get(job.site_id, "")
        elif (tour := tours.get(job.tour_id or 0)) is not None:
            text = tour.text_for(lang) or tour.text_for("vi")
            subjects[job.id] = text.name if text else tour.slug
    return subjects


def _waiting_review() -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Guide.id, Guide.site_id, Guide.lang, Guide.updated_at, Site.slug)
        .join(Site, Site.id == Guide.site_id)
        .where(Guide.draft_track_id.is_not(None))
        .order_by(Guide.updated_at.desc())
        .limit(50)
    ).all()
    return [
        {"site_id": r.site_id, "slug": r.slug, "lang": r.lang, "since": r.updated_at} for r in rows
    ]


def _jobs() -> list[PipelineJob]:
    since = utcnow() - RECENT_FAILURES
    return list(
        db.session.scalars(
            select(PipelineJob)
            .where(
                PipelineJob.state.in_([JobState.QUEUED.value, JobState.RUNNING.value])
                | ((PipelineJob.state == JobState.FAILED.value) & (PipelineJob.created_at >= since))
            )
            .order_by(PipelineJob.id.desc())
            .limit(30)
        )
    )


def _pending_languages() -> list[dict[str, Any]]:
    """Languages whose newest speech tasks wait for a model, with how many sites wait."""
    newest = (
        select(func.max(PipelineTask.id).label("id"))
        .join(PipelineJob, PipelineJob.id == PipelineTask.job_id)
        .where(PipelineTask.stage == TaskStage.SPEECH.value)
        .group_by(PipelineJob.site_id, PipelineTask.lang)
        .subquery()
    )
    rows = db.session.execute(
        select(PipelineTask.lang, func.count(), func.max(PipelineTask.error_message))
        .where(PipelineTask.id.in_(select(newest.c.id)))
        .where(PipelineTask.state == TaskState.PENDING.value)
        .group_by(PipelineTask.lang)
        .order_by(PipelineTask.lang)
    ).all()
    return [{"lang": lang, "sites": count, "reason": reason or ""} for lang, count, reason in rows]


def _health() -> list[dict[str, Any]]:
    checks = [
        {"name": name, "ok": check.ok, "detail": check.message}
        for name, check in service_checks().items()
    ]
    media = Path(current_app.config["MEDIA_DIR"])
    media.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(media)
    free_gb = usage.free / 1e9
    checks.append(
        {
            "name": "media",
            "ok": usage.free > 2e9,
            "detail": _(
                "%(free).1f GB free of %(total).0f GB", free=free_gb, total=usage.total / 1e9
            ),
        }
    )
    queued = db.session.scalar(
        select(func.min(PipelineTask.next_attempt_at)).where(
            PipelineTask.state == TaskState.QUEUED.value
        )
    )
    stalled = queued is not None and utcnow() - queued > timedelta(minutes=10)
    checks.append(
        {
            "name": "pipeline",
            "ok": not stalled,
            "detail": _("a task has waited more than 10 minutes for a worker") if stalled else "",
        }
    )
    return checks


@bp.route("/")
@staff_page()
def home() -> str:
    principal = staff()
    editor = allowed(principal, frozenset({"editor"}))
    jobs = _jobs() if editor else []
    review = _waiting_review() if editor else []
    names = site_names({r["site_id"] for r in review}, "vi")
    return render_template(
        "console/home.html",
        editor=editor,
        review=review,
        jobs=jobs,
        names=names,
        subjects=job_subjects(jobs, "vi"),
        pending=_pending_languages() if editor else [],
        changes=audit.people_entries(limit=12),
        health=_health() if allowed(principal, frozenset({"admin"})) else None,
        conflicts=(
            checkin.unresolved_conflicts() if allowed(principal, frozenset({"manager"})) else None
        ),
    )
