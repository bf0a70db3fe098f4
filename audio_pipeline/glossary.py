"""Glossary of proper names: Whisper's prompt, protected through translation, applied after.

A term has a form per language (``"*"``: every Latin-script language not listed, for names
that stay as Vietnamese writes them) and variants: other spellings that mean it ("Hoi An").
Site glossaries come first when merged with the global one, so a site's own names win.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audio_pipeline.languages import language
from audio_pipeline.text import normalize

#: Placeholder put in place of a protected term before translation. Models copy unknown
#: capitalised tokens through; the letter says which term it stands for.
_PLACEHOLDER = "XQZ{}"
_PLACEHOLDER_FOUND = re.compile(r"X\s?Q\s?Z\s?([A-Z])", re.IGNORECASE)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Term:
    forms: Mapping[str, str]
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def form(self, lang: str) -> str | None:
        """How the term is written in `lang`, if the glossary says."""
        if lang in self.forms:
            return self.forms[lang]
        if "*" in self.forms and language(lang).latin:
            return self.forms["*"]
        return None

    def spellings(self, lang: str) -> list[str]:
        """Every way the term may appear in `lang`: its form, then its variants."""
        form = self.form(lang)
        return [*([form] if form else []), *self.variants.get(lang, ())]


@dataclass(frozen=True, slots=True)
class Protected:
    """A sentence with terms replaced by placeholders, and what each placeholder stands for."""

    text: str
    targets: dict[str, str]  # placeholder letter -> the term's form in the target language


@dataclass(frozen=True, slots=True)
class Correction:
    found: str
    replaced_by: str


def _pattern(spellings: Iterable[str]) -> re.Pattern[str] | None:
    unique = sorted({s for s in spellings if s}, key=len, reverse=True)
    if not unique:
        return None
    alternation = "|".join(re.escape(s) for s in unique)
    # Hyphens count as part of a word: "Japanese-covered bridge" is not "covered bridge".
    return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.IGNORECASE)


class Glossary:
    """An ordered set of terms; earlier terms win where two match the same words."""

    def __init__(self, terms: Iterable[Term] = ()) -> None:
        self.terms: tuple[Term, ...] = tuple(terms)

    def __len__(self) -> int:
        return len(self.terms)

    @classmethod
    def from_data(cls, items: Iterable[Mapping[str, Any]]) -> Glossary:
        """From dicts shaped like the YAML file's `terms` list."""
        terms = []
        for item in items:
            forms = {str(k): normalize(str(v)) for k, v in dict(item["forms"]).items()}
            variants = {
                str(lang): tuple(normalize(str(v)) for v in values)
                for lang, values in dict(item.get("variants") or {}).items()
            }
            terms.append(Term(forms=forms, variants=variants))
        return cls(terms)

    @classmethod
    def from_yaml(cls, path: Path) -> Glossary:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.from_data(data.get("terms") or [])

    def merged(self, other: Glossary) -> Glossary:
        """`other`'s terms first (a site's own names), then ours."""
        return Glossary([*other.terms, *self.terms])

    def forms(self, lang: str) -> list[str]:
        """Every term's form in `lang`, without repeats, in glossary order."""
        seen: dict[str, None] = {}
        for term in self.terms:
            form = term.form(lang)
            if form:
                seen.setdefault(form, None)
        return list(seen)

    def whisper_prompt(self, lang: str, *, max_chars: int = 400) -> str:
        """Names to prime Whisper with (as hotwords and initial prompt), within its budget."""
        prompt = ""
        for form in self.forms(lang):
            candidate = f"{prompt}, {form}" if prompt else form
            if len(candidate) > max_chars:
                break
            prompt = candidate
        return prompt

    def protect(self, text: str, source: str, target: str) -> Protected:
        """Replace source-language terms that have a target form with placeholders."""
        candidates = [
            (term, spelling)
            for term in self.terms
            if term.form(target)
            for spelling in term.spellings(source)
        ]
        pattern = _pattern(spelling for _, spelling in candidates)
        if pattern is None:
            return Protected(text, {})
        lookup: dict[str, Term] = {}
        for term, spelling in candidates:
            lookup.setdefault(spelling.lower(), term)
        targets: dict[str, str] = {}
        letters: dict[str, str] = {}

        def substitute(match: re.Match[str]) -> str:
            term = lookup[match.group(0).lower()]
            form = term.form(target) or ""
            if form not in letters:
                if len(letters) == len(_LETTERS):
                    return match.group(0)
                letters[form] = _LETTERS[len(letters)]
                targets[letters[form]] = form
            return _PLACEHOLDER.format(letters[form])

        return Protected(pattern.sub(substitute, text), targets)

    @staticmethod
    def restore(translated: str, protected: Protected) -> tuple[str, list[str]]:
        """Put target forms back; returns the text and the forms whose placeholder was lost."""
        seen: set[str] = set()

        def substitute(match: re.Match[str]) -> str:
            letter = match.group(1).upper()
            if letter not in protected.targets:
                return match.group(0)
            seen.add(letter)
            return protected.targets[letter]

        restored = _PLACEHOLDER_FOUND.sub(substitute, translated)
        missing = [form for letter, form in protected.targets.items() if letter not in seen]
        return restored, missing

    def apply(self, text: str, lang: str) -> tuple[str, list[Correction]]:
        """Rewrite variant spellings to the term's form (after STT or MT)."""
        mapping: dict[str, str] = {}
        for term in self.terms:
            form = term.form(lang)
            if not form:
                continue
            # The form itself is matched too, so that a variant inside it ("Covered Bridge" in
            # "Japanese Covered Bridge") is not rewritten: the longest match wins.
            mapping.setdefault(form.lower(), form)
            for variant in term.variants.get(lang, ()):
                mapping.setdefault(variant.lower(), form)
        pattern = _pattern(mapping)
        if pattern is None:
            return text, []
        corrections: list[Correction] = []

        def substitute(match: re.Match[str]) -> str:
            form = mapping[match.group(0).lower()]
            if match.group(0) != form:
                corrections.append(Correction(match.group(0), form))
            return form

        return pattern.sub(substitute, text), corrections

    def translate_protected(
        self,
        sentence: str,
        *,
        source: str,
        target: str,
        translate: Callable[[str], str],
    ) -> tuple[str, list[str]]:
        """Translate one sentence keeping glossary terms; falls back to plain translation.

        Returns the translation and the target forms the model did not carry through (they
        are listed for the reviewer; the plain translation is used for that sentence).
        """
        protected = self.protect(sentence, source, target)
        if not protected.targets:
            return self.apply(translate(sentence), target)[0], []
        restored, missing = self.restore(translate(protected.text), protected)
        if not missing:
            return self.apply(restored, target)[0], []
        plain = self.apply(translate(sentence), target)[0]
        return plain, [form for form in protected.targets.values() if form not in plain]
