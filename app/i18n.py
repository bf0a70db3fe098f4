"""Language negotiation: ?lang= wins, then Accept-Language, then the configured chain."""

from __future__ import annotations

from flask import current_app, g, request

from app.config import LANGUAGE_NAMES
from app.errors import ValidationFailed


def supported_languages() -> list[str]:
    """The configured languages, source language first."""
    return list(current_app.config["LANGUAGES"])


def requested_language() -> str:
    """The language the caller asked for (once per request); 422 for an unknown ?lang=."""
    if "requested_lang" in g:
        return str(g.requested_lang)
    languages = supported_languages()
    explicit = request.args.get("lang")
    if explicit is not None:
        code = explicit.strip().lower()
        if code not in languages:
            raise ValidationFailed(
                f"unsupported language {explicit[:20]!r}",
                reason="unknown_language",
                errors={"lang": [f"one of: {', '.join(languages)}"]},
            )
        lang = code
    else:
        # werkzeug matches "fr-CA" to "fr" and honours q-values.
        lang = request.accept_languages.best_match(languages) or _chain(languages)[0]
    g.requested_lang = lang
    return lang


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
