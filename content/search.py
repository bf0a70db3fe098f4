"""Accent- and case-insensitive search that works the same on SQLite and PostgreSQL.

Every text is folded to lowercase ASCII words (Unidecode: "Chùa Cầu" -> "chua cau",
Chinese and Japanese to their romanisation), stored in one column per site, and queried by
word prefix, so "chua cau", "Chùa Cầu" and "japanese bridge" all reach the covered bridge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import InstrumentedAttribute
from unidecode import unidecode

_WORD = re.compile(r"[a-z0-9]+")
MAX_TOKENS = 8


def fold_words(text: str) -> list[str]:
    """Lowercase ASCII words of a text in any script."""
    return _WORD.findall(unidecode(text).lower())


def build_document(parts: Iterable[str]) -> str:
    """The folded search document: space-padded words, so ' word' marks a word start."""
    words: list[str] = []
    for part in parts:
        words.extend(fold_words(part))
    return " " + " ".join(words) + " "


def query_tokens(query: str) -> list[str]:
    """The words of a search query (at most MAX_TOKENS), folded like the documents."""
    return fold_words(query)[:MAX_TOKENS]


def match_all(column: InstrumentedAttribute[str], tokens: list[str]) -> ColumnElement[bool]:
    """SQL condition: every token starts a word of the document."""
    return and_(*(column.like(f"% {token}%") for token in tokens))


def name_match_rank(names: Iterable[str], tokens: list[str]) -> int:
    """0 when every token starts a word of some name, else 1 (for ordering results)."""
    document = build_document(names)
    return 0 if all(f" {token}" in document for token in tokens) else 1
