"""Speech to text with the real Whisper base: timings, glossary corrections, and refusing
recordings with no speech in them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.audio_pipeline.conftest import speech_stack_or_skip

speech_stack_or_skip()

import numpy as np  # noqa: E402

from audio_pipeline import audio  # noqa: E402
from audio_pipeline.errors import AudioRejected  # noqa: E402
from audio_pipeline.glossary import Glossary  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402


def test_a_recording_is_transcribed_with_timed_segments(
    transcriber: Any, espeak_wav: Callable[..., Path], settings: PipelineSettings
) -> None:
    recording, _ = audio.load_upload(
        espeak_wav(
            "Welcome to the old town. Please keep to the left of the bridge.", suffix=".ogg"
        ),
        settings,
    )
    transcript = transcriber.transcribe(recording, lang="en")
    words = transcript.text.lower()
    assert "welcome" in words and "bridge" in words
    assert transcript.detected_lang == "en" and transcript.model_id == "whisper-base"
    assert transcript.segments[0].start < 1.0
    assert transcript.segments[-1].end <= recording.duration_s + 0.5
    starts = [cue.start for cue in transcript.segments]
    assert starts == sorted(starts)


def test_glossary_spellings_are_applied_to_the_transcript(
    transcriber: Any, espeak_wav: Callable[..., Path], settings: PipelineSettings
) -> None:
    glossary = Glossary.from_data(
        [
            {
                "forms": {"vi": "Chùa Cầu", "en": "Japanese Covered Bridge"},
                "variants": {"en": ["Japanese Bridge", "Covered Bridge"]},
            }
        ]
    )
    recording, _ = audio.load_upload(
        espeak_wav("Now walk across the Japanese bridge and look at the river."), settings
    )
    transcript = transcriber.transcribe(recording, lang="en", glossary=glossary, prime=False)
    assert "Japanese Covered Bridge" in transcript.text, transcript.text
    assert [c.replaced_by for c in transcript.corrections] == ["Japanese Covered Bridge"]


def test_noise_is_not_narration(transcriber: Any) -> None:
    rng = np.random.default_rng(7)
    noise = audio.Audio((0.05 * rng.standard_normal(16_000 * 6)).astype(np.float32), 16_000)
    with pytest.raises(AudioRejected) as caught:
        transcriber.transcribe(noise, lang="vi")
    assert caught.value.reason == "no_speech"
