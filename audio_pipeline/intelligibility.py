"""Hearing speech back: is a synthesized track speech a listener understands?

Whisper transcribes what a voice said and the transcript is scored against the text the voice
was given (WER, or CER for languages scored in characters; `evaluation.error_rate`). Two uses:

* `hear_back` / `hear_track`: every synthesized track gets its round-trip error; above the
  language's publication bound (`PipelineSettings.hearing_bound`) it waits for an editor.
* `calibrate`: before a voice is offered for a language it speaks the calibration sentences
  (`data/calibration.json`); a voice above the language's calibration bound is not offered at
  all. Results are cached in the model directory under a key of the voice, its checksum or
  version, the Whisper model and the sentences, so a job pays for it at most once per voice.

Whisper's own errors are part of every figure: a bound is a bound on the round trip, chosen
from measurements (docs/speech-pipeline.md), not on the voice alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audio_pipeline.audio import Audio, decode
from audio_pipeline.errors import AudioRejected, PipelineError
from audio_pipeline.evaluation import error_rate, round_trip_metric
from audio_pipeline.languages import language
from audio_pipeline.settings import PipelineSettings

if TYPE_CHECKING:
    from audio_pipeline.registry import ModelSpec
    from audio_pipeline.steps import Track
    from audio_pipeline.stt import Transcriber
    from audio_pipeline.tts import Voice

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).with_name("data") / "calibration.json"
#: Bumped when the way a calibration is measured changes, so cached results are not reused.
CALIBRATION_VERSION = 2  # 2: greedy hearing (hear_back)


@dataclass(frozen=True, slots=True)
class HearingBack:
    """What Whisper heard of one piece of speech, and how far it is from the text."""

    lang: str
    metric: str  # "wer" or "cer"
    error: float  # the round-trip error rate; may exceed 1 when Whisper hears extra words
    bound: float  # the most `error` may be for the speech to count as understood
    heard: str  # Whisper's transcript ("" when it heard no speech)
    reference_units: int  # words (WER) or characters (CER) in the text
    whisper_model: str

    @property
    def intelligible(self) -> bool:
        """Whether the speech met its bound."""
        return self.error <= self.bound

    @property
    def reason(self) -> str:
        """One line for the editor who has to decide about a held track."""
        verdict = "within" if self.intelligible else "above"
        return (
            f"heard back by {self.whisper_model} at {self.metric.upper()} {self.error:.2f}, "
            f"{verdict} the {self.lang} bound {self.bound:.2f}"
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record for the track's manifest and the console."""
        return {**asdict(self), "intelligible": self.intelligible}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HearingBack:
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        return cls(**fields)


def hear_back(
    speech: Audio,
    *,
    text: str,
    lang: str,
    transcriber: Transcriber,
    bound: float,
) -> HearingBack:
    """Transcribe `speech` as `lang` and score it against `text` (the words it should say).

    Speech in which Whisper finds nothing at all scores 1.0: every reference unit was lost.
    Whisper listens once per segment, greedily (beam 1, no temperature fallback): the check
    asks whether the words come back, and on speech Whisper cannot follow the fallback
    decoded every segment up to six times (measured: hearing espeak-ng's Spanish back took
    0.59 of the audio's duration). Bounds and calibrations are measured the same way.
    """
    language(lang)
    try:
        heard = transcriber.transcribe(
            speech,
            lang=lang,
            glossary=None,
            prime=False,
            beam_size=1,
            temperature=0.0,
            known_speech=True,
        ).text
    except AudioRejected:
        heard = ""
    units = error_rate(text, text, lang).words
    error = error_rate(text, heard, lang).wer if heard.strip() else 1.0
    return HearingBack(
        lang=lang,
        metric=round_trip_metric(lang),
        error=round(float(error), 4),
        bound=bound,
        heard=heard,
        reference_units=units,
        whisper_model=transcriber.model_id,
    )


def hear_track(
    track: Track, *, transcriber: Transcriber, settings: PipelineSettings
) -> HearingBack:
    """Hear a rendered track as a listener gets it: its first encoded file, decoded again.

    The score is against the track's own transcript (the words its captions show), with the
    language's publication bound from `settings`.
    """
    if not track.files:
        raise PipelineError(f"track {track.key} has no audio file to hear", reason="no_audio")
    speech = decode(track.files[0].path)
    return hear_back(
        speech,
        text=track.transcript,
        lang=track.lang,
        transcriber=transcriber,
        bound=settings.hearing_bound(track.lang),
    )


# -- calibration -----------------------------------------------------------------------------


@functools.cache
def _calibration_data() -> dict[str, list[str]]:
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    return {lang: list(sentences) for lang, sentences in data["sentences"].items()}


def calibration_sentences(lang: str) -> list[str]:
    """The sentences every voice must be understood saying before it is offered for `lang`."""
    language(lang)
    try:
        return list(_calibration_data()[lang])
    except KeyError:
        raise PipelineError(
            f"no calibration sentences for {lang} in {CALIBRATION_FILE.name}",
            reason="no_calibration_sentences",
        ) from None


def _sentences_digest(lang: str) -> str:
    payload = json.dumps(calibration_sentences(lang), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


@functools.cache
def _espeak_version() -> str:
    binary = shutil.which("espeak-ng")
    if binary is None:
        return "unknown"
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return "unknown"
    return result.stdout.strip().split("Data at")[0].strip() or "unknown"


def voice_fingerprint(spec: ModelSpec) -> str:
    """What identifies the voice's weights: its pinned sha256, else its engine's version."""
    if spec.sha256:
        return spec.sha256
    if spec.engine == "espeak-ng":
        return _espeak_version()
    return f"unpinned:{spec.source}"


@dataclass(frozen=True, slots=True)
class CalibrationKey:
    """Everything a calibration result depends on."""

    voice_id: str
    fingerprint: str
    whisper_model: str
    lang: str
    sentences_sha256: str

    @property
    def digest(self) -> str:
        payload = json.dumps({**asdict(self), "version": CALIBRATION_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CalibrationCache:
    """Calibration results as JSON files: `<model dir>/calibration/<voice>/<lang>-<key>.json`."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.root = settings.model_dir / "calibration"

    def path(self, key: CalibrationKey) -> Path:
        return self.root / key.voice_id / f"{key.lang}-{key.digest[:24]}.json"

    def get(self, key: CalibrationKey) -> HearingBack | None:
        path = self.path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return HearingBack.from_dict(data["hearing"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable calibration result %s", path)
            return None

    def put(self, key: CalibrationKey, hearing: HearingBack) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "key": asdict(key),
            "hearing": hearing.as_dict(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        # Written whole then renamed: a worker killed mid-write leaves no half result.
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=".part-", suffix=".json", delete=False, encoding="utf-8"
        ) as out:
            json.dump(record, out, ensure_ascii=False, indent=1)
        os.replace(out.name, path)


def calibration_key(spec: ModelSpec, lang: str, *, whisper_model: str) -> CalibrationKey:
    return CalibrationKey(
        voice_id=spec.id,
        fingerprint=voice_fingerprint(spec),
        whisper_model=whisper_model,
        lang=lang,
        sentences_sha256=_sentences_digest(lang),
    )


def cached_calibration(
    spec: ModelSpec, lang: str, *, settings: PipelineSettings, whisper_model: str | None = None
) -> HearingBack | None:
    """A stored calibration of this voice for `lang`, if one was measured with this Whisper."""
    key = calibration_key(spec, lang, whisper_model=whisper_model or settings.whisper_model)
    return _under_current_bound(CalibrationCache(settings).get(key), settings)


def _under_current_bound(
    found: HearingBack | None, settings: PipelineSettings
) -> HearingBack | None:
    """A stored measurement judged by today's bound: the figure is the voice's, the bound is
    the operator's (HOIAN_CALIBRATION_BOUNDS), which may have changed since."""
    if found is None:
        return None
    return replace(found, bound=settings.calibration_bound(found.lang))


def calibrate(
    voice: Voice,
    lang: str,
    *,
    transcriber: Transcriber,
    settings: PipelineSettings,
    refresh: bool = False,
) -> HearingBack:
    """Whether `voice` is understood speaking `lang`: cached, or measured now and cached.

    A voice that fails to speak at all (an engine error) is a failure of the voice, not a
    calibration result: the error propagates and nothing is cached.
    """
    from audio_pipeline.tts import synthesize

    key = calibration_key(voice.spec, lang, whisper_model=transcriber.model_id)
    cache = CalibrationCache(settings)
    if not refresh and (found := _under_current_bound(cache.get(key), settings)) is not None:
        return found
    sentences = calibration_sentences(lang)
    speech = synthesize(voice, [sentences], lang)
    glue = "" if language(lang).unspaced else " "
    hearing = hear_back(
        speech.audio,
        text=glue.join(sentences),
        lang=lang,
        transcriber=transcriber,
        bound=settings.calibration_bound(lang),
    )
    cache.put(key, hearing)
    log.info("calibrated %s for %s: %s", voice.spec.id, lang, hearing.reason)
    return hearing
