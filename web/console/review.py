"""Review (editors), the heart of the console: per site and language, the source, the machine
translation and an editable human translation side by side, sentence by sentence, with the
draft track's player, its captions and what Whisper heard of it; each language `machine`,
`needs review`, `approved` or `published`. Saving rebuilds that language; publishing publishes
one language or every approved one. A recording's Whisper transcript is corrected here too,
while the recording plays. Drafts never reach tourists: only a publish changes the guide.

The translation errors tourists report from a guide's transcript wait here too: counted per
site and language in the list, quoted beside their sentence on the language's page, where an
editor marks each handled with a note (the feedback's audited state machine)."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.i18n import N_, _, ui_language
from content.models import Site
from content.search import build_document
from guides import executor, narrations, presenters, publishing, review, stages
from guides.models import Narration, PipelineTask, SourceKind, TaskStage
from insights import feedback as tourist_feedback
from insights.models import Feedback, FeedbackTopic
from web.console.access import bp, menu_item, staff, staff_page
from web.console.home import site_names

menu_item("review", N_("Review"), "editor")

#: Languages written without spaces between words.
UNSPACED = frozenset({"ja", "zh"})


def state_names() -> dict[str, str]:
    return {
        review.ReviewState.MACHINE.value: _("machine"),
        review.ReviewState.NEEDS_REVIEW.value: _("needs review"),
        review.ReviewState.APPROVED.value: _("approved"),
        review.ReviewState.PUBLISHED.value: _("published"),
    }


#: Sites listed on one page of the review queue.
PER_PAGE = 50


@bp.route("/review", endpoint="review")
@staff_page("editor")
def review_list() -> str:
    """Every site's newest narration with the review state of each language, by site name,
    a page at a time; `state` (with `lang`, in that language) keeps the sites with a language
    in that state, and the counts of each state are over the whole queue."""
    wanted_state = request.args.get("state", "")
    if wanted_state not in {state.value for state in review.ReviewState}:
        wanted_state = ""
    wanted_lang = request.args.get("lang", "")
    if wanted_lang not in current_app.config["LANGUAGES"]:
        wanted_lang = ""
    rows = review.review_queue()
    names = site_names({row.site_id for row in rows}, ui_language())
    items: list[dict[str, Any]] = []
    counts = dict.fromkeys(state_names(), 0)
    for row in rows:
        states = row.states
        # Every served language has a state, so a wanted language is always among them.
        looked_at = [states[wanted_lang]] if wanted_lang else list(states.values())
        for state in looked_at:
            counts[state] += 1
        if wanted_state and wanted_state not in looked_at:
            continue
        items.append(
            {
                "narration_id": row.narration_id,
                "site_id": row.site_id,
                "name": names.get(row.site_id, ""),
                "states": states,
            }
        )
    items.sort(key=lambda item: (build_document([item["name"]]), item["narration_id"]))
    pages = max(1, -(-len(items) // PER_PAGE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    return render_template(
        "console/review_list.html",
        items=items[(page - 1) * PER_PAGE : page * PER_PAGE],
        total=len(items),
        page=page,
        pages=pages,
        counts=counts,
        args={"state": wanted_state, "lang": wanted_lang},
        languages=current_app.config["LANGUAGES"],
        state_names=state_names(),
        reported=tourist_feedback.open_translation_errors(),
    )


def _rows(source: str, machine: str | None, current: str | None) -> list[dict[str, Any]]:
    """The editor's rows: each source sentence beside the machine's and the editable one."""
    paragraphs = stages.sentences(source) if source.strip() else []
    flat = [
        (index == 0, sentence)
        for paragraph in paragraphs
        for index, sentence in enumerate(paragraph)
    ]

    def aligned(text: str | None) -> list[str]:
        parts = [s for paragraph in stages.sentences(text) for s in paragraph] if text else []
        if len(parts) > len(flat) and flat:
            parts = [*parts[: len(flat) - 1], " ".join(parts[len(flat) - 1 :])]
        return parts + [""] * (len(flat) - len(parts))

    machine_parts, current_parts = aligned(machine), aligned(current)
    return [
        {
            "starts": starts,
            "source": sentence,
            "machine": machine_parts[i],
            "text": current_parts[i],
        }
        for i, (starts, sentence) in enumerate(flat)
    ]


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


def _place_reports(
    rows: list[dict[str, Any]], reports: list[Feedback], *, is_source: bool
) -> list[Feedback]:
    """Put each reported sentence beside the row whose words it quotes (in the language's
    current or machine words, or the source's); the reports that match no row."""
    loose: list[Feedback] = []
    for row in rows:
        row["reports"] = []
    for report in reports:
        quoted = _words(report.quote or "")
        match = None
        for row in rows if quoted else []:
            texts = (
                (row["source"], row["machine"], row["text"])
                if is_source
                else (row["text"], row["machine"])
            )
            if any(t and (quoted in _words(t) or _words(t) in quoted) for t in texts):
                match = row
                break
        if match is None:
            loose.append(report)
        else:
            match["reports"].append(report)
    return loose


def _whisper_heard(narration: Narration) -> str | None:
    """Whisper's own transcript of the recording, before anybody corrected it."""
    if narration.source_kind != SourceKind.RECORDING.value:
        return None
    result = db.session.scalar(
        select(PipelineTask.result)
        .join(PipelineTask.job)
        .where(
            PipelineTask.stage == TaskStage.SOURCE.value,
            PipelineTask.job.has(narration_id=narration.id),
            PipelineTask.state == "succeeded",
        )
        .order_by(PipelineTask.id)
        .limit(1)
    )
    return str(result.get("transcript", "")) if result else None


@bp.route("/review/<int:narration_id>")
@staff_page("editor")
def review_page(narration_id: int) -> str:
    return _render(narration_id, request.args.get("lang"))


def _render(narration_id: int, wanted: str | None, error: str | None = None) -> str:
    narration = review.get_narration(narration_id)
    view = presenters.narration_view(narration)
    languages = list(view["languages"])
    default = narration.source_lang
    if narration.source_kind == SourceKind.TEXT.value and len(languages) > 1:
        default = languages[1]
    lang = wanted or default
    if lang not in view["languages"]:
        lang = default
    entry = view["languages"][lang]
    is_source = lang == narration.source_lang
    if is_source:
        heard = _whisper_heard(narration)
        rows = _rows(narration.text, heard, narration.text)
    else:
        machine = entry["text"] if entry["provenance"] == "machine" else None
        rows = _rows(narration.text, machine, entry["text"])
    reports = tourist_feedback.translation_errors(site_id=narration.site_id, lang=lang)
    loose = _place_reports(rows, reports, is_source=is_source)
    track = entry["draft"] or entry["published"]
    names = site_names({narration.site_id}, ui_language())
    return render_template(
        "console/review.html",
        narration=narration,
        view=view,
        lang=lang,
        entry=entry,
        is_source=is_source,
        rows=rows,
        track=track,
        track_is_draft=entry["draft"] is not None,
        site_name=names.get(narration.site_id, ""),
        state_names=state_names(),
        recording=narration.source_kind == SourceKind.RECORDING.value,
        error=error,
        reports=reports,
        loose_reports=loose,
        approved_waiting=[
            code
            for code, item in view["languages"].items()
            if item["state"] == "approved" and item["draft"]
        ],
    )


def _back(narration_id: int, lang: str) -> WerkzeugResponse:
    return redirect(url_for("console.review_page", narration_id=narration_id, lang=lang), code=303)


def _text_from_form(lang: str) -> str:
    sentences = request.form.getlist("s")
    starts = request.form.getlist("p")
    glue = "" if lang in UNSPACED else " "
    paragraphs: list[list[str]] = []
    for index, sentence in enumerate(sentences):
        if not paragraphs or (index < len(starts) and starts[index] == "1"):
            paragraphs.append([])
        if sentence.strip():
            paragraphs[-1].append(sentence.strip())
    return "\n\n".join(glue.join(p) for p in paragraphs if p)


@bp.route("/review/<int:narration_id>/<lang>/save", methods=["POST"])
@staff_page("editor")
def review_save(narration_id: int, lang: str) -> Any:
    narration = review.get_narration(narration_id)
    text = _text_from_form(lang)
    if not text:
        return _render(narration.id, lang, _("The translation is empty: nothing was saved.")), 422
    principal = staff()
    job = narrations.set_translation(
        narration_id=narration.id,
        lang=lang,
        text=text,
        requested_by_id=principal.user_id if principal else None,
        approved=False,
    )
    executor.start_job(job)
    flash(_("Saved. The guide is being rebuilt (job #%(job)d).", job=job.id), "ok")
    return _back(narration.id, lang)


@bp.route("/review/<int:narration_id>/<lang>/approve", methods=["POST"])
@staff_page("editor")
def review_approve(narration_id: int, lang: str) -> WerkzeugResponse:
    try:
        review.approve(narration_id=narration_id, lang=lang)
    except ValidationFailed:
        flash(_("There are no words to approve in this language yet."), "error")
        return _back(narration_id, lang)
    flash(_("Approved."), "ok")
    return _back(narration_id, lang)


@bp.route("/review/<int:narration_id>/<lang>/publish", methods=["POST"])
@staff_page("editor")
def review_publish(narration_id: int, lang: str) -> WerkzeugResponse:
    narration = review.get_narration(narration_id)
    site = db.session.get(Site, narration.site_id)
    assert site is not None
    try:
        publishing.publish_guide(site_slug=site.slug, lang=lang)
    except Conflict:
        flash(_("No built guide waits in this language: save or rebuild it first."), "error")
        return _back(narration_id, lang)
    flash(_("Published: tourists now hear this guide."), "ok")
    return _back(narration_id, lang)


@bp.route("/review/<int:narration_id>/publish", methods=["POST"])
@staff_page("editor")
def review_publish_approved(narration_id: int) -> WerkzeugResponse:
    done = review.publish_approved(narration_id=narration_id)
    if done:
        flash(_("Published: %(langs)s.", langs=", ".join(done)), "ok")
    else:
        flash(_("No approved language has a built guide waiting."), "error")
    return redirect(url_for("console.review_page", narration_id=narration_id), code=303)


@bp.route("/review/<int:narration_id>/<lang>/reports/<int:feedback_id>/handle", methods=["POST"])
@staff_page("editor")
def review_report_handle(narration_id: int, lang: str, feedback_id: int) -> WerkzeugResponse:
    """Mark a tourist's translation error handled, saying what was done (audited)."""
    narration = review.get_narration(narration_id)
    item = tourist_feedback.get_feedback(feedback_id=feedback_id)
    if (
        item.topic != FeedbackTopic.TRANSLATION_ERROR.value
        or item.site_id != narration.site_id
        or item.guide_lang != lang
    ):
        raise NotFound(f"no translation error {feedback_id} on this guide")
    principal = staff()
    try:
        tourist_feedback.handle_feedback(
            feedback_id=item.id,
            user_id=principal.user_id if principal else None,
            note=request.form.get("note", "")[:1000],
            now=utcnow(),
        )
    except ValidationFailed:
        flash(_("Say what was done before marking the report handled."), "error")
        return redirect(
            url_for("console.review_page", narration_id=narration_id, lang=lang)
            + f"#report-{feedback_id}",
            code=303,
        )
    flash(_("Report %(id)s marked handled.", id=feedback_id), "ok")
    return _back(narration_id, lang)
