"""Tourists' feedback: taken from the page's form and the app, guarded against robots and
spam, its language detected, and marked handled by staff with a note (audited)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import func, select

from app import audit
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.states import StateMachine
from content.models import Site
from insights import translation
from insights.models import Feedback, FeedbackState, FeedbackTopic

log = logging.getLogger(__name__)

#: A link, or something a phone would turn into one: held for a person to read first.
_LINK = re.compile(
    r"(https?://|www\.|\b[\w-]+\.(com|net|org|info|biz|xyz|top|ru|cn|io|me|vn|link|click|shop)\b)",
    re.IGNORECASE,
)
#: Fewer letters than this and language detection is a guess: none is recorded.
_MIN_LETTERS_TO_DETECT = 8

FEEDBACK_STATES = StateMachine(
    kind="feedback",
    states=FeedbackState,
    moves={
        (FeedbackState.OPEN, "handle"): FeedbackState.HANDLED,
        (FeedbackState.HELD, "handle"): FeedbackState.HANDLED,
        (FeedbackState.HELD, "release"): FeedbackState.OPEN,
    },
)


def has_link(text: str) -> bool:
    """Whether the text holds a link (or a bare domain name)."""
    return _LINK.search(text) is not None


@cache
def _detector(languages: tuple[str, ...]) -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [
        getattr(IsoCode639_1, code.upper())
        for code in languages
        if hasattr(IsoCode639_1, code.upper())
    ]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_low_accuracy_mode().build()


def detect_language(text: str, *, languages: Iterable[str]) -> str | None:
    """The comment's language among the served ones (lingua), or None when it is too short."""
    if sum(ch.isalpha() for ch in text) < _MIN_LETTERS_TO_DETECT:
        return None
    candidates = tuple(sorted(set(languages)))
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    found = _detector(candidates).detect_language_of(text)
    return None if found is None else str(found.iso_code_639_1.name).lower()


def submit_feedback(
    *,
    rating: int | None,
    topic: str,
    comment: str,
    site_slug: str | None,
    page_lang: str,
    channel: str,
    languages: Iterable[str],
    now: datetime,
    quote: str | None = None,
    guide_lang: str | None = None,
) -> Feedback:
    """Store a tourist's feedback; a comment with a link is held for moderation, and one in
    another language than the staff's is machine-translated for them after the commit.

    A translation error keeps the sentence quoted and the language of the guide's text it is
    about (the page's, unless said), so it reaches the review queue of that site and language;
    it alone may come without a rating, when it quotes a sentence.
    """
    served = tuple(languages)
    error = topic == FeedbackTopic.TRANSLATION_ERROR.value
    quote = ((quote or "").strip() or None) if error else None
    if rating is None and quote is None:
        raise ValidationFailed(
            "give a rating from 1 to 5 (only a quoted translation error may come without one)",
            reason="rating_required",
            errors={"rating": ["required"]},
        )
    if error:
        guide_lang = guide_lang or page_lang
        if guide_lang not in served:
            raise ValidationFailed(
                f"{guide_lang!r} is not a served language",
                reason="unknown_language",
                errors={"guide_language": [f"one of: {', '.join(served)}"]},
            )
    site_id = None
    if site_slug is not None:
        site_id = db.session.scalar(select(Site.id).where(Site.slug == site_slug))
        if site_id is None:
            raise ValidationFailed(
                f"there is no site {site_slug!r}",
                reason="unknown_site",
                errors={"site": ["unknown site"]},
            )
    comment = comment.strip()
    held = has_link(comment) or (quote is not None and has_link(quote))
    feedback = Feedback(
        site_id=site_id,
        rating=rating,
        topic=topic,
        comment=comment,
        quote=quote,
        guide_lang=guide_lang if error else None,
        page_lang=page_lang,
        detected_lang=detect_language(comment, languages=served) if comment else None,
        channel=channel,
        state=(FeedbackState.HELD if held else FeedbackState.OPEN).value,
        held_reason="link" if held else None,
        created_at=now,
    )
    db.session.add(feedback)
    db.session.flush()
    translation.start_comment_translation(feedback)
    return feedback


def get_feedback(*, feedback_id: int) -> Feedback:
    feedback = db.session.get(Feedback, feedback_id)
    if feedback is None:
        raise NotFound(f"there is no feedback {feedback_id}")
    return feedback


def handle_feedback(*, feedback_id: int, user_id: int | None, note: str, now: datetime) -> Feedback:
    """Mark feedback as handled, saying what was done (audited)."""
    note = note.strip()
    if not note:
        raise ValidationFailed(
            "say what was done", reason="note_required", errors={"note": ["required"]}
        )
    feedback = get_feedback(feedback_id=feedback_id)
    FEEDBACK_STATES.move(feedback, "handle", changes={"note": note})
    feedback.handled_at = now
    feedback.handled_by_id = user_id
    feedback.handled_note = note[:1000]
    db.session.flush()
    return feedback


def release_feedback(*, feedback_id: int) -> Feedback:
    """A held comment was read and is fine: it joins the open items (audited)."""
    feedback = get_feedback(feedback_id=feedback_id)
    FEEDBACK_STATES.move(feedback, "release")
    db.session.flush()
    return feedback


def list_feedback(
    *,
    state: str | None = None,
    site_id: int | None = None,
    topic: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Feedback]:
    """Feedback newest first, filtered, paged by cursor."""
    query = select(Feedback).order_by(Feedback.id.desc()).limit(limit)
    if state:
        query = query.where(Feedback.state == state)
    if site_id is not None:
        query = query.where(Feedback.site_id == site_id)
    if topic:
        query = query.where(Feedback.topic == topic)
    if before_id is not None:
        query = query.where(Feedback.id < before_id)
    return list(db.session.scalars(query))


def audit_of(feedback: Feedback) -> list[audit.AuditLog]:
    return audit.people_entries(object_type="feedback", object_id=str(feedback.id))


def _open_errors() -> tuple[Any, ...]:
    """What makes an item an open translation error (the review queue's)."""
    return (
        Feedback.topic == FeedbackTopic.TRANSLATION_ERROR.value,
        Feedback.state == FeedbackState.OPEN.value,
    )


def open_translation_errors() -> dict[tuple[int | None, str | None], int]:
    """How many open translation errors wait per (site, language), in one query (an index
    holds them: the review queue's)."""
    query = (
        select(Feedback.site_id, Feedback.guide_lang, func.count())
        .where(*_open_errors())
        .group_by(Feedback.site_id, Feedback.guide_lang)
    )
    return {(site_id, lang): count for site_id, lang, count in db.session.execute(query)}


def translation_errors(*, site_id: int, lang: str, limit: int = 100) -> list[Feedback]:
    """The open translation errors reported on one site's guide in one language, oldest first."""
    query = (
        select(Feedback)
        .where(*_open_errors(), Feedback.site_id == site_id, Feedback.guide_lang == lang)
        .order_by(Feedback.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))
