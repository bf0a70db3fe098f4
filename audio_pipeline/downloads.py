"""`models download`: fetch real models where they are published, on a connected machine.

Every failure (no network, unknown package, a hub that answers with an error) becomes a
ModelDownloadFailed that says how to install from files instead.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audio_pipeline.errors import ModelDownloadFailed, PipelineError

if TYPE_CHECKING:
    from audio_pipeline.registry import ModelRegistry, ModelSpec, ModelState

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
