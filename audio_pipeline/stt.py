"""Speech to text with faster-whisper: the source language, segment timings, voice activity
detection, and the glossary's names as hotwords and initial prompt."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from audio_pipeline.audio import Audio
from audio_pipeline.captions import Cue
from audio_pipeline.errors import AudioRejected, ModelLoadFailed
from audio_pipeline.glossary import Correction, Glossary
from audio_pipeline.languages import language
from audio_pipeline.registry import ModelRegistry
from audio_pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)

WHISPER_RATE = 16_000
#: Below this share of speech (after VAD) a recording is not narration.
MIN_SPEECH_RATIO = 0.1


@dataclass(frozen=True, slots=True)
class Transcript:
    lang: str
    detected_lang: str
    detected_probability: float
    duration_s: float
    speech_s: float
    segments: list[Cue]
    corrections: list[Correction]
    model_id: str

    @property
    def text(self) -> str:
        glue = "" if language(self.lang).unspaced else " "
        return glue.join(cue.text for cue in self.segments).strip()


class Transcriber:
    """One loaded Whisper model, reused for every recording a worker handles."""

    def __init__(self, settings: PipelineSettings, *, model_id: str | None = None) -> None:
        self.settings = settings
        self.model_id = model_id or settings.whisper_model
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                path = ModelRegistry(self.settings).whisper_path(self.model_id)
                from faster_whisper import WhisperModel

                try:
                    self._model = WhisperModel(
                        str(path),
                        device="cpu",
                        compute_type=self.settings.whisper_compute_type,
                        cpu_threads=self.settings.threads,
                        local_files_only=True,
                    )
                except Exception as exc:
                    raise ModelLoadFailed(
                        f"Whisper model {self.model_id} failed to load: {exc}"
                    ) from exc
            return self._model

    def transcribe(
        self,
        audio: Audio,
        *,
        lang: str,
        glossary: Glossary | None = None,
        vad: bool = True,
        beam_size: int = 5,
        prime: bool | None = None,
        temperature: float | tuple[float, ...] | None = None,
        known_speech: bool = False,
    ) -> Transcript:
        """Transcribe `audio` as `lang`; AudioRejected when there is no speech in it.

        With `prime` (default: the `whisper_hotwords` setting), the glossary's names go to
        Whisper as hotwords; as an initial prompt they made Whisper drop the words at the start
        of a clip that repeated the prompt. Variant spellings are corrected either way.
        `temperature` None keeps faster-whisper's fallback (a segment decoded again, hotter,
        when its log-probability is low); a single value decodes each segment once.
        `known_speech` (audio we synthesized ourselves) keeps every decoded segment: Whisper
        otherwise drops one as silence when it is both unsure there is speech and unsure of
        its words, which is exactly how robotic speech sounds to it (espeak-ng's Vietnamese:
        no-speech 0.85, log-probability -1.02 against the -1.0 threshold, so the verdict
        flipped between CPUs). With `vad` the voice-activity detector has already cut the
        silence out and decided there is speech, so no segment is dropped a second time
        either: an unsure transcript of a real voice (an old storyteller, a strong accent, a
        poor microphone) goes to an editor to correct instead of failing the upload as silent.
        """
        if prime is None:
            prime = self.settings.whisper_hotwords
        info = language(lang)
        model = self._load()
        samples = audio.resampled(WHISPER_RATE).samples
        prompt = glossary.whisper_prompt(lang) if glossary and prime else ""
        segments, result = model.transcribe(
            samples,
            language=info.whisper,
            task="transcribe",
            beam_size=beam_size,
            vad_filter=vad,
            vad_parameters={"min_silence_duration_ms": 500},
            hotwords=prompt or None,
            **({"no_speech_threshold": None} if known_speech or vad else {}),
            **({} if temperature is None else {"temperature": temperature}),
            # Each segment stands on its own: a misheard name must not spread to the next.
            condition_on_previous_text=False,
        )
        cues = [
            Cue(round(segment.start, 3), round(segment.end, 3), segment.text.strip())
            for segment in segments
            if segment.text.strip()
        ]
        speech_s = float(getattr(result, "duration_after_vad", result.duration))
        if not cues or (vad and speech_s < MIN_SPEECH_RATIO * result.duration):
            raise AudioRejected("no speech was found in the recording", reason="no_speech")
        corrections: list[Correction] = []
        if glossary:
            corrected = []
            for cue in cues:
                text, found = glossary.apply(cue.text, lang)
                corrections += found
                corrected.append(Cue(cue.start, cue.end, text))
            cues = corrected
        detected, probability = self._detect(model, samples)
        return Transcript(
            lang=lang,
            detected_lang=detected,
            detected_probability=probability,
            duration_s=round(float(result.duration), 3),
            speech_s=round(speech_s, 3),
            segments=cues,
            corrections=corrections,
            model_id=self.model_id,
        )

    @staticmethod
    def _detect(model: Any, samples: Any) -> tuple[str, float]:
        """Whisper's own language guess, kept so a reviewer can see a mismatch."""
        detected, probability, _ = model.detect_language(samples)
        return str(detected), round(float(probability), 3)
