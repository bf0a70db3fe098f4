"""Proof that the shipped models make intelligible guides: speak a seed narration with the
best installed voice, transcribe it back with Whisper base, and count word errors.

Figures are written to test-artifacts/speech-proof.json; docs/speech-pipeline.md records them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.audio_pipeline.conftest import speech_stack_or_skip

speech_stack_or_skip()

from audio_pipeline.evaluation import word_errors  # noqa: E402
from audio_pipeline.glossary import Glossary  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from audio_pipeline.text import check_text  # noqa: E402
from audio_pipeline.tts import VoiceRegistry, synthesize  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SITE = "japanese-covered-bridge"


def _prove(
    lang: str, transcriber: Any, settings: PipelineSettings, artifacts_dir: Path
) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / f"content/seed/sites/{SITE}.yaml").read_text(encoding="utf-8"))
    script = data["narration"][lang]
    glossary = Glossary.from_yaml(ROOT / "content/seed/glossary.yaml")
    voice = VoiceRegistry.from_settings(settings).best(lang)
    started = time.perf_counter()
    speech = synthesize(voice, check_text(script, lang, max_chars=20_000), lang)
    tts_s = time.perf_counter() - started
    started = time.perf_counter()
    transcript = transcriber.transcribe(speech.audio, lang=lang, glossary=glossary)
    stt_s = time.perf_counter() - started
    errors = word_errors(script, transcript.text, lang)
    figures = {
        "site": SITE,
        "lang": lang,
        "voice": voice.spec.id,
        "stt_model": transcriber.model_id,
        "wer": errors.wer,
        "words": errors.words,
        "substitutions": errors.substitutions,
        "deletions": errors.deletions,
        "insertions": errors.insertions,
        "audio_s": round(speech.audio.duration_s, 1),
        "tts_rtf": round(tts_s / speech.audio.duration_s, 3),
        "stt_rtf": round(stt_s / speech.audio.duration_s, 3),
        "heard": transcript.text,
    }
    record = artifacts_dir / "speech-proof.json"
    results = json.loads(record.read_text()) if record.exists() else {}
    results[lang] = figures
    record.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return figures


def test_english_narration_with_piper_is_heard_back_by_whisper(
    transcriber: Any, settings: PipelineSettings, artifacts_dir: Path
) -> None:
    figures = _prove("en", transcriber, settings, artifacts_dir)
    assert figures["voice"] == "piper-en_US-joe-medium"
    assert figures["wer"] <= 0.15, figures


@pytest.mark.xfail(
    strict=True,
    reason=(
        "issue #3 asks for WER <= 35%; espeak-ng's Vietnamese through Whisper base measures "
        "66-76% here (docs/speech-pipeline.md): it needs a Vietnamese neural voice "
        "or a larger Whisper"
    ),
)
def test_vietnamese_narration_with_espeak_is_heard_back_by_whisper(
    transcriber: Any, settings: PipelineSettings, artifacts_dir: Path
) -> None:
    figures = _prove("vi", transcriber, settings, artifacts_dir)
    assert figures["voice"] == "espeak-ng"
    assert figures["wer"] <= 0.35, figures
