"""What each engine calls our languages, and how each language ends a sentence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LanguageInfo:
    code: str  # ours: the service's language code (ISO 639-1)
    whisper: str  # faster-whisper's language code
    argos: str  # Argos Translate's package code
    espeak: str  # espeak-ng voice
    #: Written in the Latin alphabet: Vietnamese names may stay as they are written in Vietnamese.
    latin: bool = True
    #: Written without spaces between words (captions wrap by characters, WER counts characters).
    unspaced: bool = False


LANGUAGES: dict[str, LanguageInfo] = {
    info.code: info
    for info in (
        LanguageInfo("vi", "vi", "vi", "vi"),
        LanguageInfo("en", "en", "en", "en-us"),
        LanguageInfo("ko", "ko", "ko", "ko", latin=False),
        LanguageInfo("zh", "zh", "zh", "cmn", latin=False, unspaced=True),
        LanguageInfo("ja", "ja", "ja", "ja", latin=False, unspaced=True),
        LanguageInfo("fr", "fr", "fr", "fr-fr"),
        LanguageInfo("de", "de", "de", "de"),
        LanguageInfo("es", "es", "es", "es"),
        LanguageInfo("ru", "ru", "ru", "ru", latin=False),
        LanguageInfo("it", "it", "it", "it"),
        LanguageInfo("th", "th", "th", "th", latin=False, unspaced=True),
        LanguageInfo("pt", "pt", "pt", "pt"),
    )
}

#: Translation goes through English when there is no direct package (vi -> en -> fr).
PIVOT_LANGUAGE = "en"


def language(code: str) -> LanguageInfo:
    """The engine codes of one of our languages; UnsupportedLanguage for any other."""
    from audio_pipeline.errors import UnsupportedLanguage

    try:
        return LANGUAGES[code]
    except KeyError:
        raise UnsupportedLanguage(
            f"language {code!r} is not supported; known: {', '.join(sorted(LANGUAGES))}"
        ) from None
