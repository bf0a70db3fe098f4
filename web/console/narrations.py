"""Narrations (editors): upload a recording (checked by decoding before it is kept) or paste a
text, then watch the job that builds the guides, stage by stage and language by language, with
every failure in words staff understand and a retry button. The same services as the JSON API
(`POST /api/v1/sites/<slug>/narrations`, `GET /api/v1/jobs/<id>`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import DomainError, NotFound
from app.extensions import db
from app.http_cache import content_addressed
from app.i18n import N_, _, ui_language
from content.models import Site
from guides import executor, jobs, narrations, presenters, stages
from guides.models import JobState, Narration, PipelineJob
from guides.published import media_dir
from web.console.access import bp, job_state, menu_item, staff, staff_page
from web.console.home import job_subjects, site_names

menu_item("narrations", N_("Narrations"), "editor")

#: The longest narration text (the API's own limit, guides.schemas.NarrationTextSchema).
MAX_TEXT_CHARS = 20_000


def failure_words(reason: str | None, message: str | None) -> str:
    """Why a step failed or waits, in words staff understand (the machine's words after)."""
    if not reason:
        return ""
    words = {
        "corrupt_audio": _("The recording is damaged or cut short: record or export it again."),
        "silent_audio": _("The recording is silent: check the microphone and record it again."),
        "audio_too_short": _("The recording is too short to be a narration."),
        "audio_too_long": _("The recording is longer than allowed: split it into shorter parts."),
        "empty_file": _("The file is empty."),
        "file_too_large": _("The file is larger than allowed."),
        "unsupported_format": _(
            "This kind of file is not accepted: send wav, mp3, m4a, ogg or webm."
        ),
        "no_speech": _("No speech was heard in the recording."),
        "wrong_language": _("The text or recording is not in the language it was sent as."),
        "text_rejected": _("The text cannot be used: check that it is not empty or garbled."),
        "text_too_long": _("The text is longer than allowed: split it."),
        "text_missing": _("There is no text in this language to speak yet."),
        "model_missing": _(
            "A speech or translation model for this language is not installed yet: an admin "
            "installs it (Models and languages)."
        ),
        "model_load_failed": _("An installed model could not be loaded: an admin checks it."),
        "no_intelligible_voice": _(
            "No installed voice speaks this language well enough to be understood."
        ),
        "narration_missing": _("The narration of this job was deleted."),
        "out_of_memory": _("The machine ran out of memory: try again later."),
    }
    plain = words.get(reason, _("This step did not succeed."))
    return f"{plain} ({message})" if message else plain


def site_choices() -> list[tuple[str, str]]:
    """(slug, name) of every site, by name in the console's language."""
    rows = db.session.execute(select(Site.id, Site.slug)).all()
    names = site_names({row.id for row in rows}, ui_language())
    return sorted(((row.slug, names[row.id]) for row in rows), key=lambda pair: pair[1])


def _page(
    *, status: int = 200, error: str | None = None, form: dict[str, Any] | None = None
) -> Any:
    rows, _total = jobs.list_jobs(per_page=20)
    names = job_subjects(rows, ui_language())
    return (
        render_template(
            "console/narrations.html",
            sites=site_choices(),
            languages=current_app.config["LANGUAGES"],
            source=current_app.config["SOURCE_LANGUAGE"],
            max_bytes=narrations.upload_limit_bytes(),
            suffixes=narrations.RECORDING_SUFFIXES,
            max_chars=MAX_TEXT_CHARS,
            jobs=rows,
            names=names,
            error=error,
            form=form or {},
        ),
        status,
    )


@bp.route("/narrations", endpoint="narrations")
@staff_page("editor")
def narrations_page() -> Any:
    return _page()


def _requested_by() -> int | None:
    principal = staff()
    return principal.user_id if principal else None


def _languages() -> narrations.Languages:
    chosen = request.form.getlist("langs")
    return narrations.check_languages(
        source_lang=current_app.config["SOURCE_LANGUAGE"], langs=chosen or None
    )


@bp.route("/narrations/text", methods=["POST"])
@staff_page("editor")
def narration_text() -> Any:
    form = {"site": request.form.get("site", ""), "text": request.form.get("text", "")}
    text = form["text"].strip()
    if not text:
        return _page(status=422, error=_("Write or paste the narration text first."), form=form)
    if len(text) > MAX_TEXT_CHARS:
        return _page(
            status=422,
            error=_(
                "The text has %(chars)d characters; the limit is %(max)d. Split it.",
                chars=len(text),
                max=MAX_TEXT_CHARS,
            ),
            form=form,
        )
    try:
        site = narrations.site_by_slug(form["site"])
        job = narrations.start_narration(
            site=site, languages=_languages(), text=text, requested_by_id=_requested_by()
        )
    except NotFound:
        return _page(status=422, error=_("Choose the site this narration is for."), form=form)
    executor.start_job(job)
    return redirect(url_for("console.job_page", job_id=job.id), code=303)


def _upload_refused(status: int, message: str) -> Any:
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"code": status, "message": message}), status
    return _page(status=status, error=message)


@bp.route("/narrations/upload", methods=["POST"])
@staff_page("editor")
def narration_upload() -> Any:
    upload = request.files.get("audio")
    if upload is None or not upload.filename:
        return _upload_refused(422, _("Choose a recording to upload."))
    try:
        site = narrations.site_by_slug(request.form.get("site", ""))
        languages = _languages()
        recording = narrations.save_recording(
            stream=upload.stream,
            filename=upload.filename,
            max_bytes=narrations.upload_limit_bytes(),
        )
    except NotFound:
        return _upload_refused(422, _("Choose the site this narration is for."))
    except narrations.UploadTooLarge:
        return _upload_refused(
            413,
            _(
                "The file is larger than %(mb)d MB.",
                mb=narrations.upload_limit_bytes() // (1024 * 1024),
            ),
        )
    except DomainError as exc:
        return _upload_refused(exc.status, failure_words(exc.reason, exc.message))
    path = media_dir() / recording.path
    try:
        stages.check_recording(path)
    except DomainError as exc:
        _forget(recording.path)
        reason = (exc.errors or {}).get("audio", [exc.reason])[0]
        return _upload_refused(422, failure_words(str(reason), exc.message))
    job = narrations.start_narration(
        site=site, languages=languages, recording=recording, requested_by_id=_requested_by()
    )
    executor.start_job(job)
    target = url_for("console.job_page", job_id=job.id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"job": job.id, "url": target}), 201
    return redirect(target, code=303)


def _forget(relative: str) -> None:
    """Delete a refused upload, unless an earlier narration keeps the same file."""
    kept = db.session.scalar(select(Narration.id).where(Narration.recording_path == relative))
    if kept is None:
        Path(media_dir() / relative).unlink(missing_ok=True)


def _job(job_id: int) -> PipelineJob:
    job = db.session.get(PipelineJob, job_id)
    if job is None:
        raise NotFound(_("There is no such job."))
    return job


def job_document(job: PipelineJob) -> dict[str, Any]:
    """The job as its page shows it, words included (the page's script polls this)."""
    view = presenters.job_view(job)
    for stage in view["stages"]:
        stage["state_words"] = job_state(stage["status"])
        error = stage["error"]
        stage["words"] = failure_words(error["reason"], error["message"]) if error else ""
    error = view["error"]
    view["words"] = failure_words(error["reason"], error["message"]) if error else ""
    view["state_words"] = job_state(view["status"])
    view["final"] = view["status"] in (JobState.SUCCEEDED.value, JobState.FAILED.value)
    for key in ("created_at", "started_at", "finished_at"):
        view[key] = view[key].isoformat() if view[key] else None
    for stage in view["stages"]:
        moment = stage["next_attempt_at"]
        stage["next_attempt_at"] = moment.isoformat() if moment else None
    return view


@bp.route("/jobs/<int:job_id>")
@staff_page("editor")
def job_page(job_id: int) -> str:
    job = _job(job_id)
    return render_template(
        "console/job.html",
        job=job,
        view=job_document(job),
        site_name=job_subjects([job], ui_language()).get(job.id, ""),
        stage_names=stage_names(),
    )


def stage_names() -> dict[str, str]:
    return {
        "source": _("Check the text or transcribe the recording"),
        "translate": _("Machine translation"),
        "speech": _("Speech and publishing"),
    }


@bp.route("/jobs/<int:job_id>.json")
@staff_page("editor")
def job_json(job_id: int) -> Any:
    return jsonify(job_document(_job(job_id)))


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@staff_page("editor")
def job_retry(job_id: int) -> WerkzeugResponse:
    """A new job for the same narration and languages: what succeeded is skipped by its key."""
    job = _job(job_id)
    narration = db.session.get(Narration, job.narration_id) if job.narration_id else None
    site = db.session.get(Site, job.site_id) if job.site_id is not None else None
    if narration is None or site is None:
        raise NotFound(_("The narration of this job was deleted."))
    again = jobs.create_job(
        site=site, narration=narration, targets=list(job.langs), requested_by_id=_requested_by()
    )
    executor.start_job(again)
    return redirect(url_for("console.job_page", job_id=again.id), code=303)


@bp.route("/narrations/<int:narration_id>/recording")
@staff_page("editor")
def narration_recording(narration_id: int) -> Any:
    """The uploaded recording, for the editor who corrects its transcript while it plays."""
    narration = db.session.get(Narration, narration_id)
    if narration is None or not narration.recording_path or not narration.recording_sha256:
        raise NotFound(_("This narration has no recording."))
    path = media_dir() / narration.recording_path
    suffix = os.path.splitext(path.name)[1].lower()
    mime = {
        ".wav": "audio/wav",
        ".mp3": "audio/mpeg",
        ".m4a": "audio/mp4",
        ".webm": "audio/webm",
    }.get(suffix, "audio/ogg")
    return content_addressed(path, etag=narration.recording_sha256, mimetype=mime)
