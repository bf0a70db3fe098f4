"""Pipeline settings: read once from the environment, with defaults that run on a laptop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}


def default_model_dir() -> Path:
    """Where models live when HOIAN_MODEL_DIR is unset: beside the virtualenvs, outside clones."""
    return Path.home() / ".cache" / "hoian" / "models"


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """Everything the engines need to know; the Flask side builds one from its config."""

    model_dir: Path = field(default_factory=default_model_dir)
    #: MMS-TTS, XTTS-v2, NLLB and other non-commercial weights are refused unless this is set.
    allow_noncommercial: bool = False
    #: Random-weight models that tests build are never offered as voices unless this is set.
    allow_test_models: bool = False
    #: CPU threads per engine; a worker runs one step at a time, so all cores are its own.
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    whisper_model: str = "whisper-base"
    whisper_compute_type: str = "int8"
    #: Give Whisper the glossary's names as hotwords. Measured on the seed narration: English
    #: WER 12.6% -> 6.7%, but Vietnamese 66% -> 81-94% with looping output, so off by default
    #: (docs/speech-pipeline.md). Variant spellings are corrected after STT either way.
    whisper_hotwords: bool = False
    max_upload_bytes: int = 100 * 1024 * 1024
    max_audio_seconds: float = 20 * 60.0
    min_audio_seconds: float = 1.0
    max_text_chars: int = 20_000
    target_lufs: float = -16.0
    #: Encoded files are checked against -1 dBTP; the master aims lower to leave codec headroom.
    max_true_peak_dbtp: float = -1.0
    opus_bitrate_kbps: int = 32
    aac_bitrate_kbps: int = 64

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> PipelineSettings:
        """Defaults, then HOIAN_* environment variables, then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("HOIAN_MODEL_DIR"):
            values["model_dir"] = Path(env["HOIAN_MODEL_DIR"]).expanduser()
        if env.get("HOIAN_ALLOW_NONCOMMERCIAL_MODELS"):
            values["allow_noncommercial"] = env["HOIAN_ALLOW_NONCOMMERCIAL_MODELS"].lower() in _TRUE
        if env.get("HOIAN_SPEECH_THREADS"):
            values["threads"] = int(env["HOIAN_SPEECH_THREADS"])
        if env.get("HOIAN_WHISPER_MODEL"):
            values["whisper_model"] = env["HOIAN_WHISPER_MODEL"]
        if env.get("HOIAN_WHISPER_HOTWORDS"):
            values["whisper_hotwords"] = env["HOIAN_WHISPER_HOTWORDS"].lower() in _TRUE
        if env.get("HOIAN_MAX_UPLOAD_MB"):
            values["max_upload_bytes"] = int(float(env["HOIAN_MAX_UPLOAD_MB"]) * 1024 * 1024)
        if env.get("HOIAN_MAX_AUDIO_SECONDS"):
            values["max_audio_seconds"] = float(env["HOIAN_MAX_AUDIO_SECONDS"])
        return replace(cls(**values), **overrides)
