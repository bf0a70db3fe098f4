"""A seeded site's narration: the `narration` of its seed file (content/seed/sites/), the source
text and the people's translations, loaded when the catalogue loads the site."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from app.extensions import db
from content.models import Provenance, Site
from content.seeding import SeedError, set_fields
from guides.models import Narration, NarrationText


def load_narration(site: Site, *, record: Mapping[str, Any], source_lang: str) -> bool:
    """Create or update the site's first narration from its seed record; whether it changed.

    A receiver of `content.signals.site_seeded`.
    """
    scripts: dict[str, str] = record.get("narration") or {}
    if not scripts:
        return False
    if source_lang not in scripts:
        raise SeedError(f"{site.slug}: narration needs the source language {source_lang!r}")
    narration = db.session.scalar(
        select(Narration).where(Narration.site_id == site.id).order_by(Narration.id)
    )
    changed = False
    source = scripts[source_lang].strip()
    if narration is None:
        narration = Narration(site_id=site.id, source_lang=source_lang, text=source)
        db.session.add(narration)
        changed = True
    else:
        changed |= set_fields(narration, {"text": source, "source_lang": source_lang})
    for lang, script in scripts.items():
        if lang == source_lang:
            continue
        row = narration.text_for(lang)
        values = {"text": script.strip(), "provenance": Provenance.HUMAN.value, "reviewed": True}
        if row is None:
            narration.texts.append(NarrationText(lang=lang, **values))
            changed = True
        else:
            changed |= set_fields(row, values)
    db.session.flush()
    return changed
