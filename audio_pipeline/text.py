"""Narration text: paragraphs and sentences, the units translated, spoken and captioned.

Our own splitter, not Argos's: Argos's default sentence splitters fetch models from the
internet at translate time, and the pipeline needs the same sentences for translation, speech
and captions anyway (one source sentence -> one translated sentence -> one caption).
"""

from __future__ import annotations

import re
import unicodedata

from audio_pipeline.errors import TextRejected
from audio_pipeline.languages import language

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SPACES = re.compile(r"\s+")
# A sentence ends at . ! ? … (plus closing quotes or brackets) followed by space, or at CJK
# full stops, which need no space after them.
_BOUNDARY = re.compile(r"([.!?…]+[\"'”’»)\]]*)(\s+)|([。！？]+[」』”’）]*)")  # noqa: RUF001
#: Words ending in a full stop that do not end a sentence.
_ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "st", "no", "vs", "etc", "e.g", "i.e", "ca", "approx", "mt",
        "tp", "q", "p", "ths", "ts", "gs", "pgs", "m", "mme", "mlle", "nr", "z.b", "bzw", "sr",
        "sra", "ул", "г", "т.е",  # noqa: RUF001 - Russian abbreviations
    }
)  # fmt: skip


def normalize(text: str) -> str:
    """NFC (Vietnamese has several ways to encode one letter), no control characters."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


def paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines, each on one line."""
    return [
        _SPACES.sub(" ", block).strip()
        for block in _PARAGRAPH_BREAK.split(normalize(text))
        if block.strip()
    ]


def _ends_sentence(before: str, after: str) -> bool:
    words = before.rsplit(None, 1)
    last = words[-1] if words else ""
    stem = last.rstrip(".!?…\"'”’»)]").lower()  # noqa: RUF001 - closing quotes
    if last.endswith(".") and (stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha())):
        return False
    if last.endswith(".") and stem.replace(".", "").isdigit() and after[:1].isdigit():
        return False  # "20.000" split by a line wrap is a number, not two sentences
    first = after.lstrip("\"'“‘«([")[:1]  # noqa: RUF001 - opening quotes
    # A lowercase word after the stop is a continuation ("approx. three metres").
    return not first.islower()


def sentences(paragraph: str) -> list[str]:
    """Split one paragraph into sentences, keeping their punctuation."""
    text = paragraph.strip()
    result: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1) if match.group(1) else match.end(3)
        if match.group(1) and not _ends_sentence(text[start:end], text[match.end() :]):
            continue
        piece = text[start:end].strip()
        if piece:
            result.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        result.append(tail)
    return result


def segment(text: str) -> list[list[str]]:
    """Paragraphs of sentences: the structure kept through translation and speech."""
    return [sentences(paragraph) for paragraph in paragraphs(text)]


def join(structure: list[list[str]], lang: str) -> str:
    """Text from paragraphs of sentences: blank lines between paragraphs."""
    glue = "" if language(lang).unspaced else " "
    return "\n\n".join(glue.join(paragraph) for paragraph in structure if paragraph)


#: Letters only Vietnamese uses among Latin-script languages (tone marks, horn, breve, đ).
_VIETNAMESE_LETTERS = frozenset("ăâđêôơưàảãạằẳẵắặầẩẫấậèẻẽẹềểễếệìỉĩịòỏõọồổỗốộờởỡớợùủũụừửữứựỳỷỹýỵ")
_SCRIPTS = {
    "ko": lambda ch: "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff",
    "zh": lambda ch: "\u4e00" <= ch <= "\u9fff",
    "ja": lambda ch: "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff",
    "ru": lambda ch: "\u0400" <= ch <= "\u04ff",
    "th": lambda ch: "\u0e00" <= ch <= "\u0e7f",
}
#: A Vietnamese narration has tone marks on a large share of its letters (about 30%); a
#: foreign text about Hội An has them only in a few names.
VIETNAMESE_MIN_SHARE = 0.08


def check_text(text: str, lang: str, *, max_chars: int) -> list[list[str]]:
    """Narration text as paragraphs of sentences; TextRejected when it cannot be narrated."""
    info = language(lang)
    structure = segment(text)
    letters = [ch for ch in normalize(text).lower() if ch.isalpha()]
    if not structure or not letters:
        raise TextRejected("the narration text is empty", reason="empty_text")
    if len(text) > max_chars:
        raise TextRejected(
            f"the narration has {len(text)} characters; the limit is {max_chars}",
            reason="text_too_long",
        )
    vietnamese = sum(ch in _VIETNAMESE_LETTERS for ch in letters) / len(letters)
    if lang in _SCRIPTS:
        in_script = sum(_SCRIPTS[lang](ch) for ch in letters) / len(letters)
        wrong = in_script < 0.5
    elif lang == "vi":
        wrong = vietnamese < VIETNAMESE_MIN_SHARE
    else:
        latin = sum(
            ch.isascii() or "\u00c0" <= ch <= "\u024f" or ch in _VIETNAMESE_LETTERS
            for ch in letters
        )
        wrong = latin / len(letters) < 0.8 or vietnamese >= VIETNAMESE_MIN_SHARE
    if wrong and info.code:
        raise TextRejected(
            f"the text does not look like {lang}; check the language it was sent as",
            reason="wrong_language",
        )
    return structure
