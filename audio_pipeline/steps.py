"""Pipeline steps the jobs call: each takes plain values, writes complete files into a folder
of its own, and returns what it made. Nothing here knows about the database or the queue.

Every track has a content key: the hash of everything that decides its bytes (the text or
the recording, the voice, the audio settings, this module's version). A re-run whose key is
unchanged has nothing to redo.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio_pipeline import audio
from audio_pipeline.captions import Cue, webvtt
from audio_pipeline.glossary import Glossary
from audio_pipeline.intelligibility import HearingBack
from audio_pipeline.mt import ArgosTranslator, Translation
from audio_pipeline.settings import PipelineSettings
from audio_pipeline.stt import Transcriber, Transcript
from audio_pipeline.text import check_text, join
from audio_pipeline.tts import VoiceRegistry, synthesize

#: Bumped when a change here changes the files a step makes, so every key moves with it
#: (2: readable captions, audio_pipeline.captions.readable).
STEPS_VERSION = 2


@dataclass(frozen=True, slots=True)
class Track:
    """A guide track in one language: audio files, captions and the transcript they carry."""

    lang: str
    key: str
    files: list[audio.EncodedFile]
    captions: Path
    transcript: str
    duration_s: float
    loudness_lufs: float
    true_peak_dbtp: float
    voice_id: str | None  # None when the track is the staff's own recording

    def manifest(self) -> dict[str, Any]:
        """What a publisher records about the track (paths relative to its folder)."""
        return {
            "lang": self.lang,
            "key": self.key,
            "voice_id": self.voice_id,
            "duration_s": self.duration_s,
            "loudness_lufs": self.loudness_lufs,
            "true_peak_dbtp": self.true_peak_dbtp,
            "captions": self.captions.name,
            "files": [
                {
                    "format": f.format,
                    "name": f.path.name,
                    "mime": f.mime,
                    "bytes": f.bytes,
                    "duration_s": f.duration_s,
                    "sha256": f.sha256,
                }
                for f in self.files
            ],
        }


def content_key(**parts: Any) -> str:
    """A stable hash of the inputs that decide a step's output."""
    payload = json.dumps({**parts, "steps_version": STEPS_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _audio_settings(settings: PipelineSettings) -> dict[str, Any]:
    return {
        "lufs": settings.target_lufs,
        "true_peak": settings.max_true_peak_dbtp,
        "opus": settings.opus_bitrate_kbps,
        "aac": settings.aac_bitrate_kbps,
    }


def speech_track_key(*, text: str, lang: str, voice_id: str, settings: PipelineSettings) -> str:
    return content_key(
        kind="speech", text=text, lang=lang, voice=voice_id, **_audio_settings(settings)
    )


def recording_track_key(
    *, recording_sha256: str, transcript: str, lang: str, settings: PipelineSettings
) -> str:
    return content_key(
        kind="recording",
        recording=recording_sha256,
        transcript=transcript,
        lang=lang,
        **_audio_settings(settings),
    )


def _write_captions(directory: Path, stem: str, cues: list[Cue], lang: str) -> Path:
    path = directory / f"{stem}.vtt"
    partial = directory / f".{stem}.vtt.part"
    partial.write_text(webvtt(cues, lang), encoding="utf-8")
    os.replace(partial, path)
    return path


def speech_track(
    *,
    text: str,
    lang: str,
    directory: Path,
    voices: VoiceRegistry,
    settings: PipelineSettings,
) -> Track:
    """Speak a narration text with the best installed voice for its language."""
    structure = check_text(text, lang, max_chars=settings.max_text_chars)
    voice = voices.best(lang)
    written = join(structure, lang)
    key = speech_track_key(text=written, lang=lang, voice_id=voice.spec.id, settings=settings)
    speech = synthesize(voice, structure, lang)
    stem = f"{lang}-{key[:16]}"
    rendered = audio.render(speech.audio, directory=directory, stem=stem, settings=settings)
    return Track(
        lang=lang,
        key=key,
        files=rendered.files,
        captions=_write_captions(directory, stem, speech.cues, lang),
        transcript=written,
        duration_s=rendered.duration_s,
        loudness_lufs=rendered.loudness_lufs,
        true_peak_dbtp=rendered.true_peak_dbtp,
        voice_id=voice.spec.id,
    )


def hear_track(
    track: Track, *, transcriber: Transcriber, settings: PipelineSettings
) -> HearingBack:
    """Hear a synthesized track back with Whisper: its round-trip error against its transcript
    and whether it meets the language's publication bound (`hearing.intelligible`).

    A track that does not should wait for an editor with `hearing.reason` and the figure
    (`hearing.as_dict()` is what to store beside the track).
    """
    from audio_pipeline.intelligibility import hear_track as hear

    return hear(track, transcriber=transcriber, settings=settings)


def transcribe_recording(
    path: Path,
    *,
    lang: str,
    transcriber: Transcriber,
    glossary: Glossary | None,
    settings: PipelineSettings,
) -> tuple[audio.Audio, Transcript]:
    """Validate an upload by decoding it, then transcribe it as the editable draft."""
    recording, _ = audio.load_upload(path, settings)
    return recording, transcriber.transcribe(recording, lang=lang, glossary=glossary)


def recording_track(
    *,
    recording: audio.Audio,
    recording_sha256: str,
    transcript: Transcript,
    directory: Path,
    settings: PipelineSettings,
) -> Track:
    """The source language's track is the recording itself: normalised and encoded, with
    captions from Whisper's segment timings."""
    key = recording_track_key(
        recording_sha256=recording_sha256,
        transcript=transcript.text,
        lang=transcript.lang,
        settings=settings,
    )
    stem = f"{transcript.lang}-{key[:16]}"
    rendered = audio.render(recording, directory=directory, stem=stem, settings=settings)
    return Track(
        lang=transcript.lang,
        key=key,
        files=rendered.files,
        captions=_write_captions(directory, stem, transcript.segments, transcript.lang),
        transcript=transcript.text,
        duration_s=rendered.duration_s,
        loudness_lufs=rendered.loudness_lufs,
        true_peak_dbtp=rendered.true_peak_dbtp,
        voice_id=None,
    )


def translate_text(
    *,
    text: str,
    source: str,
    target: str,
    translator: ArgosTranslator,
    glossary: Glossary | None,
    settings: PipelineSettings,
) -> Translation:
    """Machine-translate a narration sentence by sentence, names protected."""
    structure = check_text(text, source, max_chars=settings.max_text_chars)
    return translator.translate(structure, source=source, target=target, glossary=glossary)
