"""`flask models ...` and `flask guide build`: the same registry and task code as the workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from tests.guides.conftest import SITE, job_state


def test_models_list_and_a_download_without_network_fails_clearly(
    pipeline_app: Flask, no_network: list[Any]
) -> None:
    runner = pipeline_app.test_cli_runner()
    listed = runner.invoke(args=["models", "list"])
    assert listed.exit_code == 0
    assert "espeak-ng" in listed.output and "argos-vi-en" in listed.output
    failed = runner.invoke(args=["models", "download", "argos-vi-en"])
    assert failed.exit_code == 1
    assert "argos-vi-en" in failed.output and "Error" in failed.output
    missing = runner.invoke(args=["models", "install", "/nonexistent/voice"])
    assert missing.exit_code == 2


def test_guide_build_runs_the_job_here_and_publishes(pipeline_app: Flask) -> None:
    from app.extensions import db
    from guides import narrations

    site = narrations.site_by_slug(SITE)
    narration = narrations.create_narration(site=site, source_lang="vi", text="Xin chào Hội An.")
    db.session.commit()
    runner = pipeline_app.test_cli_runner()
    result = runner.invoke(args=["guide", "build", SITE, "--langs", "vi,fr"])
    assert result.exit_code == 0, result.output
    assert "vi: succeeded" in result.output
    assert "fr: pending - model_missing" in result.output
    job = narrations.current_narration(site)
    assert job is not None and job.id == narration.id
    assert job_state(1)["status"] == "succeeded"
    usage = runner.invoke(args=["guide", "build"])
    assert usage.exit_code == 2 and "--all" in usage.output


def test_models_bundle_on_a_connected_machine_then_install_on_an_offline_one(
    pipeline_app: Flask, fixture_files: tuple[Path, Path], server: Any, tmp_path: Path
) -> None:
    """`flask models bundle` through a mirror (the local fixture server stands in for the
    publishers), then `flask models install BUNDLE.tar` with every socket refused."""
    import socket
    from unittest import mock

    from audio_pipeline.registry import ModelRegistry

    pipeline_app.config.update(MODEL_CATALOGUE=str(fixture_files[1]), MODEL_MIRROR=server.url)
    languages = pipeline_app.config["LANGUAGES"]
    pipeline_app.config["LANGUAGES"] = ["vi", "en"]
    runner = pipeline_app.test_cli_runner()
    bundle = tmp_path / "models.tar"
    try:
        made = runner.invoke(args=["models", "bundle", str(bundle)])
        assert made.exit_code == 0, made.output
        assert f"{bundle}: 2 models" in made.output
        settings = pipeline_app.config["PIPELINE_SETTINGS"]
        assert ModelRegistry(settings).argos_package("vi", "en") is None  # bundled, not installed
        with mock.patch.object(socket.socket, "connect", side_effect=OSError("offline")):
            installed = runner.invoke(args=["models", "install", str(bundle)])
        assert installed.exit_code == 0, installed.output
        assert "argos-vi-en: installed at" in installed.output
        assert ModelRegistry(settings).argos_package("vi", "en") is not None
        broken = tmp_path / "broken.tar"
        broken.write_bytes(b"not a tar")
        refused = runner.invoke(args=["models", "install", str(broken)])
        assert refused.exit_code == 1 and "is not a model bundle" in refused.output
        usage = runner.invoke(args=["models", "download"])
        assert usage.exit_code == 2 and "--recommended" in usage.output
    finally:
        pipeline_app.config["LANGUAGES"] = languages
        pipeline_app.config.update(MODEL_CATALOGUE=None, MODEL_MIRROR=None)
