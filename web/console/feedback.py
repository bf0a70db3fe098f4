"""Tourists' feedback in the console: newest first with its detected language, filtered by
state, site and topic; editors mark it handled with a note, or release a held comment
(audited). Managers read it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.db import utcnow
from app.extensions import db
from app.i18n import N_, _, native_name
from content.models import Site
from insights import feedback as tourist_feedback
from insights.models import FeedbackState, FeedbackTopic
from web.console.access import bp, menu_item, staff, staff_page

menu_item("feedback", N_("Feedback"), "editor", "manager")

PAGE = 50
TOPICS = {
    FeedbackTopic.AUDIO_GUIDE: N_("Audio guide"),
    FeedbackTopic.TRANSLATION_ERROR: N_("Translation error"),
    FeedbackTopic.SITE_INFORMATION: N_("Site information"),
    FeedbackTopic.SITE: N_("The site"),
    FeedbackTopic.FACILITIES: N_("Facilities"),
}
STATES = {
    FeedbackState.OPEN: N_("open"),
    FeedbackState.HELD: N_("held for moderation"),
    FeedbackState.HANDLED: N_("handled"),
}


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


@bp.route("/feedback")
@staff_page("editor", "manager")
def feedback() -> Any:
    args = request.args
    state = args.get("state", "open")
    sites = db.session.execute(select(Site.id, Site.slug).order_by(Site.slug)).all()
    rows = feedback_rows(
        state=state if state in tuple(FeedbackState) else None,
        site_id=_int(args.get("site", "")),
        topic=args.get("topic") if args.get("topic") in tuple(FeedbackTopic) else None,
        before_id=_int(args.get("before", "")),
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    next_args = {k: v for k, v in args.items() if k != "before" and v}
    if more:
        next_args["before"] = str(rows[-1]["item"].id)
    principal = staff()
    may_handle = principal is not None and bool(principal.roles & {"editor", "admin"})
    return render_template(
        "console/feedback.html",
        rows=rows,
        sites=sites,
        args=args,
        state=state,
        topics=TOPICS,
        states=STATES,
        next_args=next_args if more else None,
        may_handle=may_handle,
        native=native_name,
    )


def feedback_rows(**filters: Any) -> list[dict[str, Any]]:
    items = tourist_feedback.list_feedback(limit=PAGE + 1, **filters)
    slugs: dict[int | None, str] = dict(db.session.execute(select(Site.id, Site.slug)).all())
    return [{"item": item, "site": slugs.get(item.site_id)} for item in items]


@bp.route("/feedback/<int:feedback_id>/handle", methods=["POST"])
@staff_page("editor")
def feedback_handle(feedback_id: int) -> Response:
    principal = staff()
    tourist_feedback.handle_feedback(
        feedback_id=feedback_id,
        user_id=principal.user_id if principal else None,
        note=request.form.get("note", "")[:1000],
        now=utcnow(),
    )
    flash(_("Feedback %(id)s marked handled.", id=feedback_id), "ok")
    query = urlencode(request.args.to_dict())
    return redirect(url_for("console.feedback") + (f"?{query}" if query else ""))


@bp.route("/feedback/<int:feedback_id>/release", methods=["POST"])
@staff_page("editor")
def feedback_release(feedback_id: int) -> Response:
    tourist_feedback.release_feedback(feedback_id=feedback_id)
    flash(_("Feedback %(id)s released: it is open now.", id=feedback_id), "ok")
    return redirect(url_for("console.feedback", state="held"))
