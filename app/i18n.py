"""Language negotiation: ?lang= wins, then Accept-Language, then the configured chain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, g, request
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
