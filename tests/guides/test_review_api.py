"""The API does what the console does: jobs listed and filtered, a narration with its drafts;
and a job that fails never changes what tourists see (nor what /sync spreads)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

SITE = "quan-cong-temple"
VI_TEXT = "Miếu Quan Công được dựng vào thế kỷ mười bảy. Người Hoa thờ Quan Vũ ở đây."


def _sync(client: Any, since: int | None = None) -> dict[str, Any]:
    url = "/api/v1/sync" + (f"?since={since}" if since is not None else "")
    return dict(client.get(url).get_json())


def _finish(job_id: int, stage: str, lang: str, event: str, **outcome: Any) -> None:
    from app.extensions import db
    from guides import jobs
    from guides.models import PipelineTask

    row = db.session.scalar(
        select(PipelineTask).where(
            PipelineTask.job_id == job_id, PipelineTask.stage == stage, PipelineTask.lang == lang
        )
    )
    task = jobs.claim_task(task_id=row.id, owner="test-worker", lease_s=30)
    assert task is not None, (stage, lang, row.state)
    jobs.finish_task(task, event, **outcome)
    db.session.flush()


def _fail_source(job_id: int) -> None:
    """The job's source step fails for good, as a worker records it (corrupt audio)."""
    message = "install argos-vi-en; translate (en) did not succeed"
    _finish(job_id, "source", "vi", "fail", reason="corrupt_audio", message=message)


def test_a_failed_job_changes_nothing_tourists_see_nor_sync(client: Any, auth: Any) -> None:
    editor = auth("editor")
    before = {
        lang: client.get(f"/api/v1/sites/{SITE}/guide?lang={lang}").get_json()
        for lang in ("vi", "en", "fr")
    }
    assert {doc["status"] for doc in before.values()} == {"unavailable"}
    site_before = client.get(f"/api/v1/sites/{SITE}?lang=en").get_json()["guide"]
    cursor = _sync(client)["cursor"]

    created = client.post(
        f"/api/v1/sites/{SITE}/narrations", json={"text": VI_TEXT}, headers=editor
    )
    assert created.status_code == 202, created.get_json()
    job_id = created.get_json()["id"]
    # Queued: nothing is public yet, and /sync has nothing to spread.
    assert client.get(f"/api/v1/sites/{SITE}/guide?lang=fr").get_json() == before["fr"]
    _fail_source(job_id)

    job = client.get(f"/api/v1/jobs/{job_id}", headers=editor).get_json()
    assert job["status"] == "failed" and job["error"]["reason"] == "corrupt_audio"
    for lang, document in before.items():
        after = client.get(f"/api/v1/sites/{SITE}/guide?lang={lang}").get_json()
        assert after == document, lang
        assert "argos" not in str(after) and "did not succeed" not in str(after)
    assert client.get(f"/api/v1/sites/{SITE}?lang=en").get_json()["guide"] == site_before
    delta = _sync(client, cursor)
    assert delta["guides"] == [] and delta["sites"] == [], delta


def test_jobs_are_listed_newest_first_and_filtered(client: Any, auth: Any) -> None:
    editor = auth("editor")
    first = client.post(
        f"/api/v1/sites/{SITE}/narrations",
        json={"text": VI_TEXT, "langs": ["vi", "en"]},
        headers=editor,
    ).get_json()["id"]
    second = client.post(
        "/api/v1/sites/tan-ky-old-house/narrations",
        json={"text": VI_TEXT, "langs": ["vi"]},
        headers=editor,
    ).get_json()["id"]
    _fail_source(first)

    everything = client.get("/api/v1/jobs?per_page=2", headers=editor).get_json()
    assert [job["id"] for job in everything["items"]] == [second, first]
    assert everything["per_page"] == 2 and everything["total"] >= 2
    assert everything["pages"] == -(-everything["total"] // 2)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/jobs?{query}", headers=editor)
        assert response.status_code == 200, response.get_json()
        return [job["id"] for job in response.get_json()["items"]]

    assert ids(f"site={SITE}")[0] == first and second not in ids(f"site={SITE}")
    assert first in ids("state=failed") and second not in ids("state=failed")
    assert second in ids("state=queued")
    assert first in ids("lang=en") and second not in ids("lang=en")
    assert ids("site=tan-ky-old-house&state=failed") == []

    bad_state = client.get("/api/v1/jobs?state=exploded", headers=editor)
    assert bad_state.status_code == 422 and "state" in str(bad_state.get_json()["errors"])
    assert client.get("/api/v1/jobs?lang=xx", headers=editor).status_code == 422
    assert client.get("/api/v1/jobs?page=0", headers=editor).status_code == 422
    missing = client.get("/api/v1/jobs?site=no-such-site", headers=editor)
    assert missing.status_code == 404 and missing.get_json()["reason"] == "site_not_found"
    assert client.get("/api/v1/jobs").status_code == 401


def test_a_narration_comes_with_its_drafts_per_language(client: Any, auth: Any) -> None:
    editor = auth("editor")
    job = client.post(
        f"/api/v1/sites/{SITE}/narrations",
        json={"text": VI_TEXT, "langs": ["vi", "en"]},
        headers=editor,
    ).get_json()
    narration_id = job["narration_id"]
    client.post(
        f"/api/v1/narrations/{narration_id}/translations/en",
        json={"text": "The temple was built in the seventeenth century."},
        headers=editor,
    )
    body = client.get(f"/api/v1/narrations/{narration_id}", headers=editor)
    assert body.status_code == 200, body.get_json()
    narration = body.get_json()
    assert narration["site"] == SITE and narration["source_kind"] == "text"
    assert narration["text"] == VI_TEXT
    vi, en, fr = (narration["languages"][code] for code in ("vi", "en", "fr"))
    assert (vi["state"], vi["provenance"], vi["approved"]) == ("approved", "human", True)
    assert en["text"].startswith("The temple") and en["provenance"] == "human"
    assert en["state"] == "approved"  # a translation written through the API is its writer's
    assert fr["state"] == "machine" and fr["text"] is None and fr["draft"] is None
    assert vi["guide_status"] == "unavailable" and vi["published"] is None

    missing = client.get("/api/v1/narrations/999999", headers=editor)
    assert missing.status_code == 404 and missing.get_json()["reason"] == "no_narration"
    assert (
        client.get(f"/api/v1/narrations/{narration_id}", headers=auth("finance")).status_code == 403
    )


def test_the_new_paths_are_documented_with_their_errors(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    jobs = spec["paths"]["/api/v1/jobs"]["get"]
    assert {"site", "state", "lang", "page", "per_page"} <= {p["name"] for p in jobs["parameters"]}
    assert {"401", "403", "404", "422"} <= set(jobs["responses"])
    narration = spec["paths"]["/api/v1/narrations/{narration_id}"]["get"]
    assert {"401", "403", "404"} <= set(narration["responses"])
    assert narration["security"] == [{"bearerAuth": []}]


def test_a_language_left_waiting_for_a_model_is_being_prepared_in_public_words(
    client: Any, auth: Any
) -> None:
    editor = auth("editor")
    job_id = client.post(
        f"/api/v1/sites/{SITE}/narrations",
        json={"text": VI_TEXT, "langs": ["vi", "en"]},
        headers=editor,
    ).get_json()["id"]
    _finish(job_id, "source", "vi", "succeed", result={})
    missing = {"reason": "model_missing", "message": "install argos-vi-en"}
    _finish(job_id, "translate", "en", "wait_model", **missing)
    assert client.get(f"/api/v1/sites/{SITE}/guide?lang=en").get_json()["status"] == "unavailable"
    _finish(job_id, "speech", "vi", "succeed", result={})

    job = client.get(f"/api/v1/jobs/{job_id}", headers=editor).get_json()
    assert job["status"] == "succeeded" and job["pending_languages"] == ["en"]
    assert job["languages"]["en"]["error"]["message"] == "install argos-vi-en"  # for staff
    public = client.get(f"/api/v1/sites/{SITE}/guide?lang=en").get_json()
    assert (public["status"], public["reason"]) == ("pending", "being prepared")
    assert "argos" not in str(public)
    assert "argos" not in str(client.get(f"/api/v1/sites/{SITE}?lang=en").get_json())
