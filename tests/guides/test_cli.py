"""`flask models ...` and `flask guide build`: the same registry and task code as the workers."""

from __future__ import annotations

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
