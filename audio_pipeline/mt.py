"""Machine translation with Argos Translate, offline by construction.

Argos's own sentence splitters fetch models at translate time (MiniSBD from GitHub, spaCy's
multilingual model at import when ARGOS_CHUNK_TYPE=SPACY, Stanza's resources). So:
- its directories and index point into the model directory before it is first imported;
- ARGOS_CHUNK_TYPE=MINISBD, whose splitter only downloads when asked to split, and we never
  ask it: sentences come from `audio_pipeline.text` and are handed to Argos's translating
  code (`apply_packaged_translation`) one at a time with a splitter that keeps them whole.
Translation goes vi -> en -> target where there is no direct package, sentence by sentence,
so paragraphs and the sentence-to-caption mapping survive.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audio_pipeline.errors import ModelLoadFailed, ModelMissing
from audio_pipeline.glossary import Glossary
from audio_pipeline.languages import PIVOT_LANGUAGE, language
from audio_pipeline.registry import ModelRegistry
from audio_pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)

_configure_lock = threading.Lock()


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def argos_environment(settings: PipelineSettings) -> dict[str, str]:
    """The variables Argos reads when imported, all pointing inside the model directory."""
    root = settings.model_dir / "argos"
    return {
        "ARGOS_PACKAGES_DIR": str(root / "packages"),
        "ARGOS_CHUNK_TYPE": "MINISBD",
        "ARGOS_DEVICE_TYPE": "cpu",
        "ARGOS_INTRA_THREADS": str(settings.threads),
        # Argos only reads the index in update_package_index(); a local file URL makes even
        # that stay on this machine. `models download` reads the real index itself.
        "ARGOS_PACKAGE_INDEX": (root / "index").as_uri() + "/",
        # Argos creates its data, config and cache folders at import; keep them with the models.
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_CACHE_HOME": str(root / "cache"),
    }


def import_argos(settings: PipelineSettings) -> Any:
    """Import argostranslate with our settings (Argos reads them once, at import)."""
    with _configure_lock:
        import sys

        if "argostranslate.settings" not in sys.modules:
            environment = argos_environment(settings)
            for key in ("ARGOS_PACKAGES_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
                Path(environment[key]).mkdir(parents=True, exist_ok=True)
            argos_only = {k: v for k, v in environment.items() if k.startswith("ARGOS_")}
            # Argos variables stay set (Argos re-reads some per call); the XDG ones only for
            # the import, so other libraries keep the user's folders.
            os.environ.update(argos_only)
            with (
                _environment({k: v for k, v in environment.items() if k.startswith("XDG_")}),
                _without_unused_splitters(),
            ):
                import argostranslate.package
                import argostranslate.translate
        import argostranslate

        return argostranslate


#: Sentence splitters argostranslate.sbd imports at module level, for chunk types this pipeline
#: never uses (it sets MINISBD and splits sentences itself). Stanza imports torch: 670 MB of a
#: worker's memory, measured, for nothing.
_UNUSED_SPLITTERS = ("stanza", "spacy")


class _Unused(types.ModuleType):
    """Stands in for a splitter library while Argos is imported; any use of it is a bug."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            f"{self.__name__}.{name} was used, but the speech pipeline imports Argos without "
            f"{self.__name__} (it splits sentences itself; audio_pipeline.mt)"
        )


@contextmanager
def _without_unused_splitters() -> Iterator[None]:
    """Import Argos with stand-ins for Stanza and spaCy, unless they are already loaded; the
    stand-ins leave sys.modules afterwards, so another import gets the real library."""
    import sys

    placed = [name for name in _UNUSED_SPLITTERS if name not in sys.modules]
    for name in placed:
        sys.modules[name] = _Unused(name)
    try:
        yield
    finally:
        for name in placed:
            if isinstance(sys.modules.get(name), _Unused):
                del sys.modules[name]


class _WholeSentence:
    """Argos's splitter interface, keeping our sentence as it is (nothing to download)."""

    def split_sentences(self, text: str) -> list[str]:
        return [text]


@dataclass(slots=True)
class _Hop:
    package: Any
    translator: Any


@dataclass(frozen=True, slots=True)
class Translation:
    """A narration in the target language, sentence-aligned with its source."""

    lang: str
    source_lang: str
    structure: list[list[str]]
    route: list[str]  # languages the text went through, e.g. ["vi", "en", "fr"]
    glossary_misses: list[str] = field(default_factory=list)


class ArgosTranslator:
    """Installed Argos packages, each loaded once; translate with pivoting through English."""

    #: Sentences remembered per worker: a job into eight languages through English says the
    #: same source sentences to vi -> en eight times; once is enough.
    SENTENCE_CACHE = 4096

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings)
        # Most recently used last; a worker keeps `max_loaded_translators` of them, since
        # eight loaded Argos models (66-195 MB each) would not fit the worker's memory goal.
        self._hops: collections.OrderedDict[tuple[str, str], _Hop] = collections.OrderedDict()
        self._sentences: collections.OrderedDict[tuple[str, str, str], str] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def route(self, source: str, target: str) -> list[str]:
        """The languages a text passes through; ModelMissing when no packages connect them."""
        language(source), language(target)
        if source == target:
            return [source]
        if self.registry.argos_package(source, target):
            return [source, target]
        pivot = PIVOT_LANGUAGE
        if (
            pivot not in {source, target}
            and self.registry.argos_package(source, pivot)
            and self.registry.argos_package(pivot, target)
        ):
            return [source, pivot, target]
        if pivot in {source, target}:
            raise ModelMissing(
                f"no translation model for {source} -> {target}; install argos-{source}-{target}"
            )
        raise ModelMissing(
            f"no translation model for {source} -> {target} (directly or through {pivot}); "
            f"install argos-{source}-{target} or argos-{source}-{pivot} and argos-{pivot}-{target}"
        )

    def _hop(self, source: str, target: str) -> _Hop:
        with self._lock:
            hop = self._hops.get((source, target))
            if hop is not None:
                self._hops.move_to_end((source, target))
            else:
                folder = self.registry.argos_package(source, target)
                if folder is None:
                    raise ModelMissing(f"no translation model for {source} -> {target}")
                argos = import_argos(self.settings)
                import ctranslate2

                try:
                    package = argos.package.Package(folder)
                    translator = ctranslate2.Translator(
                        str(folder / "model"),
                        device="cpu",
                        intra_threads=self.settings.threads,
                        compute_type="auto",
                    )
                except Exception as exc:
                    raise ModelLoadFailed(
                        f"Argos package {folder.name} failed to load: {exc}"
                    ) from exc
                hop = self._hops[(source, target)] = _Hop(package, translator)
                while len(self._hops) > max(1, self.settings.max_loaded_translators):
                    self._hops.popitem(last=False)
            return hop

    def release(self) -> None:
        """Unload every Argos model (the sentences stay remembered): a worker about to
        synthesize and hear tracks back needs the memory more than the models."""
        with self._lock:
            self._hops.clear()

    def translate_sentence(self, sentence: str, source: str, target: str) -> str:
        """One sentence through one installed package (remembered: the same sentence through
        the same package always gives the same words)."""
        key = (source, target, sentence)
        with self._lock:
            if (known := self._sentences.get(key)) is not None:
                self._sentences.move_to_end(key)
                return known
        hop = self._hop(source, target)  # configures and imports Argos on first use
        argos = import_argos(self.settings)
        hypotheses = argos.translate.apply_packaged_translation(
            hop.package, sentence, hop.translator, _WholeSentence(), num_hypotheses=1
        )
        text = str(hypotheses[0].value).strip()
        with self._lock:
            self._sentences[key] = text
            while len(self._sentences) > self.SENTENCE_CACHE:
                self._sentences.popitem(last=False)
        return text

    def translate(
        self,
        structure: list[list[str]],
        *,
        source: str,
        target: str,
        glossary: Glossary | None = None,
    ) -> Translation:
        """Paragraphs of sentences into `target`, keeping glossary names at every hop."""
        route = self.route(source, target)
        glossary = glossary or Glossary()
        misses: list[str] = []
        current = structure
        for hop_source, hop_target in itertools.pairwise(route):

            def translate_hop(sentence: str, a: str = hop_source, b: str = hop_target) -> str:
                return self.translate_sentence(sentence, a, b)

            translated: list[list[str]] = []
            for paragraph in current:
                out: list[str] = []
                for sentence in paragraph:
                    text, missed = glossary.translate_protected(
                        sentence,
                        source=hop_source,
                        target=hop_target,
                        translate=translate_hop,
                    )
                    out.append(text)
                    misses += [m for m in missed if m not in misses]
                translated.append(out)
            current = translated
        return Translation(
            lang=target, source_lang=source, structure=current, route=route, glossary_misses=misses
        )
