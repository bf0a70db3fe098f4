"""Staff's glossary: proper names of the town and of each site, per language, that Whisper is
primed with and translation keeps (`stages.site_glossary` merges them with the seed's file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask import current_app

from app import audit
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from content.models import Site
from guides.models import GlossaryTerm

#: Every Latin-script language the term does not name writes it this way.
ANY_LATIN = "*"
MAX_FORM_CHARS = 120


def _codes() -> list[str]:
    return [ANY_LATIN, *current_app.config["LANGUAGES"]]


def add_term(
    *,
    site: Site | None,
    forms: Mapping[str, str],
    variants: Mapping[str, Sequence[str]] | None = None,
) -> GlossaryTerm:
    """A new term, for one site or (no site) the whole town; its forms checked."""
    codes = _codes()
    clean = {lang: " ".join(value.split()) for lang, value in forms.items() if value.strip()}
    unknown = sorted(set(clean) - set(codes)) + sorted(set(variants or {}) - set(codes))
    if unknown:
        raise ValidationFailed(
            f"languages not served: {', '.join(unknown)}",
            reason="unsupported_language",
            errors={"forms": [", ".join(codes)]},
        )
    if not clean:
        raise ValidationFailed(
            "write the name in at least one language", errors={"forms": ["empty"]}
        )
    spellings = {
        lang: [" ".join(v.split()) for v in values if v.strip()]
        for lang, values in (variants or {}).items()
    }
    spellings = {lang: values for lang, values in spellings.items() if values}
    too_long = [
        text
        for text in [*clean.values(), *(v for values in spellings.values() for v in values)]
        if len(text) > MAX_FORM_CHARS
    ]
    if too_long:
        raise ValidationFailed(
            f"a name has at most {MAX_FORM_CHARS} characters", errors={"forms": ["too long"]}
        )
    term = GlossaryTerm(site_id=site.id if site else None, forms=clean, variants=spellings)
    db.session.add(term)
    db.session.flush()
    audit.record(
        action="glossary.add",
        object_type="glossary_term",
        object_id=term.id,
        changes={"site": site.slug if site else None, "forms": clean, "variants": spellings},
    )
    return term


def delete_term(*, term_id: int) -> None:
    term = db.session.get(GlossaryTerm, term_id)
    if term is None:
        raise NotFound(f"glossary term {term_id} not found")
    audit.record(
        action="glossary.delete",
        object_type="glossary_term",
        object_id=term.id,
        changes={"forms": term.forms},
    )
    db.session.delete(term)
    db.session.flush()
