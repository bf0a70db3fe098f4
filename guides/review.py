"""Review of a narration, language by language, in Weblate's states: `machine` (the machine's
words, nobody looked), `needs_review` (a person's words, not yet approved), `approved` (an
editor approved the words; its track may be published) and `published` (the published guide
speaks these very words). The same services serve the console and the JSON API."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import select

from app import audit
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from content.models import Provenance, Site
from guides import publishing
from guides.models import Guide, Narration


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
    if (
        text
        and published is not None
        and guide is not None
        and guide.draft_track_id is None
        and _same_words(published.transcript, text)
    ):
        return ReviewState.PUBLISHED
    if text and approved:
        return ReviewState.APPROVED
    if text and provenance == Provenance.HUMAN.value:
        return ReviewState.NEEDS_REVIEW
    return ReviewState.MACHINE


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
