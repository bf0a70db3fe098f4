"""Narrations, jobs and review in the console over HTTP: each page and form for editors, the
refusals of bad input, and the review states, without running the speech stack (the browser
test and tests/guides run it)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from guides import review
from tests.web.console.conftest import Console

SITE = "quan-cong-temple"
VI_TEXT = (
    "Miếu Quan Công được dựng vào thế kỷ mười bảy. Người Hoa thờ Quan Vũ ở đây.\n\n"
    "Hai bên có tượng ngựa xích thố."
)


def _post_text(editor: Console, text: str = VI_TEXT, **form: Any) -> Any:
    editor.get("/console/narrations")
    return editor.post("/console/narrations/text", {"site": SITE, "text": text, **form})


def test_a_pasted_text_starts_a_job_whose_page_and_json_follow_it(
    signed_in: Callable[..., Console],
) -> None:
    editor = signed_in("editor")
    page = editor.get("/console/narrations")
    assert page.status_code == 200 and "Tải lên bản ghi âm" in page.text
    assert "tối đa 50 MB" in page.text  # the limits, before any upload
    created = _post_text(editor, langs=["vi", "en"])
    assert created.status_code == 303, created.text
    job_url = created.headers["Location"]
    job_id = int(job_url.rsplit("/", 1)[1])
    job = editor.get(job_url)
    assert job.status_code == 200 and f"#{job_id}" in job.text
    assert "Kiểm tra văn bản hoặc chép lời bản ghi âm" in job.text
    live = editor.get(f"/console/jobs/{job_id}.json").get_json()
    assert live["status"] == "queued" and live["final"] is False
    assert [(s["stage"], s["lang"]) for s in live["stages"]] == [
        ("source", "vi"),
        ("speech", "vi"),
        ("translate", "en"),
        ("speech", "en"),
    ]
    assert live["stages"][0]["state_words"] == "đang chờ"
    assert editor.get("/console/jobs/999999").status_code == 404


def test_a_failed_job_says_why_in_words_and_retry_makes_a_new_job(
    signed_in: Callable[..., Console], db: Any
) -> None:
    from guides import jobs
    from guides.models import PipelineJob, PipelineTask

    editor = signed_in("editor")
    job_id = int(_post_text(editor, langs=["vi"]).headers["Location"].rsplit("/", 1)[1])
    source = db.session.scalar(
        select(PipelineTask).where(PipelineTask.job_id == job_id, PipelineTask.stage == "source")
    )
    task = jobs.claim_task(task_id=source.id, owner="test", lease_s=30)
    jobs.finish_task(task, "fail", reason="silent_audio", message="the recording is silent")
    db.session.flush()
    live = editor.get(f"/console/jobs/{job_id}.json").get_json()
    assert live["status"] == "failed" and live["final"] is True
    assert live["words"].startswith("Bản ghi âm không có tiếng")
    page = editor.get(f"/console/jobs/{job_id}")
    assert "Bản ghi âm không có tiếng" in page.text and "Thử lại" in page.text
    again = editor.post(f"/console/jobs/{job_id}/retry")
    assert again.status_code == 303
    new_id = int(again.headers["Location"].rsplit("/", 1)[1])
    assert new_id != job_id
    assert (
        db.session.get(PipelineJob, new_id).narration_id
        == db.session.get(PipelineJob, job_id).narration_id
    )


def test_bad_narrations_are_refused_with_a_message_and_nothing_kept(
    app: Any, signed_in: Callable[..., Console], db: Any
) -> None:
    from guides.models import Narration

    editor = signed_in("editor")
    before = db.session.scalar(select(db.func.count()).select_from(Narration))
    empty = _post_text(editor, "   ")
    assert empty.status_code == 422 and "Hãy viết hoặc dán văn bản thuyết minh" in empty.text
    huge = _post_text(editor, "Chùa Cầu. " * 3000)
    assert huge.status_code == 422 and "giới hạn là 20000" in huge.text
    no_site = editor.post("/console/narrations/text", {"site": "nowhere", "text": VI_TEXT})
    assert no_site.status_code == 422 and "Hãy chọn điểm tham quan" in no_site.text
    bad_lang = _post_text(editor, langs=["xx"])
    assert bad_lang.status_code == 422
    fifty_mb = editor.client.post(
        "/console/narrations/text",
        data={"csrf_token": editor.token, "site": SITE, "text": "a" * (50 * 1024 * 1024)},
    )
    assert fifty_mb.status_code == 422 and "giới hạn là 20000" in fifty_mb.text

    def upload(data: bytes, name: str) -> Any:
        return editor.client.post(
            "/console/narrations/upload",
            data={"csrf_token": editor.token, "site": SITE, "audio": (io.BytesIO(data), name)},
            headers={"Accept": "application/json"},
            content_type="multipart/form-data",
        )

    wrong = upload(b"hello", "notes.txt")
    assert wrong.status_code == 422 and "Không nhận loại tệp này" in wrong.get_json()["message"]
    app.config["PIPELINE_MAX_UPLOAD_MB"] = 0.001
    try:
        big = upload(b"\0" * 5000, "big.wav")
    finally:
        app.config["PIPELINE_MAX_UPLOAD_MB"] = 50.0
    assert big.status_code == 413 and "MB" in big.get_json()["message"]
    missing = editor.client.post(
        "/console/narrations/upload",
        data={"csrf_token": editor.token, "site": SITE},
        headers={"Accept": "application/json"},
    )
    assert missing.status_code == 422
    no_token = editor.client.post(
        "/console/narrations/upload",
        data={"site": SITE, "audio": (io.BytesIO(b"RIFF"), "a.wav")},
        content_type="multipart/form-data",
    )
    assert no_token.status_code == 400
    assert db.session.scalar(select(db.func.count()).select_from(Narration)) == before


def test_review_states_move_from_machine_to_published(
    signed_in: Callable[..., Console], db: Any
) -> None:
    """A machine translation is `machine`; a person's saved one `needs review`, which also
    rebuilds that language; approved is `approved`; the list shows each language's state."""
    from guides import narrations
    from guides.models import JobState, NarrationText, PipelineJob

    editor = signed_in("editor")
    job_id = int(_post_text(editor, langs=["vi", "en"]).headers["Location"].rsplit("/", 1)[1])
    narration_id = db.session.get(PipelineJob, job_id).narration_id
    narration = narrations.current_narration(narrations.site_by_slug(SITE))
    narration.texts.append(
        NarrationText(lang="en", text="The temple. It is old.\n\nHorses.", provenance="machine")
    )
    db.session.flush()

    page = editor.get(f"/console/review/{narration_id}?lang=en")
    assert page.status_code == 200
    assert "Bản dịch máy" in page.text and "Bản dịch của người" in page.text
    assert page.text.count('name="s"') == 3  # three source sentences, side by side
    assert 'id="review-state">máy<' in page.text

    saved = editor.post(
        f"/console/review/{narration_id}/en/save",
        {
            "s": ["The Quan Cong temple.", "The Chinese worship Guan Yu here.", "Red horses."],
            "p": ["1", "0", "1"],
        },
    )
    assert saved.status_code == 303
    row = next(t for t in narration.texts if t.lang == "en")
    db.session.refresh(row)
    assert row.text == "The Quan Cong temple. The Chinese worship Guan Yu here.\n\nRed horses."
    assert (row.provenance, row.reviewed) == ("human", False)
    rebuild = db.session.scalars(
        select(PipelineJob)
        .where(PipelineJob.narration_id == narration_id)
        .order_by(PipelineJob.id.desc())
    ).first()
    assert rebuild.kind == "translation" and rebuild.langs == ["en"]
    assert rebuild.state == JobState.QUEUED.value
    assert 'id="review-state">cần duyệt<' in editor.get(saved.headers["Location"]).text

    empty = editor.post(f"/console/review/{narration_id}/en/save", {"s": ["  "], "p": ["1"]})
    assert empty.status_code == 422 and "Bản dịch trống" in empty.text

    approved = editor.post(f"/console/review/{narration_id}/en/approve")
    assert approved.status_code == 303
    assert 'id="review-state">đã duyệt<' in editor.get(approved.headers["Location"]).text
    nothing = editor.post(f"/console/review/{narration_id}/fr/approve")
    assert "chưa có nội dung để duyệt" in editor.get(nothing.headers["Location"]).text
    not_built = editor.post(f"/console/review/{narration_id}/en/publish")
    assert "Chưa có bản thuyết minh nào chờ" in editor.get(not_built.headers["Location"]).text
    none_waiting = editor.post(f"/console/review/{narration_id}/publish")
    assert "Không có ngôn ngữ đã duyệt nào" in editor.get(none_waiting.headers["Location"]).text

    listing = editor.get("/console/review")
    assert listing.status_code == 200 and "đã duyệt" in listing.text
    assert editor.get("/console/review/999999").status_code == 404


def test_the_review_queue_filters_by_state_and_language_and_pages(
    signed_in: Callable[..., Console], db: Any, monkeypatch: Any
) -> None:
    """The queue is kept to the sites with a language in the asked state (in the asked
    language), each state's count is over the whole queue, and it comes a page at a time."""
    from guides import narrations
    from guides.models import NarrationText
    from web.console import review as review_pages

    editor = signed_in("editor")
    for slug in (SITE, "japanese-covered-bridge"):
        editor.get("/console/narrations")
        editor.post("/console/narrations/text", {"site": slug, "text": VI_TEXT, "langs": ["vi"]})
    narration = narrations.current_narration(narrations.site_by_slug(SITE))
    narration.texts.append(NarrationText(lang="en", text="The temple.", provenance="human"))
    db.session.flush()

    listing = editor.get("/console/review?state=needs_review&lang=en")
    assert listing.status_code == 200
    assert f"/console/review/{narration.id}?lang=en" in listing.text
    assert listing.text.count('class="badge state-') == len(review.served_languages(narration))
    assert "cần duyệt (1)" in listing.text  # one site waits for review in English
    approved = editor.get("/console/review?state=approved&lang=en").text
    assert f"/console/review/{narration.id}?" not in approved
    assert editor.get("/console/review?state=nonsense&lang=xx&page=-3").status_code == 200

    monkeypatch.setattr(review_pages, "PER_PAGE", 1)
    first, second = editor.get("/console/review").text, editor.get("/console/review?page=2").text
    pages = int(re.search(r"Trang 1 / (\d+)", first).group(1))  # type: ignore[union-attr]
    assert pages >= 2 and "page=2" in first and "Trang 2 / " in second
    assert first.count('class="badge state-') < second.count("<tr>") * 10  # one site a page
    past_the_end = editor.get("/console/review?page=999")
    assert past_the_end.status_code == 200 and f"Trang {pages} / {pages}" in past_the_end.text


def test_only_editors_open_narrations_and_review(signed_in: Callable[..., Console]) -> None:
    for path in ("/console/narrations", "/console/review", "/console/jobs/1"):
        assert signed_in("finance").get(path).status_code == 403
        assert signed_in("inspector").get(path).status_code == 403
    menu = signed_in("editor").get("/console/").text
    assert "/console/narrations" in menu and "/console/review" in menu
    assert "/console/narrations" not in signed_in("finance").get("/console/").text


def test_the_glossary_lists_the_towns_names_and_staff_add_and_remove_their_own(
    signed_in: Callable[..., Console], db: Any
) -> None:
    from guides import narrations, stages
    from guides.models import GlossaryTerm

    editor = signed_in("editor")
    page = editor.get("/console/glossary")
    assert page.status_code == 200 and "Japanese Covered Bridge" in page.text  # the seed's
    added = editor.post(
        "/console/glossary",
        {"site": SITE, "form-vi": "Xích Thố", "form-en": "Red Hare", "variants": "en: Xich Tho"},
    )
    assert added.status_code == 303, added.text
    term = db.session.scalars(select(GlossaryTerm).order_by(GlossaryTerm.id.desc())).first()
    assert (term.forms, term.variants) == (
        {"vi": "Xích Thố", "en": "Red Hare"},
        {"en": ["Xich Tho"]},
    )
    shown = editor.get(f"/console/glossary?site={SITE}")
    assert "Red Hare" in shown.text and "Xich Tho" in shown.text
    # The pipeline's glossary for the site now has the name, for Whisper and translation.
    site_id = narrations.site_by_slug(SITE).id
    assert "Red Hare" in stages.site_glossary(site_id).forms("en")
    assert "Red Hare" not in stages.site_glossary(
        narrations.site_by_slug("tan-ky-old-house").id
    ).forms("en")

    empty = editor.post("/console/glossary", {"site": "", "form-vi": "  "})
    assert empty.status_code == 422 and "Hãy viết tên bằng ít nhất một ngôn ngữ" in empty.text
    bad_line = editor.post("/console/glossary", {"form-vi": "Hội An", "variants": "Hoi An"})
    assert bad_line.status_code == 422 and "en: Hoi An, Hoian" in bad_line.text
    bad_lang = editor.post("/console/glossary", {"form-xx": "Hội An"})
    assert bad_lang.status_code == 422 and "xx" in bad_lang.text
    too_long = editor.post("/console/glossary", {"form-vi": "a" * 200})
    assert too_long.status_code == 422
    no_site = editor.post("/console/glossary", {"site": "nowhere", "form-vi": "Hội An"})
    assert no_site.status_code == 422
    assert editor.get("/console/glossary?site=nowhere").status_code == 404

    term_id = term.id
    removed = editor.post(f"/console/glossary/{term_id}/delete", {"site": SITE})
    db.session.expire_all()
    assert removed.status_code == 303
    assert db.session.scalar(select(GlossaryTerm).where(GlossaryTerm.id == term_id)) is None
    assert editor.post(f"/console/glossary/{term_id}/delete").status_code == 404


def test_models_and_languages_shows_what_is_missing_and_how_to_install_it(
    signed_in: Callable[..., Console],
) -> None:
    page = signed_in("admin").get("/console/models")
    assert page.status_code == 200
    assert "flask models download --recommended" in page.text
    assert "flask models download argos-vi-en" in page.text  # no Argos model on a test machine
    assert "espeak" in page.text
    # A non-commercial voice is installed only where the operator opts in.
    assert "HOIAN_ALLOW_NONCOMMERCIAL_MODELS=1 flask models download coqui-xtts-v2" in page.text
    assert signed_in("editor").get("/console/models").status_code == 403
