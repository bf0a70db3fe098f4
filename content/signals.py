"""What other domains add to the catalogue without the catalogue importing them (Indico's way:
blinker signals that the catalogue sends and the guide and ticketing domains answer).

Each signal has a typed sender function here; receivers connect in their domain's `init_app`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from blinker import Namespace

if TYPE_CHECKING:
    from content.models import Site, Tour

_signals = Namespace()

#: Sent with a site while its public document is built (`GET /sites/<slug>`, packs, sync), with
#: `lang` (the language served) and `requested`; each receiver returns a mapping of fields to
#: add: the guide domain adds `guide`, ticketing adds `ticket_products`.
site_document = _signals.signal("site-document")

#: Sent while `GET /languages` counts what each language has; each receiver returns
#: {language code: {field: count}} to add (the guide domain adds `sites_with_guide`).
language_counts = _signals.signal("language-counts")

#: Sent after a site was loaded from its seed file, with `record` (the validated YAML mapping),
#: `source_lang` and `update` (whether the seed may replace what differs); each receiver
#: returns a `SeedOutcome` (the guide domain loads the site's narration from `narration`).
site_seeded = _signals.signal("site-seeded")


class SeedOutcome(enum.StrEnum):
    """What loading a seed record did to the row it describes."""

    CREATED = "created"  # the row was missing and was made from the seed
    UPDATED = "updated"  # nobody had edited it since it was seeded; `--update` rewrote it
    UNCHANGED = "unchanged"  # it already says what the seed says
    KEPT = "kept"  # it differs from the seed and no `--update` was asked: left as it is
    EDITED = "edited"  # a person changed it since it was seeded: `--update` refuses it

    @property
    def writes(self) -> bool:
        """Whether the loader writes the seed's values to the row."""
        return self in (SeedOutcome.CREATED, SeedOutcome.UPDATED)

    @property
    def seeded_state(self) -> bool:
        """Whether the row says what the seed says afterwards (its digest is then stored)."""
        return self.writes or self is SeedOutcome.UNCHANGED


#: Sent after a staff edit changed a site's texts, with `langs` (the languages whose text
#: changed); the guide domain translates the source language's text again.
site_texts_changed = _signals.signal("site-texts-changed")

#: The same for a tour's texts (sent when a tour is created with its texts, too).
tour_texts_changed = _signals.signal("tour-texts-changed")


def texts_changed(owner: Site | Tour, *, langs: list[str]) -> None:
    """Tell other domains these languages' texts of the site or tour changed."""
    from content.models import Tour

    if langs:
        signal = tour_texts_changed if isinstance(owner, Tour) else site_texts_changed
        signal.send(owner, langs=langs)


def site_sections(site: Site, *, lang: str, requested: str) -> dict[str, Any]:
    """The fields other domains add to a site's public document."""
    fields: dict[str, Any] = {}
    for _, value in site_document.send(site, lang=lang, requested=requested):
        fields.update(value)
    return fields


def language_extras() -> dict[str, dict[str, int]]:
    """Per language, the counts other domains add to `GET /languages`."""
    counts: dict[str, dict[str, int]] = {}
    for _, value in language_counts.send(None):
        for lang, fields in value.items():
            counts.setdefault(lang, {}).update(fields)
    return counts


def seeded(
    site: Site, *, record: Mapping[str, Any], source_lang: str, update: bool
) -> list[tuple[str, SeedOutcome]]:
    """Tell other domains a site was seeded; (what, outcome) of each record they loaded."""
    answers = site_seeded.send(site, record=record, source_lang=source_lang, update=update)
    return [answer for _, value in answers if value for answer in value]
