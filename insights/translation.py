"""Tourists' comments machine-translated into Vietnamese for staff, by the pipeline's
translation stage: a job of kind `feedback` with one translate task, run by the same workers
with the same Argos code and glossary as narrations and catalogue texts
(`stages.machine_translate`). The translation is stored on the feedback, once.

Without a model from the comment's language the task waits for one (`pending`), and the
console shows the comment as written, with its detected language: nothing is an error.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from content.models import Site
from guides import executor, jobs, stages
from guides.models import PipelineJob, PipelineTask
from insights.models import Feedback

#: The job kind the workers run through `translate_comment`.
FEEDBACK_JOB = "feedback"


def staff_language() -> str:
    """The language staff read comments in: the town's, narration's source (Vietnamese)."""
    return str(current_app.config["SOURCE_LANGUAGE"])


def comment_language(item: Feedback) -> str:
    """The comment's language as detected, else the page's (a short comment is not detected)."""
    return item.detected_lang or item.page_lang


def start_comment_translation(item: Feedback) -> PipelineJob | None:
    """A job translating the comment for staff, run after the commit; None when there is
    nothing to translate (no comment, already in the staff's language, or about no site: a
    pipeline job belongs to a site)."""
    target = staff_language()
    source = comment_language(item)
    site = db.session.get(Site, item.site_id) if item.site_id is not None else None
    if not item.comment or source == target or site is None:
        return None
    job = jobs.create_translation_job(
        kind=FEEDBACK_JOB, owner=site, source_lang=source, targets=[target]
    )
    item.translation_job_id = job.id
    db.session.flush()
    executor.start_job(job)
    return job


def translate_comment(task: PipelineTask, beat: stages.Progress) -> stages.Outcome:
    """The comment of the job's feedback in the task's language, with the site's names kept."""
    item = db.session.scalar(select(Feedback).where(Feedback.translation_job_id == task.job_id))
    if item is None or not item.comment:
        raise stages.StageError("text_missing", "the feedback or its comment was deleted")
    beat.progress = 0.1
    glossary = stages.site_glossary(item.site_id) if item.site_id is not None else None
    text = stages.machine_translate(
        item.comment, source=task.job.source_lang, target=task.lang, glossary=glossary
    )
    feedback_id, lang = item.id, task.lang

    def apply() -> None:
        row = db.session.get(Feedback, feedback_id)
        if row is not None:
            row.comment_translation, row.translation_lang = text, lang

    return stages.Outcome("succeed", {"chars": len(text)}, apply)


stages.register_job_kind(FEEDBACK_JOB, translate_comment)
