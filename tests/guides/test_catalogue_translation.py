"""Catalogue texts machine-translated from Vietnamese by the pipeline's translation stage (a
`catalogue` job, the same Argos code): labelled, replaced by an editor's text, rebuilt when the
Vietnamese changes, never fetched from the network.

The Argos packages here are the tiny random-weight ones the tests build: their French is
nonsense, so the test checks where the words go and what they are called, never their sense.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from tests.audio_pipeline.builders import build_argos_package
from tests.conftest import IsolatedClient

SITE = "tan-ky-old-house"


def _install_vi_fr(app: Flask, tmp_path: Path) -> None:
    from audio_pipeline.registry import ModelRegistry

    registry = ModelRegistry(app.config["PIPELINE_SETTINGS"])
    registry.install(build_argos_package(tmp_path, "vi", "fr", seed=3))


def _run(site: Any, **kwargs: Any) -> Any:
    from app.extensions import db
    from guides import catalogue, executor

    job = catalogue.start_catalogue_job(site=site, **kwargs)
    db.session.commit()
    return None if job is None else executor.run_job_here(job_id=job.id)


def _text(lang: str) -> Any:
    from app.extensions import db
    from content.models import Site

    db.session.rollback()  # a new snapshot: the requests committed in their own sessions
    site = db.session.query(Site).filter_by(slug=SITE).one()
    return site, site.text_for(lang)


def test_texts_are_machine_translated_labelled_replaced_and_rebuilt(
    pipeline_app: Flask, tmp_path: Path, no_network: list[Any], editor_headers: dict[str, str]
) -> None:
    _install_vi_fr(pipeline_app, tmp_path)
    site, french = _text("fr")
    assert french is None  # the seed has Vietnamese and English only
    job = _run(site)
    assert job.kind == "catalogue" and [(t.lang, t.state) for t in job.tasks] == [
        ("fr", "succeeded")
    ]  # English is a person's text: no task for it
    site, french = _text("fr")
    vietnamese = site.text_for("vi")
    assert french.provenance == "machine" and not french.reviewed
    assert french.summary and french.description and french.summary != vietnamese.summary
    assert french.name == site.text_for("en").name  # a proper name is not machine-translated
    assert no_network == []

    pipeline_app.test_client_class = IsolatedClient  # each request its own `g`
    client = pipeline_app.test_client()
    detail = client.get(f"/api/v1/sites/{SITE}?lang=fr").get_json()
    assert detail["lang"] == "fr" and detail["machine_translated"] is True
    assert detail["description"] == french.description
    english = client.get(f"/api/v1/sites/{SITE}?lang=en").get_json()
    assert english["machine_translated"] is False
    page = client.get(f"/s/{SITE}?lang=fr").get_data(as_text=True)
    assert "Traduction automatique" in page and french.summary[:20] in page

    # The Vietnamese changes: a catalogue job is started by the edit, and rebuilds French.
    etag = client.get(f"/api/v1/sites/{SITE}").headers["ETag"]
    edit = client.patch(
        f"/api/v1/sites/{SITE}",
        json={"texts": {"vi": {"summary": "Ngôi nhà cổ hơn hai trăm năm của một gia đình."}}},
        headers={**editor_headers, "If-Match": etag},
    )
    assert edit.status_code == 200, edit.get_json()
    from app.extensions import db
    from guides.models import PipelineJob

    db.session.rollback()  # a new snapshot: the requests committed in their own sessions
    rebuild = db.session.query(PipelineJob).filter_by(kind="catalogue").order_by(PipelineJob.id)
    newest = rebuild.all()[-1]
    assert newest.id != job.id and newest.langs == ["fr"]
    from guides import executor

    before = french.summary
    done = executor.run_job_here(job_id=newest.id)
    [task] = done.tasks
    _, rebuilt = _text("fr")
    assert task.state == "succeeded" and rebuilt.provenance == "machine", task.result
    assert rebuilt.summary != before  # the new Vietnamese, translated (into noise) again

    # An editor writes the French: a human text always wins, and no job overwrites it.
    etag = client.get(f"/api/v1/sites/{SITE}").headers["ETag"]
    human = "Une maison de marchands de plus de deux siècles."
    edit = client.patch(
        f"/api/v1/sites/{SITE}",
        json={"texts": {"fr": {"summary": human, "provenance": "human", "reviewed": True}}},
        headers={**editor_headers, "If-Match": etag},
    )
    assert edit.status_code == 200, edit.get_json()
    site, _ = _text("fr")
    assert _run(site) is None  # nothing left to translate
    _, kept = _text("fr")
    assert kept.summary == human and kept.provenance == "human"
    assert client.get(f"/api/v1/sites/{SITE}?lang=fr").get_json()["machine_translated"] is False


def test_without_a_model_the_task_waits_and_the_page_says_its_language(
    pipeline_app: Flask,
) -> None:
    site, _ = _text("fr")
    job = _run(site)
    assert [(t.lang, t.state) for t in job.tasks] == [("fr", "pending")]
    _, french = _text("fr")
    assert french is None
    pipeline_app.test_client_class = IsolatedClient
    page = pipeline_app.test_client().get(f"/s/{SITE}?lang=fr").get_data(as_text=True)
    assert '<h1 lang="en">' in page  # English is shown, and marked as English
