"""The feedback form on every tourist page (`POST /s/<slug>/feedback`): plain HTML, in the
page's language, through the same service as `POST /api/v1/feedback`. The transcript's own
form ("report a translation error") posts here too: its sentence, no rating."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for

from app.auth.access import public_write
from app.db import utcnow
from app.errors import DomainError, html_errors
from app.i18n import supported_languages
from app.ratelimit import rate_limited
from insights import feedback
from insights.models import FeedbackState, FeedbackTopic
from insights.schemas import MAX_COMMENT, MAX_QUOTE
from web.messages import messages
from web.pages import asset_url

bp = html_errors(Blueprint("web_feedback", __name__, template_folder="templates"))


def _page(*, lang: str, slug: str, message: str, error: bool, status: int) -> Response:
    body = render_template(
        "web/feedback_sent.html",
        lang=lang,
        words=messages(lang),
        message=message,
        error=error,
        back=url_for("web.site_page", slug=slug, lang=lang) + "#feedback",
        site_name=slug.replace("-", " ").title(),
        asset_url=asset_url,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/s/<string(maxlength=80):slug>/feedback", methods=["POST"])
@rate_limited("FEEDBACK_RATE_LIMIT")
@public_write
def send(slug: str) -> Response:
    """Take the form's rating, topic and comment; thank the tourist in the page's language."""
    form = request.form
    languages = supported_languages()
    lang = form.get("lang", "")
    if lang not in languages:
        lang = languages[0]
    words = messages(lang)
    if form.get("website"):  # the field people never see: a robot, told nothing different
        return _page(
            lang=lang, slug=slug, message=words["feedback_thanks"], error=False, status=200
        )
    rating = form.get("rating", "")
    topic = form.get("topic", "")
    comment = form.get("comment", "")
    quote = form.get("quote", "").strip()
    report = topic == FeedbackTopic.TRANSLATION_ERROR.value and "quote" in form
    if report and not quote:
        # The transcript's form: a report of a translation error names its sentence.
        return _page(lang=lang, slug=slug, message=words["report_invalid"], error=True, status=422)
    valid = (report or rating in {"1", "2", "3", "4", "5"}) and topic in tuple(FeedbackTopic)
    if not valid or len(comment) > MAX_COMMENT or len(quote) > MAX_QUOTE:
        return _page(
            lang=lang, slug=slug, message=words["feedback_invalid"], error=True, status=422
        )
    try:
        item = feedback.submit_feedback(
            rating=None if report else int(rating),
            topic=topic,
            comment=comment,
            quote=quote,
            guide_lang=form.get("guide_lang") or None,
            site_slug=slug,
            page_lang=lang,
            channel="page",
            languages=languages,
            now=utcnow(),
        )
    except DomainError as exc:
        return _page(lang=lang, slug=slug, message=exc.message, error=True, status=exc.status)
    held = item.state == FeedbackState.HELD.value
    message = words["feedback_held" if held else "report_thanks" if report else "feedback_thanks"]
    return _page(lang=lang, slug=slug, message=message, error=False, status=200)
