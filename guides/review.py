"""Review of a narration, language by language, in Weblate's states: `machine` (the machine's
words, nobody looked), `needs_review` (a person's words, not yet approved), `approved` (an
editor approved the words; its track may be published) and `published` (the published guide
speaks these very words). The same services serve the console and the JSON API."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app import audit
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from content.models import Provenance, Site
from guides import publishing
from guides.models import Guide, GuideTrack, Narration, NarrationText


class ReviewState(enum.StrEnum):
    MACHINE = "machine"  # machine-made words (a translation, or Whisper's transcript)
    NEEDS_REVIEW = "needs_review"  # a person's words, waiting for an editor's approval
    APPROVED = "approved"  # approved words; their track may be published
    PUBLISHED = "published"  # the published guide speaks these words


def get_narration(narration_id: int) -> Narration:
    narration = db.session.get(Narration, narration_id)
    if narration is None:
        raise NotFound(f"narration {narration_id} not found", reason="no_narration")
    return narration


def served_languages(narration: Narration) -> list[str]:
    """The narration's source first, then every served language."""
    configured = list(current_app.config["LANGUAGES"])
    return [narration.source_lang, *(code for code in configured if code != narration.source_lang)]


def site_guides(site_id: int) -> dict[str, Guide]:
    return guides_by_site([site_id]).get(site_id, {})


def guides_by_site(site_ids: Iterable[int]) -> dict[int, dict[str, Guide]]:
    """Every guide of these sites by site and language, in one query (the review queue's)."""
    found: dict[int, dict[str, Guide]] = {}
    wanted = sorted(set(site_ids))
    if not wanted:
        return found
    for row in db.session.scalars(select(Guide).where(Guide.site_id.in_(wanted))).unique():
        found.setdefault(row.site_id, {})[row.lang] = row
    return found


def words(narration: Narration, lang: str) -> tuple[str | None, str | None, bool]:
    """(text, provenance, approved) of one language of a narration."""
    if lang == narration.source_lang:
        return narration.text, narration.source_provenance, narration.source_reviewed
    row = narration.text_for(lang)
    if row is None:
        return None, None, False
    return row.text, row.provenance, row.reviewed


def _same_words(a: str, b: str) -> bool:
    # A track's transcript is its text re-joined (blank lines, no spaces in ja/zh): compare the
    # words, not the spacing.
    return "".join(a.split()) == "".join(b.split())


def review_state(narration: Narration, lang: str, guide: Guide | None) -> ReviewState:
    """Where one language of a narration stands in review."""
    text, provenance, approved = words(narration, lang)
    published = guide.published_track if guide is not None else None
    waiting = guide is not None and guide.draft_track_id is not None
    return _state(text, provenance, approved, published.transcript if published else None, waiting)


def _state(
    text: str | None,
    provenance: str | None,
    approved: bool,
    published_transcript: str | None,
    draft_waiting: bool,
) -> ReviewState:
    if (
        text
        and published_transcript is not None
        and not draft_waiting
        and _same_words(published_transcript, text)
    ):
        return ReviewState.PUBLISHED
    if text and approved:
        return ReviewState.APPROVED
    if text and provenance == Provenance.HUMAN.value:
        return ReviewState.NEEDS_REVIEW
    return ReviewState.MACHINE


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One site's newest narration in the review queue, with each language's state."""

    narration_id: int
    site_id: int
    states: dict[str, str]


def review_queue() -> list[QueueRow]:
    """Every site's newest narration and the review state of each served language, read as
    plain rows in three queries (no ORM objects: the queue covers every site)."""
    newest = select(func.max(Narration.id)).group_by(Narration.site_id)
    narrations = db.session.execute(
        select(
            Narration.id,
            Narration.site_id,
            Narration.source_lang,
            Narration.text,
            Narration.source_provenance,
            Narration.source_reviewed,
        ).where(Narration.id.in_(newest))
    ).all()
    texts: dict[int, dict[str, tuple[str | None, str | None, bool]]] = {}
    for text_row in db.session.execute(
        select(
            NarrationText.narration_id,
            NarrationText.lang,
            NarrationText.text,
            NarrationText.provenance,
            NarrationText.reviewed,
        ).where(NarrationText.narration_id.in_(newest))
    ):
        texts.setdefault(text_row.narration_id, {})[text_row.lang] = (
            text_row.text,
            text_row.provenance,
            text_row.reviewed,
        )
    guides: dict[tuple[int, str], tuple[str | None, bool]] = {}
    published = aliased(GuideTrack)
    site_ids = sorted({row.site_id for row in narrations})
    if site_ids:
        for guide in db.session.execute(
            select(Guide.site_id, Guide.lang, Guide.draft_track_id, published.transcript)
            .outerjoin(published, published.id == Guide.published_track_id)
            .where(Guide.site_id.in_(site_ids))
        ):
            guides[(guide.site_id, guide.lang)] = (
                guide.transcript,
                guide.draft_track_id is not None,
            )
    configured = list(current_app.config["LANGUAGES"])
    queue = []
    for row in narrations:
        states: dict[str, str] = {}
        own = texts.get(row.id, {})
        for lang in [row.source_lang, *(code for code in configured if code != row.source_lang)]:
            words_of: tuple[str | None, str | None, bool] = (
                (row.text, row.source_provenance, row.source_reviewed)
                if lang == row.source_lang
                else own.get(lang, (None, None, False))
            )
            transcript, waiting = guides.get((row.site_id, lang), (None, False))
            states[lang] = _state(*words_of, transcript, waiting).value
        queue.append(QueueRow(narration_id=row.id, site_id=row.site_id, states=states))
    return queue


def approve(*, narration_id: int, lang: str) -> ReviewState:
    """An editor approves one language's words (the source's, or a translation)."""
    narration = get_narration(narration_id)
    text, _, _ = words(narration, lang)
    if not text:
        raise ValidationFailed(
            f"there are no {lang} words to approve yet",
            reason="text_missing",
            errors={"lang": ["no text"]},
        )
    if lang == narration.source_lang:
        narration.source_reviewed = True
    else:
        row = narration.text_for(lang)
        assert row is not None
        row.reviewed = True
    audit.record(
        action="narration.approve",
        object_type="narration",
        object_id=narration.id,
        changes={"lang": lang},
    )
    db.session.flush()
    return review_state(narration, lang, site_guides(narration.site_id).get(lang))


def publish_approved(*, narration_id: int) -> list[str]:
    """Publish every approved language whose track waits; the languages published."""
    narration = get_narration(narration_id)
    site = db.session.get(Site, narration.site_id)
    assert site is not None
    guides = site_guides(site.id)
    done: list[str] = []
    for lang in served_languages(narration):
        guide = guides.get(lang)
        if guide is None or guide.draft_track_id is None:
            continue
        if review_state(narration, lang, guide) is ReviewState.APPROVED:
            publishing.publish_guide(site_slug=site.slug, lang=lang)
            done.append(lang)
    return done
