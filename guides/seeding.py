"""A seeded site's narration: the `narration` of its seed file (content/seed/sites/), the source
text and the people's translations, loaded when the catalogue loads the site. As with sites, a
narration that a person changed since it was seeded is never overwritten."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from app.extensions import db
from content.models import Provenance, Site
from content.seeding import SeedError, seed_outcome, set_fields, state_digest
from content.signals import SeedOutcome
from guides.models import Narration, NarrationText


def _state(narration: Narration, langs: list[str]) -> dict[str, Any]:
    texts = {}
    for lang in sorted(langs):
        row = narration.text_for(lang)
        if row is not None:
            texts[lang] = {"text": row.text, "provenance": row.provenance, "reviewed": row.reviewed}
    return {"text": narration.text, "source_lang": narration.source_lang, "texts": texts}


def load_narration(
    site: Site, *, record: Mapping[str, Any], source_lang: str, update: bool
) -> list[tuple[str, SeedOutcome]]:
    """Create the site's first narration from its seed record if it has none; with `update`,
    rewrite one nobody edited since it was seeded. A receiver of `site_seeded`."""
    scripts: dict[str, str] = record.get("narration") or {}
    if not scripts:
        return []
    if source_lang not in scripts:
        raise SeedError(f"{site.slug}: narration needs the source language {source_lang!r}")
    translations = {
        lang: {"text": script.strip(), "provenance": Provenance.HUMAN.value, "reviewed": True}
        for lang, script in scripts.items()
        if lang != source_lang
    }
    source = scripts[source_lang].strip()
    wanted = {"text": source, "source_lang": source_lang, "texts": translations}
    narration = db.session.scalar(
        select(Narration).where(Narration.site_id == site.id).order_by(Narration.id)
    )
    if narration is None:
        narration = Narration(site_id=site.id, source_lang=source_lang, text=source)
        db.session.add(narration)
        outcome = SeedOutcome.CREATED
    else:
        outcome = seed_outcome(
            current=_state(narration, list(translations)),
            wanted=wanted,
            digest=narration.seed_digest,
            update=update,
        )
    if outcome.writes:
        set_fields(narration, {"text": source, "source_lang": source_lang})
        for lang, values in translations.items():
            row = narration.text_for(lang)
            if row is None:
                narration.texts.append(NarrationText(lang=lang, **values))
            else:
                set_fields(row, values)
    if outcome.seeded_state:
        narration.seed_digest = state_digest(wanted)
    db.session.flush()
    return [(f"narration:{site.slug}", outcome)]
