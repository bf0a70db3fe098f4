"""The voice registry picks the best installed voice per language; each engine really speaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.audio_pipeline.conftest import speech_stack_or_skip

speech_stack_or_skip()

import numpy as np  # noqa: E402

from audio_pipeline import audio  # noqa: E402
from audio_pipeline import registry as registry_module  # noqa: E402
from audio_pipeline.errors import ModelLoadFailed, ModelMissing, TextRejected  # noqa: E402
from audio_pipeline.registry import ModelRegistry  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from audio_pipeline.text import segment  # noqa: E402
from audio_pipeline.tts import VoiceRegistry, speakable, synthesize  # noqa: E402

TEXT = {
    "ja": "会安の日本橋へようこそ。この橋は十七世紀に建てられました。",
    "vi": (
        "Bạn đang đứng trước Chùa Cầu. Cây cầu dài chừng mười tám mét.\n\nHãy nhìn về hai đầu cầu."
    ),
    "en": "You are standing in front of the bridge in Hội An.\n\nNow look at the two ends.",
    "zh": "您正站在会安的日本廊桥前。这座桥长约十八米。",
}


def _audible(speech: audio.Audio) -> bool:
    return speech.duration_s > 0.5 and audio.loudness(speech) > -45


def test_every_language_has_a_voice_and_english_gets_the_neural_one(
    settings: PipelineSettings,
) -> None:
    voices = VoiceRegistry.from_settings(settings)
    assert [spec.id for spec in voices.candidates("en")] == ["piper-en_US-joe-medium", "espeak-ng"]
    for lang in ("vi", "fr", "de", "es", "ru"):
        assert voices.candidates(lang)[0].id == "espeak-ng", lang
    assert [spec.id for spec in voices.candidates("ja")] == ["kokoro-82m-ja"]


@pytest.mark.parametrize("lang", ["zh", "ko"])
def test_espeak_is_never_offered_where_nobody_understands_it(
    settings: PipelineSettings, lang: str
) -> None:
    voices = VoiceRegistry.from_settings(settings)
    assert voices.candidates(lang) == []
    with pytest.raises(ModelMissing, match="no intelligible voice"):
        voices.best(lang)


def test_the_japanese_voice_is_assembled_once_and_verified(settings: PipelineSettings) -> None:
    registry = ModelRegistry(settings)
    model = registry.assemble_kokoro_ja()
    marker = json.loads((model.parent / registry_module.VERIFIED_MARKER).read_text())
    assert marker["sha256"] == registry_module.KOKORO_JA_SHA256
    assert registry.assemble_kokoro_ja() == model  # the second call finds it
    state = registry.state(registry.spec("kokoro-82m-ja"))
    assert state.installed and state.path == model
    assert "Apache-2.0" in state.spec.licence


@pytest.mark.parametrize("lang", ["vi", "en", "ja"])
def test_speech_has_one_cue_per_sentence_in_order(settings: PipelineSettings, lang: str) -> None:
    voices = VoiceRegistry.from_settings(settings)
    structure = segment(TEXT[lang])
    speech = synthesize(voices.best(lang), structure, lang)
    assert _audible(speech.audio)
    assert [cue.text for cue in speech.cues] == [s for p in structure for s in p]
    assert speech.cues[0].start == 0.0
    assert speech.cues[-1].end == pytest.approx(speech.audio.duration_s, abs=0.01)
    for before, after in zip(speech.cues, speech.cues[1:], strict=False):
        assert before.start < before.end < after.start  # a pause between sentences


def test_paragraphs_pause_longer_than_sentences(settings: PipelineSettings) -> None:
    voices = VoiceRegistry.from_settings(settings)
    cues = synthesize(voices.best("vi"), segment(TEXT["vi"]), "vi").cues
    sentence_gap = cues[1].start - cues[0].end
    paragraph_gap = cues[2].start - cues[1].end
    assert paragraph_gap > sentence_gap + 0.3


def test_english_voices_read_vietnamese_names_without_spelling_letters() -> None:
    assert speakable("Lord Nguyễn Phúc Chu came to Hội An.", "en") == (
        "Lord Nguyen Phuc Chu came to Hoi An."
    )
    assert speakable("Le pont de Hội An est célèbre.", "fr") == "Le pont de Hoi An est célèbre."
    assert speakable("Hội An", "vi") == "Hội An"


def test_empty_text_is_refused(settings: PipelineSettings) -> None:
    voices = VoiceRegistry.from_settings(settings)
    with pytest.raises(TextRejected):
        synthesize(voices.best("vi"), [], "vi")


def _install_test_voice(settings: PipelineSettings, tmp_path: Path) -> None:
    pytest.importorskip("TTS")
    from tests.audio_pipeline.builders import build_coqui_vits_voice

    folder = build_coqui_vits_voice(tmp_path / "build", voice_id="test-vits-vi", languages=["vi"])
    ModelRegistry(settings).install(folder)


def test_a_random_weight_voice_is_never_offered(settings: PipelineSettings, tmp_path: Path) -> None:
    _install_test_voice(settings, tmp_path)
    assert VoiceRegistry.from_settings(settings).candidates("vi")[0].id == "espeak-ng"


def test_an_installed_coqui_voice_wins_and_speaks_through_coqui(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    _install_test_voice(settings, tmp_path)
    testing = PipelineSettings(model_dir=settings.model_dir, allow_test_models=True)
    voices = VoiceRegistry.from_settings(testing)
    assert [spec.id for spec in voices.candidates("vi")] == ["test-vits-vi", "espeak-ng"]
    voice = voices.best("vi")
    speech = synthesize(voice, segment(TEXT["vi"]), "vi")
    # Random weights make noise, not speech: this proves loading and inference, nothing else.
    assert speech.voice_id == "test-vits-vi" and speech.audio.rate == 16000
    assert len(speech.cues) == 3 and np.isfinite(speech.audio.samples).all()


def test_a_voice_that_fails_to_load_says_so(settings: PipelineSettings, tmp_path: Path) -> None:
    _install_test_voice(settings, tmp_path)
    (settings.model_dir / "tts" / "test-vits-vi" / "model.pth").write_bytes(b"not a checkpoint")
    testing = PipelineSettings(model_dir=settings.model_dir, allow_test_models=True)
    with pytest.raises(ModelLoadFailed, match="test-vits-vi"):
        synthesize(VoiceRegistry.from_settings(testing).best("vi"), [["Xin chào."]], "vi")
