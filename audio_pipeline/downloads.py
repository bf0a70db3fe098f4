"""`models download`: fetch real models where they are published, on a connected machine.

The curated catalogue (data/model_catalogue.json) pins each file's URL, size and sha256:
`download_recommended` installs the set for the served languages, `write_bundle` writes it into
one tar for a server that never has internet, and `install_bundle` installs such a tar. Every
file is verified before anything is installed, interrupted downloads resume (HTTP Range), and
a failure leaves the model directory as it was.

Every failure (no network, unknown package, a hub that answers with an error) becomes a
ModelDownloadFailed that says how to install from files instead.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audio_pipeline.errors import (
    ChecksumMismatch,
    LicenceRefused,
    ModelDownloadFailed,
    ModelMissing,
    PipelineError,
)

if TYPE_CHECKING:
    from audio_pipeline.registry import ModelRegistry, ModelSpec, ModelState
    from audio_pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)

ARGOS_INDEX_URL = "https://raw.githubusercontent.com/argosopentech/argospm-index/main/index.json"
TIMEOUT_S = 30


def _offline_hint(spec: ModelSpec) -> str:
    return (
        f"could not download {spec.id} from {spec.source}. Without internet, copy the model "
        "files to this machine and run `flask models install PATH`"
    )


def fetch(registry: ModelRegistry, spec: ModelSpec) -> ModelState:
    """Download one catalogue model and install it through the registry's checks."""
    try:
        if "argos" in spec.download:
            return _fetch_argos(registry, spec)
        if "huggingface" in spec.download:
            return _fetch_huggingface(registry, spec)
        if "coqui" in spec.download:
            return _fetch_coqui(registry, spec)
    except PipelineError:
        raise
    except Exception as exc:
        raise ModelDownloadFailed(f"{_offline_hint(spec)} ({type(exc).__name__}: {exc})") from exc
    raise ModelDownloadFailed(f"{spec.id}: no download method", reason="not_downloadable")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - fixed https URLs
        return bytes(response.read())


def _fetch_argos(registry: ModelRegistry, spec: ModelSpec) -> ModelState:
    source, target = spec.languages
    index: list[dict[str, Any]] = json.loads(_get(ARGOS_INDEX_URL))
    entry = next(
        (
            item
            for item in index
            if item.get("from_code") == source and item.get("to_code") == target
        ),
        None,
    )
    if entry is None or not entry.get("links"):
        raise ModelDownloadFailed(
            f"the Argos index has no {source} -> {target} package; translation goes through "
            "English where a direct package is missing",
            reason="not_published",
        )
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / f"translate-{source}_{target}.argosmodel"
        archive.write_bytes(_get(str(entry["links"][0])))
        return registry.install(archive)


def _fetch_huggingface(registry: ModelRegistry, spec: ModelSpec) -> ModelState:
    from huggingface_hub import snapshot_download

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / spec.id
        snapshot_download(repo_id=spec.download["huggingface"], local_dir=str(folder))
        return registry.install(folder)


def _fetch_coqui(registry: ModelRegistry, spec: ModelSpec) -> ModelState:
    from TTS.utils.manage import ModelManager

    with tempfile.TemporaryDirectory() as tmp:
        manager = ModelManager(output_prefix=tmp, progress_bar=False)
        model_path, config_path, _ = manager.download_model(spec.download["coqui"])
        folder = Path(tmp) / spec.id
        folder.mkdir()
        source_dir = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
        for item in source_dir.iterdir():
            if item.is_file():
                shutil.copy2(item, folder / item.name)
        if config_path and not (folder / "config.json").exists():
            shutil.copy2(config_path, folder / "config.json")
        (folder / "voice.json").write_text(
            json.dumps(
                {
                    "id": spec.id,
                    "engine": "coqui",
                    "languages": list(spec.languages),
                    "licence": spec.licence,
                    "source": spec.source,
                    "quality": spec.quality,
                }
            ),
            encoding="utf-8",
        )
        return registry.install(folder)


# -- the curated catalogue: verified downloads, bundles and offline installs ---------------------

CATALOGUE_FILE = Path(__file__).with_name("data") / "model_catalogue.json"
BUNDLE_FORMAT = 1
BUNDLE_MANIFEST = "manifest.json"
CHUNK = 1 << 20
#: Room left on the disk beyond the files themselves: installing copies each model once more.
DISK_MARGIN = 1.1


@dataclass(frozen=True, slots=True)
class CatalogueFile:
    """One file of a catalogue model: where it is and what it must be."""

    name: str
    url: str
    bytes: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class CatalogueModel:
    """A model of the curated catalogue (audio_pipeline/data/model_catalogue.json)."""

    id: str
    kind: str  # "mt", "stt" or "tts"
    engine: str
    languages: tuple[str, ...]
    name: str
    version: str
    files: tuple[CatalogueFile, ...]
    licence: str | None
    licence_checked_at_install: bool
    commercial_use: bool
    recommended: bool
    index: dict[str, str]
    quality: int
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CatalogueModel:
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            engine=str(data["engine"]),
            languages=tuple(data["languages"]),
            name=str(data["name"]),
            version=str(data["version"]),
            files=tuple(
                CatalogueFile(str(f["name"]), str(f["url"]), f.get("bytes"), f.get("sha256"))
                for f in data["files"]
            ),
            licence=data.get("licence"),
            licence_checked_at_install=bool(data.get("licence_checked_at_install", False)),
            commercial_use=bool(data.get("commercial_use", False)),
            recommended=bool(data.get("recommended", False)),
            index=dict(data.get("index") or {}),
            quality=int(data.get("quality", 40)),
            raw=data,
        )

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes or 0 for f in self.files)

    def refusal(self, *, allow_noncommercial: bool) -> str | None:
        """Why this model may not be downloaded here, or None."""
        from audio_pipeline.registry import is_noncommercial

        unpinned = [f.name for f in self.files if not f.sha256 or f.bytes is None]
        if unpinned:
            return (
                f"{self.id}: no pinned size and sha256 for {', '.join(unpinned)} in the "
                "catalogue; it is not downloaded on trust (install it from files instead)"
            )
        if self.licence is None and not self.licence_checked_at_install:
            return f"{self.id}: its licence is not recorded in the catalogue"
        noncommercial = not self.commercial_use or is_noncommercial(self.id, self.licence or "")
        if noncommercial and not allow_noncommercial:
            return (
                f"{self.id} is licensed for non-commercial use only ({self.licence}); set "
                "HOIAN_ALLOW_NONCOMMERCIAL_MODELS=1 to accept that licence"
            )
        return None


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The curated catalogue, optionally read through a mirror (a LAN copy, a test server)."""

    models: tuple[CatalogueModel, ...]
    indexes: dict[str, str]

    @classmethod
    def load(cls, path: Path | None = None, *, mirror: str | None = None) -> Catalogue:
        """The catalogue file; with `mirror`, every URL becomes `<mirror>/<model id>/<file>`
        and the indexes `<mirror>/argospm/index.json` and `<mirror>/piper/voices.json`."""
        data = json.loads((path or CATALOGUE_FILE).read_text(encoding="utf-8"))
        if data.get("format") != 1:
            raise PipelineError(f"unknown catalogue format {data.get('format')!r}")
        catalogue = cls(
            tuple(CatalogueModel.from_dict(entry) for entry in data["models"]),
            dict(data.get("indexes", {})),
        )
        return catalogue.mirrored(mirror) if mirror else catalogue

    def mirrored(self, base: str) -> Catalogue:
        base = base.rstrip("/")
        models = []
        for model in self.models:
            files = tuple(
                CatalogueFile(f.name, f"{base}/{model.id}/{f.name}", f.bytes, f.sha256)
                for f in model.files
            )
            models.append(replace(model, files=files))
        indexes = {"argospm": f"{base}/argospm/index.json", "piper": f"{base}/piper/voices.json"}
        return Catalogue(tuple(models), indexes)

    def get(self, model_id: str) -> CatalogueModel:
        for model in self.models:
            if model.id == model_id:
                return model
        raise ModelMissing(f"no model {model_id!r} in the catalogue", reason="not_in_catalogue")

    def recommended(self, languages: list[str]) -> list[CatalogueModel]:
        """What a server serving `languages` (narrated in Vietnamese) should have: vi<->en,
        en->each other language (and a direct vi->X where one exists), a voice per language,
        and the recommended Whisper."""
        wanted = set(languages)
        chosen: list[CatalogueModel] = []
        for model in self.models:
            if not model.recommended:
                continue
            if model.kind == "mt":
                source, target = model.languages
                pair = {source, target}
                useful = (pair == {"vi", "en"} and pair <= wanted | {"en"}) or (
                    source in {"en", "vi"} and target in wanted and target not in {"en", "vi"}
                )
                if useful:
                    chosen.append(model)
            elif model.kind == "tts":
                if set(model.languages) & wanted:
                    chosen.append(model)
            else:
                chosen.append(model)
        return chosen


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a download is, for a progress bar."""

    model_id: str
    file: str
    done: int  # bytes of this file on disk
    total: int  # bytes this file has
    resumed_from: int = 0


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class DownloadPlan:
    """What `download_recommended` will fetch, and what it leaves out and why."""

    models: list[CatalogueModel]
    skipped: list[tuple[str, str]]  # (model id, reason)

    @property
    def total_bytes(self) -> int:
        return sum(model.total_bytes for model in self.models)


@dataclass(frozen=True, slots=True)
class DownloadReport:
    """What was installed, and what was left out (and why)."""

    installed: list[ModelState]
    skipped: list[tuple[str, str]]


def plan_recommended(
    languages: list[str], *, settings: PipelineSettings, catalogue: Catalogue | None = None
) -> DownloadPlan:
    """The recommended set for `languages`, split into what can be had and what cannot."""
    catalogue = catalogue or Catalogue.load()
    models: list[CatalogueModel] = []
    skipped: list[tuple[str, str]] = []
    for model in catalogue.recommended(languages):
        reason = model.refusal(allow_noncommercial=settings.allow_noncommercial)
        if reason:
            skipped.append((model.id, reason))
        else:
            models.append(model)
    return DownloadPlan(models, skipped)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener()


def _fetch_json(url: str) -> Any:
    with _opener().open(url, timeout=TIMEOUT_S) as response:
        return json.loads(response.read())


def _check_indexes(models: list[CatalogueModel], catalogue: Catalogue) -> None:
    """The catalogue's pins must still be what the publishers' own indexes list."""
    cache: dict[str, Any] = {}

    def index(kind: str) -> Any:
        if kind not in cache:
            url = catalogue.indexes[kind]
            try:
                cache[kind] = _fetch_json(url)
            except (OSError, ValueError) as exc:
                raise ModelDownloadFailed(
                    f"could not read the {kind} index at {url} ({exc}). Without internet, "
                    "install a bundle: `flask models install BUNDLE.tar`"
                ) from exc
        return cache[kind]

    for model in models:
        kind = model.index.get("kind")
        if kind == "argospm":
            entries = [e for e in index(kind) if e.get("code") == model.index["code"]]
            versions = {str(e.get("package_version")) for e in entries}
            if model.index["package_version"] not in versions:
                raise ModelDownloadFailed(
                    f"{model.id}: the Argos index lists {model.index['code']} at "
                    f"{', '.join(sorted(versions)) or 'no version'}, the catalogue pins "
                    f"{model.index['package_version']}; update the catalogue",
                    reason="catalogue_stale",
                )
        elif kind == "piper":
            voice = index(kind).get(model.index["key"])
            if voice is None:
                raise ModelDownloadFailed(
                    f"{model.id}: Piper's voices.json no longer lists {model.index['key']}",
                    reason="catalogue_stale",
                )
            listed = {Path(path).name: info for path, info in voice.get("files", {}).items()}
            for file in model.files:
                info = listed.get(file.name)
                if info is None or int(info.get("size_bytes", -1)) != file.bytes:
                    raise ModelDownloadFailed(
                        f"{model.id}: Piper's voices.json gives {file.name} as "
                        f"{info.get('size_bytes') if info else 'absent'} bytes, the catalogue "
                        f"pins {file.bytes}; update the catalogue",
                        reason="catalogue_stale",
                    )


def _check_disk(folder: Path, needed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed * DISK_MARGIN:
        raise ModelDownloadFailed(
            f"not enough disk space in {folder}: the models need {needed / 1e6:.0f} MB "
            f"(plus {DISK_MARGIN - 1:.0%} to install), {free / 1e6:.0f} MB is free",
            reason="disk_full",
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_file(
    file: CatalogueFile,
    destination: Path,
    *,
    model_id: str,
    progress: ProgressCallback | None = None,
) -> Path:
    """Download one file to `destination`, resuming a `.part` left by an interrupted try
    (HTTP Range), and keep it only if its size and sha256 are the pinned ones."""
    if file.bytes is None or not file.sha256:
        raise ModelDownloadFailed(f"{model_id}/{file.name} has no pin", reason="not_pinned")
    if destination.is_file() and destination.stat().st_size == file.bytes:
        if _sha256(destination) == file.sha256:
            return destination  # verified on an earlier run
        destination.unlink()
    partial = destination.with_name(destination.name + ".part")
    have = partial.stat().st_size if partial.exists() else 0
    if have > file.bytes:
        partial.unlink()
        have = 0
    headers = {"User-Agent": "hoian-guide-models/1"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(file.url, headers=headers)  # noqa: S310 - catalogue URLs
    try:
        with _opener().open(request, timeout=TIMEOUT_S) as response:
            if have and response.status != 206:  # the server ignored Range: start again
                have = 0
            started = have
            length = response.headers.get("Content-Length")
            with open(partial, "ab" if have else "wb") as out:
                while block := response.read(CHUNK):
                    out.write(block)
                    have += len(block)
                    if progress:
                        progress(Progress(model_id, file.name, have, file.bytes, started))
            if length is not None and have - started < int(length):
                # http.client ends a read quietly when the connection drops mid-body.
                raise ConnectionError(f"the connection closed after {have - started} bytes")
    except urllib.error.HTTPError as exc:
        exc.close()
        raise ModelDownloadFailed(
            f"{model_id}: {file.url} answered {exc.code} {exc.reason}", reason="http_error"
        ) from exc
    except OSError as exc:
        if getattr(exc, "errno", None) == errno.ENOSPC:
            partial.unlink(missing_ok=True)
            raise ModelDownloadFailed(
                f"{model_id}: the disk filled up while writing {file.name}", reason="disk_full"
            ) from exc
        # The .part stays: the next run resumes from where this one stopped.
        raise ModelDownloadFailed(
            f"{model_id}: downloading {file.name} stopped at {have} of {file.bytes} bytes "
            f"({exc}); run the download again to resume",
        ) from exc
    size = partial.stat().st_size
    if size != file.bytes:
        partial.unlink()
        raise ChecksumMismatch(
            f"{model_id}: {file.name} is {size} bytes, the catalogue pins {file.bytes}; "
            "nothing was installed",
            reason="size_mismatch",
        )
    digest = _sha256(partial)
    if digest != file.sha256:
        partial.unlink()
        raise ChecksumMismatch(
            f"{model_id}: {file.name} has sha256 {digest}, the catalogue pins {file.sha256}; "
            "nothing was installed"
        )
    os.replace(partial, destination)
    return destination


def _download_dir(settings: PipelineSettings) -> Path:
    return settings.model_dir / ".downloads"


def _fetch_models(
    models: list[CatalogueModel],
    *,
    settings: PipelineSettings,
    catalogue: Catalogue,
    progress: ProgressCallback | None,
) -> dict[str, Path]:
    """Every file of every model, verified, in the download cache: model id -> its folder."""
    for model in models:
        reason = model.refusal(allow_noncommercial=settings.allow_noncommercial)
        if reason:
            error = LicenceRefused if "licen" in reason else ModelDownloadFailed
            raise error(reason, reason="licence_refused" if error is LicenceRefused else None)
    _check_indexes(models, catalogue)
    cache = _download_dir(settings)
    pending = 0
    for model in models:
        for file in model.files:
            done = cache / model.id / file.name
            if not done.is_file():
                pending += int(file.bytes or 0)
    _check_disk(cache, pending)
    folders: dict[str, Path] = {}
    for model in models:
        folder = cache / model.id
        folder.mkdir(parents=True, exist_ok=True)
        for file in model.files:
            fetch_file(file, folder / file.name, model_id=model.id, progress=progress)
        folders[model.id] = folder
    return folders


def _install_model(registry: ModelRegistry, model: CatalogueModel, folder: Path) -> ModelState:
    """Install one verified model through the registry's own checks and atomic rename."""
    with tempfile.TemporaryDirectory(dir=registry.root, prefix=".stage-") as tmp:
        if model.kind == "mt":
            return registry.install(folder / model.files[0].name)
        if model.kind == "stt":
            staged = Path(tmp) / model.id
            shutil.copytree(folder, staged)
            return registry.install(staged)
        staged = Path(tmp) / model.id
        shutil.copytree(folder, staged)
        onnx = next(f for f in model.files if f.name.endswith(".onnx"))
        manifest = {
            "id": model.id,
            "engine": model.engine,
            "languages": list(model.languages),
            "licence": model.licence,
            "source": f"{model.name} {model.version} ({onnx.url})",
            "quality": model.quality,
            "sha256": onnx.sha256,
            "description": f"Piper voice {model.name}",
        }
        (staged / "voice.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
        return registry.install(staged)


def _install_all(
    registry: ModelRegistry,
    models: list[CatalogueModel],
    folders: dict[str, Path],
    *,
    keep: bool = True,
) -> list[ModelState]:
    registry.root.mkdir(parents=True, exist_ok=True)
    states = [_install_model(registry, model, folders[model.id]) for model in models]
    if not keep:
        # Installed copies are complete: the downloaded files would only double the disk use.
        for model in models:
            shutil.rmtree(folders[model.id], ignore_errors=True)
    return states


def download_models(
    registry: ModelRegistry,
    model_ids: list[str],
    *,
    catalogue: Catalogue | None = None,
    progress: ProgressCallback | None = None,
) -> list[ModelState]:
    """Download and install catalogue models by id: every file of every model is fetched and
    verified (size, sha256, the publisher's index) before the first one is installed."""
    catalogue = catalogue or Catalogue.load()
    models = [catalogue.get(model_id) for model_id in model_ids]
    folders = _fetch_models(
        models, settings=registry.settings, catalogue=catalogue, progress=progress
    )
    return _install_all(registry, models, folders, keep=False)


def download_recommended(
    registry: ModelRegistry,
    languages: list[str],
    *,
    catalogue: Catalogue | None = None,
    progress: ProgressCallback | None = None,
) -> DownloadReport:
    """Download and install the recommended set for `languages` (HOIAN_LANGUAGES).

    Models that cannot be had (unpinned, licence unrecorded or refused) are reported in
    `skipped`, each with its reason; any failure of the others stops before anything is
    installed, and a rerun resumes the interrupted download.
    """
    catalogue = catalogue or Catalogue.load()
    plan = plan_recommended(languages, settings=registry.settings, catalogue=catalogue)
    folders = _fetch_models(
        plan.models, settings=registry.settings, catalogue=catalogue, progress=progress
    )
    return DownloadReport(_install_all(registry, plan.models, folders, keep=False), plan.skipped)


def write_bundle(
    registry: ModelRegistry,
    out: Path,
    languages: list[str],
    *,
    catalogue: Catalogue | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Write the recommended set for `languages` into one tar, for a server with no internet.

    The tar holds `manifest.json` (the catalogue entries, with sizes and sha256, and what was
    left out) first, then `files/<model id>/<file>`. It is written beside `out` and renamed
    into place once complete. Returns the manifest.
    """
    catalogue = catalogue or Catalogue.load()
    settings = registry.settings
    plan = plan_recommended(languages, settings=settings, catalogue=catalogue)
    folders = _fetch_models(plan.models, settings=settings, catalogue=catalogue, progress=progress)
    manifest = {
        "format": BUNDLE_FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "languages": sorted(languages),
        "models": [model.raw for model in plan.models],
        "skipped": [{"id": model_id, "reason": reason} for model_id, reason in plan.skipped],
    }
    out = Path(out)
    _check_disk(out.parent, plan.total_bytes)
    partial = out.with_name(f".{out.name}.part")
    try:
        with tarfile.open(partial, "w") as bundle:
            payload = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            info = tarfile.TarInfo(BUNDLE_MANIFEST)
            info.size = len(payload)
            info.mtime = int(time.time())
            bundle.addfile(info, io.BytesIO(payload))
            for model in plan.models:
                for file in model.files:
                    bundle.add(folders[model.id] / file.name, f"files/{model.id}/{file.name}")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, out)
    return manifest


def install_bundle(registry: ModelRegistry, bundle_path: Path) -> list[ModelState]:
    """Install a bundle tar on an offline server: every file is extracted to a staging folder
    and checked against the manifest (size, sha256, licence) before any model is installed;
    each model then lands by one rename. A bad bundle installs nothing."""
    settings = registry.settings
    registry.root.mkdir(parents=True, exist_ok=True)
    try:
        bundle = tarfile.open(bundle_path, "r")  # noqa: SIM115 - closed by the `with` below
    except (OSError, tarfile.TarError) as exc:
        raise PipelineError(
            f"{bundle_path} is not a model bundle ({exc})", reason="bad_bundle"
        ) from exc
    with bundle, tempfile.TemporaryDirectory(dir=registry.root, prefix=".bundle-") as tmp:
        try:
            manifest = json.loads(bundle.extractfile(BUNDLE_MANIFEST).read())  # type: ignore[union-attr]
        except (KeyError, AttributeError, ValueError) as exc:
            raise PipelineError(
                f"{bundle_path} has no readable {BUNDLE_MANIFEST}", reason="bad_bundle"
            ) from exc
        if manifest.get("format") != BUNDLE_FORMAT:
            raise PipelineError(
                f"{bundle_path}: unknown bundle format {manifest.get('format')!r}",
                reason="bad_bundle",
            )
        models = [CatalogueModel.from_dict(entry) for entry in manifest["models"]]
        expected = {f"files/{m.id}/{f.name}": (m, f) for m in models for f in m.files}
        members = [member for member in bundle.getmembers() if member.name != BUNDLE_MANIFEST]
        for member in members:
            if member.name not in expected or not member.isfile():
                raise PipelineError(
                    f"{bundle_path}: {member.name} is not a file its manifest lists",
                    reason="unsafe_archive",
                )
        missing = sorted(set(expected) - {member.name for member in members})
        if missing:
            raise ChecksumMismatch(
                f"{bundle_path} lacks {', '.join(missing)}; nothing was installed",
                reason="bundle_incomplete",
            )
        for model in models:
            reason = model.refusal(allow_noncommercial=settings.allow_noncommercial)
            if reason:
                raise LicenceRefused(reason)
        _check_disk(Path(tmp), sum(member.size for member in members))
        staging = Path(tmp)
        for member in members:
            model, file = expected[member.name]
            target = staging / model.id / file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = bundle.extractfile(member)
            if source is None:
                raise PipelineError(f"{member.name} cannot be read", reason="bad_bundle")
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            size, digest = target.stat().st_size, _sha256(target)
            if size != file.bytes or digest != file.sha256:
                raise ChecksumMismatch(
                    f"{bundle_path}: {member.name} is {size} bytes with sha256 {digest}; the "
                    f"manifest says {file.bytes} bytes, {file.sha256}. Nothing was installed"
                )
        return _install_all(registry, models, {m.id: staging / m.id for m in models})
