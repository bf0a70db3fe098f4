"""Feedback in the console: editors see it with its language and mark it handled (audited);
managers read it and cannot change it; other roles do not see it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from app.audit import AuditLog
from insights.models import Feedback
from tests.web.console.conftest import Console

SITE = "cantonese-assembly-hall"


def _leave(client: FlaskClient, comment: str, **extra: Any) -> int:
    body = {"rating": 2, "topic": "translation_error", "site": SITE, "language": "en"}
    answer = client.post("/api/v1/feedback", json={**body, "comment": comment, **extra})
    assert answer.status_code == 202
    return int(answer.get_json()["id"])


def test_an_editor_marks_feedback_handled_with_a_note(
    client: FlaskClient, db: Any, signed_in: Callable[..., Console]
) -> None:
    item_id = _leave(client, "La traduction du deuxième paragraphe est fausse. <b>bold</b>")
    editor = signed_in("editor")
    page = editor.get("/console/feedback")
    assert page.status_code == 200
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold</b>" not in page.text
    assert 'lang="fr"' in page.text and "Ngôn ngữ nhận diện" in page.text
    refused = editor.post(f"/console/feedback/{item_id}/handle", {"note": "  "})
    assert refused.status_code == 422
    done = editor.post(f"/console/feedback/{item_id}/handle", {"note": "Sửa bản dịch"})
    assert done.status_code == 302
    item = db.session.get(Feedback, item_id)
    assert (item.state, item.handled_note) == ("handled", "Sửa bản dịch")
    assert item.handled_by_id == editor.user.id  # type: ignore[attr-defined]
    entry = db.session.scalar(
        select(AuditLog).where(
            AuditLog.action == "feedback.handle", AuditLog.object_id == str(item_id)
        )
    )
    assert entry is not None and entry.changes["state"] == ["open", "handled"]
    again = editor.post(f"/console/feedback/{item_id}/handle", {"note": "twice"})
    assert again.status_code == 409


def test_a_held_comment_is_released_by_an_editor(
    client: FlaskClient, db: Any, signed_in: Callable[..., Console]
) -> None:
    item_id = _leave(client, "see https://example.com for the right words")
    editor = signed_in("editor")
    assert "example.com" not in editor.get("/console/feedback").text  # held: not open
    assert "example.com" in editor.get("/console/feedback?state=held").text
    assert editor.post(f"/console/feedback/{item_id}/release").status_code == 302
    assert db.session.get(Feedback, item_id).state == "open"


def test_a_manager_reads_feedback_but_cannot_change_it(
    client: FlaskClient, db: Any, signed_in: Callable[..., Console]
) -> None:
    item_id = _leave(client, "The audio guide was too quiet in the hall.")
    manager = signed_in("manager")
    page = manager.get("/console/feedback")
    assert page.status_code == 200 and "too quiet" in page.text
    assert "Đánh dấu đã xử lý" not in page.text
    assert manager.post(f"/console/feedback/{item_id}/handle", {"note": "x"}).status_code == 403
    for role in ("inspector", "finance"):
        assert signed_in(role).get("/console/feedback").status_code == 403
