"""The model registry: what ships in packages, checksums, installs from files, licences,
and downloads that fail clearly without a network."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from audio_pipeline import registry as registry_module
from audio_pipeline.errors import (
    ChecksumMismatch,
    LicenceRefused,
    ModelDownloadFailed,
    PipelineError,
)
from audio_pipeline.registry import ModelRegistry
from audio_pipeline.settings import PipelineSettings
from tests.audio_pipeline.builders import build_argos_package


def _states(registry: ModelRegistry) -> dict[str, Any]:
    return {state.spec.id: state for state in registry.states()}


def test_whisper_base_is_assembled_once_and_verified(settings: PipelineSettings) -> None:
    registry = ModelRegistry(settings)
    path = registry.assemble_whisper_base()
    marker = json.loads((path / registry_module.VERIFIED_MARKER).read_text())
    assert marker["sha256"] == registry_module.WHISPER_BASE_SHA256
    assert {p.name for p in path.iterdir()} >= {"model.bin", "config.json", "tokenizer.json"}
    assert registry_module._sha256_file(path / "model.bin") == registry_module.WHISPER_BASE_SHA256
    written = (path / "model.bin").stat().st_mtime_ns
    assert registry.whisper_path("whisper-base") == path
    assert (path / "model.bin").stat().st_mtime_ns == written  # not assembled again
    assert _states(registry)["whisper-base"].installed


def test_whisper_parts_that_do_not_match_the_pin_are_refused(
    settings: PipelineSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = PipelineSettings(model_dir=tmp_path / "fresh")  # nothing assembled there yet
    monkeypatch.setattr(registry_module, "WHISPER_BASE_SHA256", "0" * 64)
    with pytest.raises(ChecksumMismatch, match="reinstall"):
        ModelRegistry(fresh).assemble_whisper_base()
    assert not (fresh.model_dir / "stt" / "whisper-base").exists()
    assert not list((fresh.model_dir / "stt").iterdir())  # no staging folder left behind


def test_listing_shows_source_licence_and_state(settings: PipelineSettings) -> None:
    states = _states(ModelRegistry(settings))
    espeak, piper = states["espeak-ng"], states["piper-en_US-joe-medium"]
    assert espeak.installed and "vi" in espeak.spec.languages
    assert piper.installed and piper.spec.licence.startswith("CC0")
    assert piper.path is not None
    assert registry_module._sha256_file(piper.path) == registry_module.PIPER_JOE_SHA256
    assert not states["argos-vi-en"].installed
    assert states["coqui-xtts-v2"].spec.commercial_use is False
    assert states["nllb-200-distilled-600m"].spec.commercial_use is False
    row = states["whisper-base"].as_dict()
    assert row["licence"] == "MIT" and row["sha256"] == registry_module.WHISPER_BASE_SHA256


def test_an_argos_package_installs_from_a_file(settings: PipelineSettings, tmp_path: Path) -> None:
    registry = ModelRegistry(settings)
    archive = build_argos_package(tmp_path, "vi", "en")
    state = registry.install(archive)
    assert state.installed and state.spec.id == "argos-vi-en"
    assert registry.argos_package("vi", "en") == state.path
    # Installing again replaces the package in place rather than adding a second one.
    registry.install(archive)
    assert len([p for p, _ in registry.argos_packages()]) == 1


def test_an_archive_that_escapes_its_folder_is_refused(
    settings: PipelineSettings, tmp_path: Path
) -> None:
    archive = tmp_path / "evil.argosmodel"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(
            "translate-vi_en/metadata.json",
            json.dumps({"from_code": "vi", "to_code": "en", "type": "translate"}),
        )
        bundle.writestr("translate-vi_en/../../../escaped.txt", "x")
    with pytest.raises(PipelineError) as caught:
        ModelRegistry(settings).install(archive)
    assert caught.value.reason == "unsafe_archive"
    assert not (settings.model_dir.parent / "escaped.txt").exists()


def _voice_folder(tmp_path: Path, voice_id: str, licence: str) -> Path:
    folder = tmp_path / voice_id
    folder.mkdir()
    (folder / "voice.json").write_text(
        json.dumps({"id": voice_id, "engine": "coqui", "languages": ["vi"], "licence": licence})
    )
    return folder


@pytest.mark.parametrize(
    ("voice_id", "licence"),
    [
        ("mms-tts-vie", "CC-BY-NC-4.0"),
        ("xtts-v2", "Coqui Public Model License 1.0.0"),
        ("some-voice", "CC-BY-NC-SA-4.0"),
    ],
)
def test_noncommercial_models_need_an_explicit_opt_in(
    settings: PipelineSettings, tmp_path: Path, voice_id: str, licence: str
) -> None:
    folder = _voice_folder(tmp_path, voice_id, licence)
    with pytest.raises(LicenceRefused, match="HOIAN_ALLOW_NONCOMMERCIAL_MODELS"):
        ModelRegistry(settings).install(folder)
    assert not (settings.model_dir / "tts" / voice_id).exists()
    opted_in = PipelineSettings(model_dir=settings.model_dir, allow_noncommercial=True)
    assert ModelRegistry(opted_in).install(folder).installed


def test_downloading_a_noncommercial_model_is_refused_before_any_network(
    settings: PipelineSettings, no_network: list[Any]
) -> None:
    with pytest.raises(LicenceRefused):
        ModelRegistry(settings).download("coqui-xtts-v2")
    assert no_network == []


def test_download_without_network_fails_with_what_to_do(
    settings: PipelineSettings, no_network: list[Any]
) -> None:
    with pytest.raises(ModelDownloadFailed) as caught:
        ModelRegistry(settings).download("argos-vi-en")
    assert "flask models install" in caught.value.message
    assert no_network, "the download should have tried the network"
    assert not ModelRegistry(settings).argos_package("vi", "en")


def test_models_that_ship_in_packages_are_not_downloaded(settings: PipelineSettings) -> None:
    with pytest.raises(ModelDownloadFailed) as caught:
        ModelRegistry(settings).download("piper-en_US-joe-medium")
    assert caught.value.reason == "not_downloadable"


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = PipelineSettings.from_env(
        {
            "HOIAN_MODEL_DIR": str(tmp_path),
            "HOIAN_ALLOW_NONCOMMERCIAL_MODELS": "1",
            "HOIAN_MAX_UPLOAD_MB": "5",
        }
    )
    assert settings.model_dir == tmp_path and settings.allow_noncommercial
    assert settings.max_upload_bytes == 5 * 1024 * 1024
    assert not PipelineSettings.from_env({}).allow_noncommercial
