"""Translation through Argos's real loading and translating code, on tiny random-weight
packages: structure, pivoting, missing models, and no network at any point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.audio_pipeline.conftest import speech_stack_or_skip

speech_stack_or_skip()
pytest.importorskip("argostranslate")

from audio_pipeline.errors import ModelMissing  # noqa: E402
from audio_pipeline.glossary import Glossary  # noqa: E402
from audio_pipeline.mt import ArgosTranslator, argos_environment  # noqa: E402
from audio_pipeline.registry import ModelRegistry  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from audio_pipeline.text import segment  # noqa: E402
from tests.audio_pipeline.builders import build_argos_package  # noqa: E402

NARRATION = (
    "Bạn đang đứng trước Chùa Cầu. Cây cầu này dài chừng mười tám mét.\n\n"
    "Năm 1719, chúa Nguyễn Phúc Chu đến Hội An."
)


def _install(settings: PipelineSettings, tmp_path: Path, *pairs: tuple[str, str]) -> None:
    registry = ModelRegistry(settings)
    for index, (source, target) in enumerate(pairs):
        registry.install(build_argos_package(tmp_path, source, target, seed=index))


def test_translation_runs_offline_and_keeps_the_structure(
    settings: PipelineSettings, tmp_path: Path, no_network: list[Any]
) -> None:
    _install(settings, tmp_path, ("vi", "en"))
    translator = ArgosTranslator(settings)
    structure = segment(NARRATION)
    result = translator.translate(structure, source="vi", target="en")
    assert no_network == []  # no splitter, index or model was fetched
    assert result.route == ["vi", "en"]
    assert [len(p) for p in result.structure] == [2, 1]  # sentence for sentence
    assert all(isinstance(s, str) and s for p in result.structure for s in p)
    # Random weights: the output is noise, so it is never compared with a translation.
    assert result.structure != structure


def test_argos_keeps_its_folders_with_the_models(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    _install(settings, tmp_path, ("vi", "en"))
    ArgosTranslator(settings).translate_sentence("Xin chào.", "vi", "en")
    import argostranslate.settings

    assert argostranslate.settings.chunk_type == argostranslate.settings.ChunkType.MINISBD
    assert argostranslate.settings.remote_package_index.startswith("file://")
    # Argos reads its settings once per process, so the folders are those of the first model
    # directory this process used: still a model directory, never the user's home.
    packages = argostranslate.settings.package_data_dir
    assert packages.parts[-2:] == ("argos", "packages")
    assert argos_environment(settings)["ARGOS_PACKAGES_DIR"].endswith("argos/packages")
    assert not str(argostranslate.settings.data_dir).startswith(str(Path.home() / ".local"))


def test_languages_without_a_direct_package_go_through_english(
    settings: PipelineSettings, tmp_path: Path, no_network: list[Any]
) -> None:
    _install(settings, tmp_path, ("vi", "en"), ("en", "fr"))
    translator = ArgosTranslator(settings)
    assert translator.route("vi", "fr") == ["vi", "en", "fr"]
    result = translator.translate(segment(NARRATION), source="vi", target="fr")
    assert result.route == ["vi", "en", "fr"] and [len(p) for p in result.structure] == [2, 1]
    assert no_network == []


def test_a_missing_model_names_what_to_install(settings: PipelineSettings, tmp_path: Path) -> None:
    _install(settings, tmp_path, ("vi", "en"))
    with pytest.raises(ModelMissing, match="argos-en-ko"):
        ArgosTranslator(settings).route("vi", "ko")
    # English itself has no pivot to offer: one package is named, once.
    with pytest.raises(ModelMissing, match=r"ko -> en; install argos-ko-en$"):
        ArgosTranslator(settings).route("ko", "en")


def test_names_a_model_did_not_carry_through_are_listed_for_review(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    _install(settings, tmp_path, ("vi", "en"))
    glossary = Glossary.from_data([{"forms": {"*": "Hội An"}}])
    result = ArgosTranslator(settings).translate(
        segment("Chúa đến Hội An."), source="vi", target="en", glossary=glossary
    )
    # A random model garbles the placeholder, so the name is reported, never silently lost.
    assert "Hội An" in result.glossary_misses or "Hội An" in result.structure[0][0]


class _CountingTranslator:
    """A loaded CTranslate2 translator that counts the sentences it is given."""

    def __init__(self, real: Any, counts: dict[str, int], name: str) -> None:
        self.real, self.counts, self.name = real, counts, name

    def translate_batch(self, batch: list[Any], **kwargs: Any) -> Any:
        self.counts[self.name] = self.counts.get(self.name, 0) + len(batch)
        return self.real.translate_batch(batch, **kwargs)


def test_a_job_into_many_languages_says_each_sentence_to_the_pivot_once(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    _install(settings, tmp_path, ("vi", "en"), ("en", "fr"), ("en", "de"), ("en", "es"))
    translator = ArgosTranslator(settings)
    counts: dict[str, int] = {}
    real_hop = translator._hop

    def counted(source: str, target: str) -> Any:
        hop = real_hop(source, target)
        if not isinstance(hop.translator, _CountingTranslator):
            hop.translator = _CountingTranslator(hop.translator, counts, f"{source}-{target}")
        return hop

    translator._hop = counted  # type: ignore[method-assign]
    structure = segment(NARRATION)
    for target in ("fr", "de", "es"):
        assert translator.translate(structure, source="vi", target=target).route[1] == "en"
    assert counts["vi-en"] == 3  # three sentences, once each, not once per language
    english = translator.translate(structure, source="vi", target="en").structure
    distinct = len({sentence for paragraph in english for sentence in paragraph})
    assert counts["vi-en"] == 3  # still: that was remembered too
    # Random weights may say the same noise for two sentences; each distinct one goes once.
    assert counts["en-fr"] == counts["en-de"] == counts["en-es"] == distinct
    # Only the most recent models stay loaded: a worker's memory does not grow per language.
    assert len(translator._hops) == settings.max_loaded_translators == 2


def test_argos_is_imported_without_torch(settings: PipelineSettings, tmp_path: Path) -> None:
    """Argos's module-level `import stanza` would load torch (670 MB) for a splitter the
    pipeline never uses; a fresh worker translating must not pay for it."""
    import subprocess
    import sys

    _install(settings, tmp_path, ("vi", "en"))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from audio_pipeline.mt import ArgosTranslator\n"
        "from audio_pipeline.settings import PipelineSettings\n"
        f"settings = PipelineSettings(model_dir=Path({str(settings.model_dir)!r}), threads=1)\n"
        "print(ArgosTranslator(settings).translate_sentence('Xin chào.', 'vi', 'en') != '')\n"
        "print(sorted(m for m in ('torch', 'stanza', 'spacy') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.split("\n")[:2] == ["True", "[]"], result.stderr[-2000:]


def test_released_models_load_again_when_needed(settings: PipelineSettings, tmp_path: Path) -> None:
    _install(settings, tmp_path, ("vi", "en"))
    translator = ArgosTranslator(settings)
    first = translator.translate_sentence("Xin chào.", "vi", "en")
    translator.release()
    assert not translator._hops
    assert translator.translate_sentence("Xin chào.", "vi", "en") == first  # remembered
    assert translator.translate_sentence("Tạm biệt.", "vi", "en")  # loads the model again
    assert len(translator._hops) == 1
