"""Tourists' comments machine-translated into Vietnamese for staff by the pipeline's
translation stage (a `feedback` job, the same Argos code and glossary as narrations), stored
once and labelled "machine translated" in the console; without a model the comment is shown as
written with its detected language, and nothing is an error.

The Argos package here is the tiny random-weight one the tests build: its Vietnamese is
nonsense, so the test checks where the words go and what they are called, never their sense.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from tests.audio_pipeline.builders import build_argos_package
from tests.guides.conftest import no_network, pipeline_app  # noqa: F401 - fixtures
from tests.web.console.conftest import PASSWORD, Console, new_browser

SITE = "tan-ky-old-house"
FRENCH = "La traduction du deuxième paragraphe est fausse, et le son est trop faible."


def _leave(app: Flask, comment: str, **fields: Any) -> int:
    """Feedback through the API (its own request and commit); its id."""
    client = app.test_client()
    body = {"rating": 3, "topic": "audio_guide", "site": SITE, "language": "en", **fields}
    answer = client.post("/api/v1/feedback", json={**body, "comment": comment})
    assert answer.status_code == 202, answer.get_json()
    return int(answer.get_json()["id"])


def _feedback(feedback_id: int) -> Any:
    from app.extensions import db
    from insights.models import Feedback

    db.session.rollback()  # a new snapshot: the request and the worker committed
    return db.session.get(Feedback, feedback_id)


def _editor(app: Flask) -> Console:
    from app.auth import services
    from app.extensions import db

    email = f"editor-{secrets.token_hex(3)}@hoian.test"
    services.create_user(email=email, password=PASSWORD, roles=["editor"])
    db.session.commit()
    browser = new_browser(app)
    assert browser.login(email).status_code == 302
    return browser


def _run(job_id: int) -> Any:
    from guides import executor

    return executor.run_job_here(job_id=job_id)


def test_a_comment_is_translated_once_stored_and_labelled(
    pipeline_app: Flask,  # noqa: F811 - the fixture
    tmp_path: Path,
    no_network: list[Any],  # noqa: F811 - the fixture
) -> None:
    from audio_pipeline.registry import ModelRegistry

    ModelRegistry(pipeline_app.config["PIPELINE_SETTINGS"]).install(
        build_argos_package(tmp_path, "fr", "vi", seed=5)
    )
    item = _feedback(_leave(pipeline_app, FRENCH))
    assert item.detected_lang == "fr" and item.comment_translation is None
    job = _run(item.translation_job_id)
    assert job.kind == "feedback" and [(t.stage, t.lang, t.state) for t in job.tasks] == [
        ("translate", "vi", "succeeded")
    ]
    item = _feedback(item.id)
    assert item.translation_lang == "vi"
    assert item.comment_translation and item.comment_translation != FRENCH  # noise, translated
    assert item.comment == FRENCH  # kept as written
    assert no_network == []

    page = _editor(pipeline_app).get("/console/feedback").text
    assert f'id="feedback-{item.id}"' in page
    assert '<p class="translation" lang="vi">' in page and "dịch máy" in page
    assert FRENCH in page
    # Stored: reading the page again translates nothing again.
    _editor(pipeline_app).get("/console/feedback")
    from app.extensions import db
    from guides.models import PipelineJob

    db.session.rollback()
    assert db.session.query(PipelineJob).filter_by(kind="feedback").count() == 1
    assert _feedback(item.id).comment_translation == item.comment_translation


def test_without_a_model_the_comment_is_shown_as_written_and_nothing_fails(
    pipeline_app: Flask,  # noqa: F811 - the fixture
) -> None:
    item = _feedback(_leave(pipeline_app, FRENCH))
    job = _run(item.translation_job_id)
    assert [(t.lang, t.state) for t in job.tasks] == [("vi", "pending")]  # waits for a model
    assert job.state != "failed"
    item = _feedback(item.id)
    assert item.comment_translation is None
    page = _editor(pipeline_app).get("/console/feedback").text
    assert FRENCH in page and 'lang="fr"' in page
    assert "Ngôn ngữ nhận diện" in page and "dịch máy" not in page


def test_nothing_is_translated_that_needs_no_translation(
    pipeline_app: Flask,  # noqa: F811 - the fixture
) -> None:
    vietnamese = _feedback(_leave(pipeline_app, "Bản thuyết minh rất hay, cảm ơn các bạn nhiều."))
    assert vietnamese.detected_lang == "vi" and vietnamese.translation_job_id is None
    assert _feedback(_leave(pipeline_app, "")).translation_job_id is None
    no_site = _feedback(_leave(pipeline_app, FRENCH, site=None))
    assert no_site.translation_job_id is None  # a pipeline job belongs to a site
