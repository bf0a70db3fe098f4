"""Language negotiation (?lang= wins, then Accept-Language, then the configured chain) for the
API and the tourist pages, and gettext catalogues for the staff front-ends' own words."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import support
from babel.dates import format_datetime
from babel.messages import mofile, pofile
from flask import Flask, current_app, g, request
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from app.config import LANGUAGE_NAMES
from app.errors import ValidationFailed


def supported_languages() -> list[str]:
    """The configured languages, source language first."""
    return list(current_app.config["LANGUAGES"])


def negotiate(
    *, explicit: str | None, accept_language: str | None, languages: list[str], default: str
) -> str | None:
    """The requested language from ?lang= then Accept-Language; None for an unknown ?lang=."""
    if explicit is not None:
        code = explicit.strip().lower()
        return code if code in languages else None
    if not accept_language:
        return default
    # werkzeug matches "fr-CA" to "fr" and honours q-values.
    accepted = parse_accept_header(accept_language, LanguageAccept)
    return accepted.best_match(languages) or default


def requested_language() -> str:
    """The language the caller asked for (once per request); 422 for an unknown ?lang=."""
    if "requested_lang" in g:
        return str(g.requested_lang)
    languages = supported_languages()
    explicit = request.args.get("lang")
    lang = negotiate(
        explicit=explicit,
        accept_language=request.headers.get("Accept-Language"),
        languages=languages,
        default=default_language(),
    )
    if lang is None:
        raise ValidationFailed(
            f"unsupported language {str(explicit)[:20]!r}",
            reason="unknown_language",
            errors={"lang": [f"one of: {', '.join(languages)}"]},
        )
    g.requested_lang = lang
    return lang


def chain_head(config: Mapping[str, Any]) -> str:
    """What a caller who states no preference gets: the head of the fallback chain."""
    return str([*config["FALLBACK_CHAIN"], config["SOURCE_LANGUAGE"]][0])


def default_language() -> str:
    return chain_head(current_app.config)


def _chain(languages: list[str]) -> list[str]:
    return [*current_app.config["FALLBACK_CHAIN"], current_app.config["SOURCE_LANGUAGE"]]


def fallback_chain(requested: str) -> list[str]:
    """Languages to try in order for a requested one, without repeats."""
    order: list[str] = []
    for code in [requested, *_chain(supported_languages())]:
        if code not in order:
            order.append(code)
    return order


def pick_language(requested: str, available: set[str]) -> str | None:
    """The first language along the fallback chain that has content, or None."""
    return next((code for code in fallback_chain(requested) if code in available), None)


def native_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


# --- the staff front-ends' own words (gettext) ------------------------------------------------
#
# The console and the scanner write their words in English in the code (`_("Sign in")`) and
# keep every translation in gettext catalogues of their own (`translations/<lang>/LC_MESSAGES/
# *.po`, one file per group of pages, edited with any PO editor). The catalogues are compiled in
# memory when the app starts, so there is no build step and no compiled file to forget.

_CATALOGUES = "hoian_ui_catalogues"


class UiCatalogues:
    """Every registered front-end's catalogues, merged per language, compiled on first use."""

    def __init__(self) -> None:
        self.directories: list[Path] = []
        self._compiled: dict[str, support.Translations] = {}

    def add(self, directory: Path) -> None:
        if directory not in self.directories:
            self.directories.append(directory)
            self._compiled.clear()

    def translations(self, lang: str) -> support.NullTranslations:
        if lang not in self._compiled:
            merged = support.Translations()
            for directory in self.directories:
                # One catalogue file per group of pages (messages.po, sites.po, ...).
                for po in sorted((directory / lang / "LC_MESSAGES").glob("*.po")):
                    compiled = _compile(po)
                    merged.merge(compiled)
                    # merge() keeps the empty catalogue's English plural rule (n != 1): the
                    # language's own rule (Vietnamese: one form) picks the right msgstr.
                    merged.plural = compiled.plural
            self._compiled[lang] = merged
        return self._compiled[lang]


def _compile(po: Path) -> support.Translations:
    with po.open("rb") as source:
        catalog = pofile.read_po(source)
    buffer = io.BytesIO()
    mofile.write_mo(buffer, catalog)  # fuzzy entries stay out, as msgfmt leaves them
    buffer.seek(0)
    return support.Translations(buffer)


def add_catalogue(app: Flask, directory: Path) -> None:
    """Register a front-end's gettext catalogues and make `_()` work in every template."""
    catalogues: UiCatalogues | None = app.extensions.get(_CATALOGUES)
    if catalogues is None:
        catalogues = app.extensions[_CATALOGUES] = UiCatalogues()
        app.jinja_env.add_extension("jinja2.ext.i18n")
        # Jinja's new-style gettext fills the placeholders itself, so it gets the bare lookups.
        app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
            lambda message: _translations().ugettext(message),
            lambda singular, plural, n: _translations().ungettext(singular, plural, n),
            newstyle=True,
        )
        app.jinja_env.filters["local_time"] = local_time
    catalogues.add(directory)


def ui_language() -> str:
    """The staff front-end's language for this request (set by the front-end), or its default."""
    return str(g.get("ui_lang") or current_app.config["CONSOLE_LANGUAGES"][0])


def _translations() -> support.NullTranslations:
    catalogues: UiCatalogues | None = current_app.extensions.get(_CATALOGUES)
    if catalogues is None:
        return support.NullTranslations()
    return catalogues.translations(ui_language())


def gettext(message: str, **values: Any) -> str:
    """`message` in the front-end's language, with `%(name)s` placeholders filled."""
    text = _translations().ugettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    text = _translations().ungettext(singular, plural, n)
    return text % {"num": n, **values}


#: The conventional name, for `from app.i18n import _`.
_ = gettext


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it yet (translated where shown)."""
    return message


#: How staff write a moment: day first in Vietnamese, unambiguous in English.
_MOMENT = {"vi": "dd/MM/yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}


def local_time(value: datetime | None, format: str | None = None) -> str:
    """A UTC datetime shown in the town's zone and the front-end's language."""
    if value is None:
        return ""
    lang = ui_language()
    return format_datetime(
        value,
        format=format or _MOMENT.get(lang, "medium"),
        tzinfo=ZoneInfo(current_app.config["TIMEZONE"]),
        locale=lang,
    )
