"""A site's or a tour's catalogue texts (name, summary and description) machine-translated
from the source language by the pipeline's translation stage: a job of kind `catalogue`, one
translate task per language, run by the same workers with the same Argos code and glossary as
narrations (`stages.translate_catalogue`).

A person's text always wins: a language with a human text gets no task, and a task finds it
again before it writes. The texts are rebuilt when the source text changes (`content` sends
`site_texts_changed` or `tour_texts_changed`, this module starts a job). Without a model a
task waits for it (`pending`), as a narration's does, and the page says which language it
shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import current_app

from content.models import Provenance, Site, Tour
from guides import jobs
from guides.models import CATALOGUE_JOB as CATALOGUE
from guides.models import PipelineJob


def _human(owner: Site | Tour, lang: str) -> bool:
    text = owner.text_for(lang)
    return text is not None and text.provenance == Provenance.HUMAN.value


def start_catalogue_job(
    *, site: Site, langs: Sequence[str] | None = None, requested_by_id: int | None = None
) -> PipelineJob | None:
    """A job translating the site's source text into each served language without a human
    text; None when there is nothing to translate."""
    return _start(site, langs=langs, requested_by_id=requested_by_id)


def start_tour_texts_job(
    *, tour: Tour, langs: Sequence[str] | None = None, requested_by_id: int | None = None
) -> PipelineJob | None:
    """As `start_catalogue_job`, for a tour's texts."""
    return _start(tour, langs=langs, requested_by_id=requested_by_id)


def _start(
    owner: Site | Tour, *, langs: Sequence[str] | None, requested_by_id: int | None
) -> PipelineJob | None:
    source = str(current_app.config["SOURCE_LANGUAGE"])
    if owner.text_for(source) is None:
        return None
    wanted = langs if langs is not None else current_app.config["LANGUAGES"]
    targets = [lang for lang in wanted if lang != source and not _human(owner, lang)]
    if not targets:
        return None
    return jobs.create_translation_job(
        kind=CATALOGUE,
        owner=owner,
        source_lang=source,
        targets=targets,
        requested_by_id=requested_by_id,
    )


def source_changed(owner: Site | Tour, *, langs: Sequence[str], **_: Any) -> None:
    """`content.signals.site_texts_changed` and `tour_texts_changed`: the source text changed,
    so its translations are built again (after the commit)."""
    from guides import executor

    if current_app.config["SOURCE_LANGUAGE"] not in langs:
        return
    job = _start(owner, langs=None, requested_by_id=None)
    if job is not None:
        executor.queue_after_commit(jobs.queued_tasks(job))
