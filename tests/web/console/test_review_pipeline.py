"""The console with the real speech stack (espeak-ng, ffmpeg, Whisper): a recording is decoded
before it is kept, a corrupt one is refused at once and nothing is kept; Whisper's transcript
of a kept one is corrected in the review editor beside the recording's player, which rebuilds
every language from the corrected words."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

from flask import Flask

from tests.guides.conftest import pipeline_app  # noqa: F401 - the app whose workers see commits
from tests.web.console.conftest import PASSWORD, Console, new_browser

SITE = "quan-cong-temple"
SPOKEN = "Miếu Quan Công được dựng vào thế kỷ mười bảy."


def _editor(app: Flask) -> Console:
    from app.auth import services
    from app.extensions import db

    services.create_user(email="lan.editor@hoian.test", password=PASSWORD, roles=["editor"])
    db.session.commit()
    browser = new_browser(app)
    assert browser.login("lan.editor@hoian.test").status_code == 302
    browser.get("/console/narrations")
    return browser


def _upload(browser: Console, data: bytes, name: str) -> Any:
    return browser.client.post(
        "/console/narrations/upload",
        data={
            "csrf_token": browser.token,
            "site": SITE,
            "langs": "vi",
            "audio": (io.BytesIO(data), name),
        },
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )


def test_a_recording_is_decoded_before_it_is_kept_and_its_transcript_corrected_while_it_plays(
    pipeline_app: Flask,  # noqa: F811
    tmp_path: Path,
) -> None:
    from app.extensions import db
    from guides import executor
    from guides.models import Narration, PipelineJob
    from guides.published import media_dir

    browser = _editor(pipeline_app)
    corrupt = _upload(browser, b"RIFF" + bytes(range(256)) * 40, "broken.wav")
    assert corrupt.status_code == 422, corrupt.get_json()
    assert corrupt.get_json()["message"]
    folder = media_dir() / "narrations"
    assert not folder.exists() or not any(folder.iterdir())  # nothing refused was kept

    wav = tmp_path / "spoken.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-s", "140", "-w", str(wav), SPOKEN], check=True)
    kept = _upload(browser, wav.read_bytes(), "spoken.wav")
    assert kept.status_code == 201, kept.get_json()
    job_id = kept.get_json()["job"]
    db.session.rollback()
    executor.run_job_here(job_id=job_id)
    db.session.rollback()
    job = db.session.get(PipelineJob, job_id)
    assert job.state == "succeeded", [(t.stage, t.state, t.error_message) for t in job.tasks]
    narration = db.session.get(Narration, job.narration_id)
    heard = narration.transcript_draft
    assert heard and narration.source_provenance == "machine"

    page = browser.get(f"/console/review/{narration.id}?lang=vi")
    assert page.status_code == 200
    assert "Whisper nghe được" in page.text and "Văn bản đã sửa" in page.text
    assert f"/console/narrations/{narration.id}/recording" in page.text
    assert 'id="review-state">đã xuất bản<' in page.text  # published at once (auto-publish)
    with browser.client.get(
        f"/console/narrations/{narration.id}/recording", headers={"Range": "bytes=0-99"}
    ) as audio:
        assert audio.status_code == 206 and audio.mimetype == "audio/wav"
        assert len(audio.get_data()) == 100

    saved = browser.post(f"/console/review/{narration.id}/vi/save", {"s": [SPOKEN], "p": ["1"]})
    assert saved.status_code == 303
    db.session.rollback()
    narration = db.session.get(Narration, narration.id)
    assert narration.text == SPOKEN and narration.transcript_draft == SPOKEN
    assert (narration.source_provenance, narration.source_reviewed) == ("human", False)
    rebuild = db.session.scalars(db.select(PipelineJob).order_by(PipelineJob.id.desc())).first()
    assert rebuild.kind == "translation" and rebuild.narration_id == narration.id
    assert "cần duyệt" in browser.get(saved.headers["Location"]).text
