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


@dataclass(frozen=True, slots=True)
class WordErrors:
    wer: float
    words: int
    substitutions: int
    deletions: int
    insertions: int


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
