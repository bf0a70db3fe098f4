"""Pipeline settings: read once from the environment, with defaults that run on a laptop."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}

#: Round-trip error (WER; CER for ja, zh, ko) above which a synthesized track is not published
#: automatically but waits for an editor. Chosen from the figures in docs/speech-pipeline.md.
DEFAULT_HEARING_BOUNDS: tuple[tuple[str, float], ...] = (
    ("vi", 0.35),
    ("en", 0.15),
    ("ko", 0.35),
    ("zh", 0.35),
    ("ja", 0.35),
    ("fr", 0.35),
    ("de", 0.35),
    ("es", 0.35),
    ("ru", 0.35),
)
#: Above these, on the calibration sentences, a voice is not offered for the language at all:
#: less than a quarter of the text came back. Measured with Whisper base (docs): espeak-ng
#: ja 5.15, zh 1.63, fr 1.00, ru 0.95, ko 0.81 are out; vi 0.58, de 0.36 and es 0.32 stay
#: (their tracks are then held by the publication bound); Kokoro ja 0.20, Piper en 0.07.
DEFAULT_CALIBRATION_BOUNDS: tuple[tuple[str, float], ...] = (
    ("vi", 0.75),
    ("en", 0.75),
    ("ko", 0.75),
    ("zh", 0.75),
    ("ja", 0.75),
    ("fr", 0.75),
    ("de", 0.75),
    ("es", 0.75),
    ("ru", 0.75),
)
#: For a language with no bound of its own.
FALLBACK_HEARING_BOUND = 0.35
FALLBACK_CALIBRATION_BOUND = 0.75


def parse_bounds(text: str) -> dict[str, float]:
    """`"vi=0.8, ja=0.3"` as {"vi": 0.8, "ja": 0.3}; ValueError on anything else."""
    bounds: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        lang, sep, value = item.partition("=")
        if not sep or not lang.strip():
            raise ValueError(f"a bound is written lang=number, not {item.strip()!r}")
        number = float(value)
        if not math.isfinite(number) or number < 0.0:
            raise ValueError(f"bound {item.strip()!r} is not a number of zero or more")
        bounds[lang.strip()] = number
    return bounds


def _merged(defaults: tuple[tuple[str, float], ...], text: str) -> tuple[tuple[str, float], ...]:
    merged = dict(defaults) | parse_bounds(text)
    return tuple(sorted(merged.items()))


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
    #: Argos models a worker keeps loaded at once (least recently used dropped first): the
    #: pivot vi -> en and the current en -> X.
    max_loaded_translators: int = 2
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
    #: Per-language round-trip bounds as (lang, bound) pairs: tuples keep the settings hashable.
    hearing_bounds: tuple[tuple[str, float], ...] = DEFAULT_HEARING_BOUNDS
    calibration_bounds: tuple[tuple[str, float], ...] = DEFAULT_CALIBRATION_BOUNDS

    def hearing_bound(self, lang: str) -> float:
        """The most round-trip error a track in `lang` may have to be published unreviewed."""
        return dict(self.hearing_bounds).get(lang, FALLBACK_HEARING_BOUND)

    def calibration_bound(self, lang: str) -> float:
        """The most error a voice may make on `lang`'s calibration sentences to be offered."""
        return dict(self.calibration_bounds).get(lang, FALLBACK_CALIBRATION_BOUND)

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
        if env.get("HOIAN_MAX_LOADED_TRANSLATORS"):
            values["max_loaded_translators"] = int(env["HOIAN_MAX_LOADED_TRANSLATORS"])
        if env.get("HOIAN_WHISPER_MODEL"):
            values["whisper_model"] = env["HOIAN_WHISPER_MODEL"]
        if env.get("HOIAN_WHISPER_HOTWORDS"):
            values["whisper_hotwords"] = env["HOIAN_WHISPER_HOTWORDS"].lower() in _TRUE
        if env.get("HOIAN_MAX_UPLOAD_MB"):
            values["max_upload_bytes"] = int(float(env["HOIAN_MAX_UPLOAD_MB"]) * 1024 * 1024)
        if env.get("HOIAN_MAX_AUDIO_SECONDS"):
            values["max_audio_seconds"] = float(env["HOIAN_MAX_AUDIO_SECONDS"])
        if env.get("HOIAN_HEARING_BOUNDS"):
            values["hearing_bounds"] = _merged(DEFAULT_HEARING_BOUNDS, env["HOIAN_HEARING_BOUNDS"])
        if env.get("HOIAN_CALIBRATION_BOUNDS"):
            values["calibration_bounds"] = _merged(
                DEFAULT_CALIBRATION_BOUNDS, env["HOIAN_CALIBRATION_BOUNDS"]
            )
        return replace(cls(**values), **overrides)
