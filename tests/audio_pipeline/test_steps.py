"""Pipeline steps end to end: narration text or a recording in, complete guide files out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.audio_pipeline.conftest import speech_stack_or_skip

speech_stack_or_skip()

from audio_pipeline import audio, steps  # noqa: E402
from audio_pipeline.errors import TextRejected  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from audio_pipeline.text import check_text  # noqa: E402
from audio_pipeline.tts import VoiceRegistry  # noqa: E402

VI = "Bạn đang đứng trước Chùa Cầu.\n\nCây cầu này dài chừng mười tám mét, làm bằng gỗ."


def test_a_text_becomes_a_complete_track(settings: PipelineSettings, tmp_path: Path) -> None:
    voices = VoiceRegistry.from_settings(settings)
    out = tmp_path / "out"
    track = steps.speech_track(text=VI, lang="vi", directory=out, voices=voices, settings=settings)
    assert track.voice_id == "espeak-ng" and track.transcript == VI
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f.path.name for f in track.files] + [track.captions.name]
    )  # nothing half-written is left beside them
    vtt = track.captions.read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT") and "Bạn đang đứng trước Chùa Cầu." in vtt
    assert track.true_peak_dbtp <= settings.max_true_peak_dbtp
    manifest = track.manifest()
    assert [f["format"] for f in manifest["files"]] == ["opus", "aac"]
    assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in manifest["files"])
    # Same inputs, same key: a re-run has nothing to redo. Any input that matters moves it.
    same = steps.speech_track_key(text=VI, lang="vi", voice_id="espeak-ng", settings=settings)
    assert same == track.key
    louder = PipelineSettings(model_dir=settings.model_dir, target_lufs=-14.0)
    assert steps.speech_track_key(text=VI, lang="vi", voice_id="espeak-ng", settings=louder) != same
    assert steps.speech_track_key(text=VI, lang="vi", voice_id="other", settings=settings) != same


def test_a_recording_keeps_its_own_voice_with_whisper_captions(
    settings: PipelineSettings,
    transcriber: Any,
    espeak_wav: Callable[..., Path],
    tmp_path: Path,
) -> None:
    upload = espeak_wav("Welcome to the old town. The bridge is in front of you.", suffix=".m4a")
    recording, transcript = steps.transcribe_recording(
        upload, lang="en", transcriber=transcriber, glossary=None, settings=settings
    )
    track = steps.recording_track(
        recording=recording,
        recording_sha256=audio.sha256_file(upload),
        transcript=transcript,
        directory=tmp_path / "out",
        settings=settings,
    )
    assert track.voice_id is None
    assert track.duration_s == pytest.approx(recording.duration_s, abs=0.05)
    assert "bridge" in track.captions.read_text(encoding="utf-8").lower()


@pytest.mark.parametrize(
    ("text", "lang", "reason"),
    [
        ("   \n\n ", "vi", "empty_text"),
        ("...", "vi", "empty_text"),
        ("You are standing in front of the Japanese Covered Bridge.", "vi", "wrong_language"),
        ("Bạn đang đứng trước Chùa Cầu, biểu tượng của phố cổ Hội An.", "en", "wrong_language"),
        ("Вы стоите перед мостом.", "fr", "wrong_language"),
        ("x" * 50, "ja", "wrong_language"),
    ],
)
def test_text_that_cannot_be_narrated_is_refused(text: str, lang: str, reason: str) -> None:
    with pytest.raises(TextRejected) as caught:
        check_text(text, lang, max_chars=1000)
    assert caught.value.reason == reason


def test_enormous_text_is_refused() -> None:
    with pytest.raises(TextRejected) as caught:
        check_text(VI * 1000, "vi", max_chars=20_000)
    assert caught.value.reason == "text_too_long"
