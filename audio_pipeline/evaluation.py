"""Word error rate between a script and what Whisper heard, after the same normalisation
on both sides: case, punctuation, numbers as words, and (for English) Vietnamese diacritics,
which an English voice cannot say and an English transcript does not write."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import jiwer
from num2words import num2words
from unidecode import unidecode

from audio_pipeline.languages import language
from audio_pipeline.text import normalize

_NUMBER = re.compile(r"\d+(?:[.,]\d{3})*")
#: Ordinals as Whisper writes them ("17th", "17e", "17ème"), spelt as the voice said them.
_ORDINAL = {
    "en": re.compile(r"\b(\d+)(?:st|nd|rd|th)\b"),
    "fr": re.compile(r"\b(\d+)(?:e|ème|eme)\b"),
}


#: Languages whose round trip is scored in characters: those written without spaces (ja, zh,
#: th), and Korean, whose spaces separate phrases (eojeol) so long that one misheard particle
#: would count as a whole wrong "word".
CHARACTER_SCORED = frozenset({"ja", "zh", "ko", "th"})


@dataclass(frozen=True, slots=True)
class WordErrors:
    wer: float  # the error rate in `metric`'s units (characters for CER)
    words: int  # reference units: words, or characters for CER
    substitutions: int
    deletions: int
    insertions: int
    metric: str = "wer"


def _spell_number(match: re.Match[str], lang: str) -> str:
    digits = re.sub(r"[.,]", "", match.group(0))
    value = int(digits)
    if lang == "en" and len(digits) == 4 and 1100 <= value <= 2099:
        return f" {num2words(value, lang='en', to='year')} "
    try:
        return f" {num2words(value, lang=lang)} "
    except NotImplementedError:
        return f" {digits} "


def normalise_for_wer(text: str, lang: str) -> str:
    """Lowercase words without punctuation, numbers spelt out, one space between words."""
    text = normalize(text).lower()
    if lang in _ORDINAL:
        text = _ORDINAL[lang].sub(
            lambda m: f" {num2words(int(m.group(1)), lang=lang, to='ordinal')} ", text
        )
    text = _NUMBER.sub(lambda m: _spell_number(m, lang), text)
    if lang == "en":
        text = unidecode(text)
    text = "".join(
        " " if unicodedata.category(ch)[0] in {"P", "S"} and ch != "'" else ch for ch in text
    )
    text = text.replace("'", "")
    if language(lang).unspaced:
        return " ".join(ch for ch in text if not ch.isspace())
    return " ".join(text.split())


def word_errors(reference: str, hypothesis: str, lang: str) -> WordErrors:
    """WER (characters for languages written without spaces) after normalisation."""
    ref = normalise_for_wer(reference, lang)
    hyp = normalise_for_wer(hypothesis, lang)
    result = jiwer.process_words(ref, hyp)
    return WordErrors(
        wer=round(float(result.wer), 4),
        words=len(ref.split()),
        substitutions=int(result.substitutions),
        deletions=int(result.deletions),
        insertions=int(result.insertions),
    )


def round_trip_metric(lang: str) -> str:
    """ "cer" for languages scored in characters, "wer" for the others."""
    return "cer" if lang in CHARACTER_SCORED else "wer"


def error_rate(reference: str, hypothesis: str, lang: str) -> WordErrors:
    """The round-trip error of `lang`: WER, or CER where words are not the unit people hear."""
    if round_trip_metric(lang) == "wer":
        return word_errors(reference, hypothesis, lang)

    def characters(text: str) -> str:
        return " ".join(ch for ch in normalise_for_wer(text, lang) if not ch.isspace())

    ref, hyp = characters(reference), characters(hypothesis)
    if not ref:
        raise ValueError("the reference has no characters to score")
    result = jiwer.process_words(ref, hyp) if hyp else None
    units = len(ref.split())
    if result is None:  # nothing heard: every reference character was deleted
        return WordErrors(1.0, units, 0, units, 0, metric="cer")
    return WordErrors(
        wer=round(float(result.wer), 4),
        words=units,
        substitutions=int(result.substitutions),
        deletions=int(result.deletions),
        insertions=int(result.insertions),
        metric="cer",
    )
