"""Catalogue texts of sites and tours (names where they are translated, summaries,
descriptions) machine-translated from Vietnamese by the pipeline's translation stage (a
`catalogue` job, the same Argos code): labelled, replaced by an editor's text, rebuilt when the
Vietnamese changes, never fetched from the network.

The Argos packages here are the tiny random-weight ones the tests build: their French is
nonsense, so the test checks where the words go and what they are called, never their sense.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
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


@pytest.fixture
def long_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """The random-weight model never stops before its longest output (about 280 characters,
    where a real one writes a few words): names that long are let through here, to see where
    the machine's name goes. That a rambling name is refused is tested below."""
    from guides import stages

    monkeypatch.setattr(stages, "NAME_MAX_CHARS", 10_000)


def test_texts_are_machine_translated_labelled_replaced_and_rebuilt(
    pipeline_app: Flask,
    tmp_path: Path,
    no_network: list[Any],
    editor_headers: dict[str, str],
    long_names: None,
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
    # People translated this name ("Tấn Ký Old House"), so the machine translates it too.
    assert french.name not in (vietnamese.name, site.text_for("en").name) and french.name
    assert no_network == []

    pipeline_app.test_client_class = IsolatedClient  # each request its own `g`
    client = pipeline_app.test_client()
    detail = client.get(f"/api/v1/sites/{SITE}?lang=fr").get_json()
    assert detail["lang"] == "fr" and detail["machine_translated"] is True
    assert detail["description"] == french.description and detail["name"] == french.name
    [listed] = [
        item
        for item in client.get("/api/v1/sites?lang=fr&per_page=100").get_json()["items"]
        if item["slug"] == SITE
    ]
    assert listed["machine_translated"] is True and listed["name"] == french.name
    english = client.get(f"/api/v1/sites/{SITE}?lang=en").get_json()
    assert english["machine_translated"] is False
    page = client.get(f"/s/{SITE}?lang=fr").get_data(as_text=True)
    assert "Traduction automatique" in page and french.summary[:20] in page
    # The map's list says so of that name too (and not of an English one).
    listing = client.get("/?lang=fr").get_data(as_text=True)
    assert re.search(rf'href="/s/{SITE}\?lang=fr"[^>]*>[^<]*</a> <span[^>]*>\(traduction', listing)
    english_map = client.get("/?lang=en").get_data(as_text=True)
    assert not re.search(rf'href="/s/{SITE}\?lang=en"[^>]*>[^<]*</a> <span', english_map)

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

    # A name nobody translated is a proper name: kept as Vietnamese writes it.
    etag = client.get(f"/api/v1/sites/{SITE}").headers["ETag"]
    edit = client.patch(
        f"/api/v1/sites/{SITE}",
        json={"texts": {"en": {"name": vietnamese.name}}},
        headers={**editor_headers, "If-Match": etag},
    )
    assert edit.status_code == 200, edit.get_json()
    site, _ = _text("fr")
    assert [t.state for t in _run(site).tasks] == ["succeeded"]
    _, renamed = _text("fr")
    assert renamed.name == vietnamese.name and renamed.provenance == "machine"

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


def test_a_rambling_name_is_not_kept(pipeline_app: Flask, tmp_path: Path) -> None:
    """Names have 200 characters at most; a machine's longer one is a model that did not stop:
    the person's English name is shown instead, and the texts are still translated."""
    _install_vi_fr(pipeline_app, tmp_path)
    site, _ = _text("fr")
    assert [t.state for t in _run(site).tasks] == ["succeeded"]
    site, french = _text("fr")
    assert french.name == site.text_for("en").name and french.provenance == "machine"
    assert french.summary and french.summary != site.text_for("vi").summary


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


TOUR = "assembly-halls-walk"


def _tour_text(lang: str) -> Any:
    from app.extensions import db
    from content.models import Tour

    db.session.rollback()
    tour = db.session.query(Tour).filter_by(slug=TOUR).one()
    return tour, tour.text_for(lang)


def _edit_tour(texts: dict[str, dict[str, Any]]) -> None:
    """An editor's edit of the tour's texts, as the console's tour page makes it."""
    from app.extensions import db
    from content import services

    tour, _ = _tour_text("vi")
    services.update_tour(slug=TOUR, expected_version=tour.version, data={"texts": texts})
    db.session.commit()


def test_tour_texts_and_name_are_machine_translated_labelled_replaced_and_rebuilt(
    pipeline_app: Flask,
    tmp_path: Path,
    no_network: list[Any],
    editor_headers: dict[str, str],
    long_names: None,
) -> None:
    from markupsafe import escape

    from app.extensions import db
    from guides import catalogue, executor
    from guides.models import PipelineJob

    _install_vi_fr(pipeline_app, tmp_path)
    tour, french = _tour_text("fr")
    assert french is None  # the seed has Vietnamese and English only
    job = catalogue.start_tour_texts_job(tour=tour)
    db.session.commit()
    job = executor.run_job_here(job_id=job.id)
    assert (job.kind, job.site_id, job.tour_id) == ("catalogue", None, tour.id)
    assert [(t.lang, t.state) for t in job.tasks] == [("fr", "succeeded")]  # English: a person's
    tour, french = _tour_text("fr")
    vietnamese, english = tour.text_for("vi"), tour.text_for("en")
    assert french.provenance == "machine" and not french.reviewed
    # A tour's name says what the walk is: translated, like its summary and description.
    assert french.name not in (vietnamese.name, english.name) and french.name
    assert french.summary and french.summary != vietnamese.summary
    assert french.description and french.description != vietnamese.description
    assert no_network == []

    pipeline_app.test_client_class = IsolatedClient
    client = pipeline_app.test_client()
    detail = client.get(f"/api/v1/tours/{TOUR}?lang=fr").get_json()
    assert detail["lang"] == "fr" and detail["machine_translated"] is True
    assert (detail["name"], detail["summary"], detail["description"]) == (
        french.name,
        french.summary,
        french.description,
    )
    [listed] = [
        t for t in client.get("/api/v1/tours?lang=fr").get_json()["items"] if t["slug"] == TOUR
    ]
    assert listed["machine_translated"] is True
    assert client.get(f"/api/v1/tours/{TOUR}?lang=en").get_json()["machine_translated"] is False
    page = client.get(f"/tours/{TOUR}?lang=fr").get_data(as_text=True)
    assert "Traduction automatique" in page and str(escape(french.summary[:20])) in page
    listing = client.get("/?lang=fr").get_data(as_text=True)
    assert re.search(
        rf'href="/tours/{TOUR}\?lang=fr"[^>]*>[^<]*</a> <span[^>]*>\(traduction', listing
    )
    assert "Traduction automatique" not in client.get(f"/tours/{TOUR}?lang=en").get_data(
        as_text=True
    )
    job_doc = client.get(f"/api/v1/jobs/{job.id}", headers=editor_headers).get_json()
    assert (job_doc["kind"], job_doc["site"], job_doc["tour"]) == ("catalogue", None, TOUR)

    # The Vietnamese changes: the edit starts a catalogue job, which rebuilds the French.
    before = french.summary
    _edit_tour({"vi": {"summary": "Một vòng đi bộ buổi sáng qua bốn hội quán của người Hoa."}})
    db.session.rollback()
    newest = db.session.query(PipelineJob).filter_by(tour_id=tour.id).order_by(PipelineJob.id)
    rebuild = newest.all()[-1]
    assert rebuild.id != job.id and rebuild.langs == ["fr"]
    [task] = executor.run_job_here(job_id=rebuild.id).tasks
    _, rebuilt = _tour_text("fr")
    assert task.state == "succeeded" and rebuilt.provenance == "machine", task.result
    assert rebuilt.summary != before  # the new Vietnamese, translated (into noise) again
    assert no_network == []

    # An editor writes the French: it wins, and nothing is left to translate.
    human = {"name": "Les salles des congrégations", "provenance": "human", "reviewed": True}
    _edit_tour({"fr": human})
    tour, kept = _tour_text("fr")
    assert catalogue.start_tour_texts_job(tour=tour) is None
    assert kept.name == human["name"] and kept.provenance == "human"
    assert client.get(f"/api/v1/tours/{TOUR}?lang=fr").get_json()["machine_translated"] is False


def test_a_tour_text_job_waits_without_a_model(pipeline_app: Flask) -> None:
    from app.extensions import db
    from guides import catalogue, executor

    tour, _ = _tour_text("fr")
    job = catalogue.start_tour_texts_job(tour=tour, langs=["fr"])
    db.session.commit()
    done = executor.run_job_here(job_id=job.id)
    assert [(t.lang, t.state) for t in done.tasks] == [("fr", "pending")]
    assert _tour_text("fr")[1] is None
    pipeline_app.test_client_class = IsolatedClient
    page = pipeline_app.test_client().get(f"/tours/{TOUR}?lang=fr").get_data(as_text=True)
    assert '<h1 lang="en">' in page  # English is shown, and marked as English
