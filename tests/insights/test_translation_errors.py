""" "Report a translation error": a tourist quotes a sentence of a guide's text (the API, or the
small form under the page's transcript, which works without JavaScript); it is stored as a
translation error with its site, language and sentence, and waits in the console's review
queue of that site and language, beside the sentence it quotes, until an editor marks it
handled with a note (audited, the feedback's state machine)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.audit import AuditLog
from insights.models import Feedback
from tests.web.console.conftest import Console

SITE = "quan-cong-temple"
VI_TEXT = (
    "Miếu Quan Công được dựng vào thế kỷ mười bảy. Người Hoa thờ Quan Vũ ở đây.\n\n"
    "Hai bên có tượng ngựa xích thố."
)
EN_TEXT = "The temple was built in the 17th century. The Chinese worship Guan Yu here.\n\nHorses."


def _count() -> int:
    from app.extensions import db

    return int(db.session.scalar(select(func.count()).select_from(Feedback)) or 0)


def _report(client: FlaskClient, **fields: Any) -> Any:
    body = {"topic": "translation_error", "site": SITE, "language": "en", **fields}
    return client.post("/api/v1/feedback", json=body)


def test_a_quoted_translation_error_needs_no_rating_and_keeps_its_sentence(
    client: FlaskClient, db: Any
) -> None:
    answer = _report(
        client,
        quote="  The Chinese worship Guan Yu here. ",
        guide_language="fr",
        comment="Guan Yu is not worshipped by everyone.",
    )
    assert answer.status_code == 202, answer.get_json()
    item = db.session.get(Feedback, answer.get_json()["id"])
    assert (item.topic, item.rating, item.quote) == (
        "translation_error",
        None,
        "The Chinese worship Guan Yu here.",
    )
    assert (item.guide_lang, item.page_lang, item.state) == ("fr", "en", "open")
    # Without guide_language, the report is about the page's language.
    plain = _report(client, quote="Horses.")
    assert db.session.get(Feedback, plain.get_json()["id"]).guide_lang == "en"
    # Other topics keep no quote nor guide language.
    rated = client.post(
        "/api/v1/feedback",
        json={"rating": 3, "topic": "site", "site": SITE, "language": "en", "quote": "x"},
    )
    other = db.session.get(Feedback, rated.get_json()["id"])
    assert (other.quote, other.guide_lang) == (None, None)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({}, "rating", "rating_required"),  # a translation error with nothing quoted
        ({"quote": "   "}, "rating", "rating_required"),
        ({"topic": "site", "quote": "A sentence."}, "rating", "rating_required"),
        ({"quote": "x" * 1001}, "quote", None),
        ({"quote": "A sentence.", "guide_language": "xx"}, "guide_language", None),
    ],
)
def test_bad_reports_are_refused_and_nothing_is_kept(
    client: FlaskClient, db: Any, fields: dict[str, Any], field: str, reason: str | None
) -> None:
    answer = _report(client, **fields)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]
    if reason:
        assert answer.get_json()["reason"] == reason
    assert _count() == 0


def test_the_transcript_form_reports_without_javascript(client: FlaskClient, db: Any) -> None:
    """The seed's narration of the Japanese bridge is the page's transcript while no guide is
    built: the report form under it posts the sentence, without a rating."""
    slug = "japanese-covered-bridge"
    page = client.get(f"/s/{slug}?lang=en").get_data(as_text=True)
    form = re.search(r'<details class="report" id="report-error">.*?</details>', page, re.S)
    assert form is not None, "the transcript has its report form"
    assert "Report a translation error" in form.group(0)
    assert 'name="topic" value="translation_error"' in form.group(0)
    guide_lang = re.search(r'name="guide_lang" value="([a-z]+)"', form.group(0))
    assert guide_lang is not None
    sent = client.post(
        f"/s/{slug}/feedback",
        data={
            "lang": "en",
            "topic": "translation_error",
            "guide_lang": guide_lang.group(1),
            "quote": "A sentence that is wrong.",
            "comment": "",
        },
    )
    assert sent.status_code == 200
    assert "an editor will look at this sentence" in sent.get_data(as_text=True)
    item = db.session.scalars(select(Feedback)).one()
    assert (item.rating, item.quote, item.guide_lang, item.channel) == (
        None,
        "A sentence that is wrong.",
        guide_lang.group(1),
        "page",
    )
    refused = client.post(
        f"/s/{slug}/feedback",
        data={"lang": "de", "topic": "translation_error", "quote": "  "},
    )
    assert refused.status_code == 422
    assert "falschen Satz" in refused.get_data(as_text=True)
    assert _count() == 1


def _narration(editor: Console, db: Any) -> int:
    """A Vietnamese narration of the temple with an English machine translation."""
    from guides import narrations
    from guides.models import NarrationText, PipelineJob

    editor.get("/console/narrations")
    posted = editor.post(
        "/console/narrations/text", {"site": SITE, "text": VI_TEXT, "langs": ["vi", "en"]}
    )
    job_id = int(posted.headers["Location"].rsplit("/", 1)[1])
    narration_id = int(db.session.get(PipelineJob, job_id).narration_id)
    narration = narrations.current_narration(narrations.site_by_slug(SITE))
    narration.texts.append(NarrationText(lang="en", text=EN_TEXT, provenance="machine"))
    db.session.flush()
    return narration_id


def test_reports_wait_in_the_review_queue_beside_their_sentence_until_handled(
    client: FlaskClient, db: Any, signed_in: Callable[..., Console]
) -> None:
    editor = signed_in("editor")
    narration_id = _narration(editor, db)
    beside = _report(client, quote="the chinese  worship Guan Yu here.", comment="Wrong name.")
    loose = _report(client, quote="A sentence this text no longer has.")
    _report(client, quote="Hai bên có tượng", guide_language="vi")
    held = _report(client, quote="Horses.", comment="see https://spam.example")
    assert held.get_json()["state"] == "held"  # a link: moderation first, not the queue
    beside_id, loose_id = beside.get_json()["id"], loose.get_json()["id"]

    queue = editor.get("/console/review")
    assert queue.status_code == 200
    assert "3 lỗi dịch do du khách báo" in queue.text
    assert "2 lỗi được báo" in queue.text and "1 lỗi được báo" in queue.text

    page = editor.get(f"/console/review/{narration_id}?lang=en")
    assert page.status_code == 200
    assert "Lỗi dịch do du khách báo" in page.text
    rows = re.findall(r"<tr>.*?</tr>", page.text, re.S)
    guan_yu = next(row for row in rows if "The Chinese worship Guan Yu here." in row)
    assert f'href="#report-{beside_id}"' in guan_yu  # beside the sentence it quotes
    assert f'id="report-{loose_id}"' in page.text and "không khớp câu nào" in page.text
    assert "spam.example" not in page.text

    handle = f"/console/review/{narration_id}/en/reports/{beside_id}/handle"
    empty = editor.post(handle, {"note": "  "})
    assert empty.status_code == 303
    assert db.session.get(Feedback, beside_id).state == "open"
    wrong_language = f"/console/review/{narration_id}/vi/reports/{beside_id}/handle"
    assert editor.post(wrong_language, {"note": "x"}).status_code == 404
    done = editor.post(handle, {"note": "Sửa bản dịch câu 2"})
    assert done.status_code == 303
    item = db.session.get(Feedback, beside_id)
    assert (item.state, item.handled_note) == ("handled", "Sửa bản dịch câu 2")
    assert item.handled_by_id == editor.user.id  # type: ignore[attr-defined]
    entry = db.session.scalar(
        select(AuditLog).where(
            AuditLog.action == "feedback.handle", AuditLog.object_id == str(beside_id)
        )
    )
    assert entry is not None and entry.changes["state"] == ["open", "handled"]
    assert editor.post(handle, {"note": "again"}).status_code == 409
    assert f'id="report-{beside_id}"' not in editor.get(done.headers["Location"]).text
    assert "2 lỗi dịch do du khách báo" in editor.get("/console/review").text

    for role in ("manager", "finance"):
        assert signed_in(role).post(handle, {"note": "x"}).status_code == 403
