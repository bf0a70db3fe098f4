"""Feedback from tourists: the API and the page's form, robots and links held back, the
language detected, limits per client."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from insights.models import Feedback

SITE = "cantonese-assembly-hall"


def _count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Feedback)) or 0)


def _post(client: FlaskClient, environ_base: dict[str, str] | None = None, **fields: Any) -> Any:
    body = {"rating": 4, "topic": "audio_guide", "site": SITE, "language": "en", **fields}
    return client.post("/api/v1/feedback", json=body, environ_base=environ_base or {})


def test_feedback_is_stored_with_its_language(client: FlaskClient, db: Any) -> None:
    answer = _post(
        client, comment="Bản thuyết minh rất hay, nhưng âm thanh hơi nhỏ.", language="vi"
    )
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["state"] == "open"
    item = db.session.get(Feedback, answer.get_json()["id"])
    assert (item.page_lang, item.detected_lang, item.channel) == ("vi", "vi", "app")


def test_a_comment_in_another_language_than_the_page_is_detected(
    client: FlaskClient, db: Any
) -> None:
    answer = _post(client, comment="Die Übersetzung des Textes ist leider falsch.", language="en")
    item = db.session.get(Feedback, answer.get_json()["id"])
    assert (item.page_lang, item.detected_lang) == ("en", "de")


def test_a_short_comment_has_no_detected_language(client: FlaskClient, db: Any) -> None:
    item = db.session.get(Feedback, _post(client, comment="ok!").get_json()["id"])
    assert item.detected_lang is None


@pytest.mark.parametrize(
    "comment",
    ["cheap pills at https://spam.example", "visit www.casino.test now", "win at spam.xyz"],
)
def test_links_are_held_for_moderation(client: FlaskClient, db: Any, comment: str) -> None:
    answer = _post(client, comment=comment)
    assert answer.status_code == 202
    assert answer.get_json()["state"] == "held"
    assert db.session.get(Feedback, answer.get_json()["id"]).held_reason == "link"


def test_the_honeypot_stores_nothing_and_says_nothing(client: FlaskClient, db: Any) -> None:
    answer = _post(client, website="http://bot.example")
    assert answer.status_code == 202
    assert answer.get_json() == {"id": None, "state": "open"}
    assert _count() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "five"}, "rating"),
        ({"topic": "food"}, "topic"),
        ({"language": "xx"}, "language"),
        ({"site": "no-such-site"}, "site"),
        ({"site": "../etc"}, "site"),
        ({"comment": "x" * 2001}, "comment"),
    ],
)
def test_bad_feedback_is_refused(
    client: FlaskClient, db: Any, fields: dict[str, Any], field: str
) -> None:
    answer = _post(client, **fields)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]
    assert _count() == 0


def test_a_flood_of_feedback_is_limited(
    app: Flask, client: FlaskClient, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "FEEDBACK_RATE_LIMIT", "3 per hour")
    me = {"REMOTE_ADDR": f"10.3.{secrets.randbelow(256)}.{secrets.randbelow(256)}"}
    statuses = [_post(client, environ_base=me).status_code for _ in range(5)]
    assert statuses == [202, 202, 202, 429, 429]
    assert client.get(f"/s/{SITE}?lang=en").status_code == 200


def test_the_page_has_a_form_that_works_without_javascript(client: FlaskClient, db: Any) -> None:
    page = client.get(f"/s/{SITE}?lang=fr").get_data(as_text=True)
    assert "Donnez-nous votre avis" in page
    action = re.search(r'<form method="post" action="([^"]+/feedback)"', page)
    assert action is not None
    sent = client.post(
        action.group(1),
        data={"lang": "fr", "rating": "5", "topic": "site", "comment": "<script>alert(1)</script>"},
    )
    assert sent.status_code == 200
    assert "Merci" in sent.get_data(as_text=True)
    item = db.session.scalars(select(Feedback)).one()
    assert (item.rating, item.topic, item.page_lang, item.channel) == (5, "site", "fr", "page")
    assert item.comment == "<script>alert(1)</script>"  # kept as written, escaped when shown


def test_the_form_refuses_a_missing_rating_in_the_page_language(
    client: FlaskClient, db: Any
) -> None:
    sent = client.post(f"/s/{SITE}/feedback", data={"lang": "de", "topic": "site"})
    assert sent.status_code == 422
    assert "Bewertung von 1 bis 5" in sent.get_data(as_text=True)
    assert _count() == 0


def test_the_form_honeypot_stores_nothing(client: FlaskClient, db: Any) -> None:
    sent = client.post(
        f"/s/{SITE}/feedback",
        data={"lang": "en", "rating": "5", "topic": "site", "website": "x"},
    )
    assert sent.status_code == 200
    assert _count() == 0
