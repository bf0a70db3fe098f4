"""Delta sync: every change since a cursor (and tombstones), written by the session itself."""

from __future__ import annotations

from typing import Any

from app.extensions import db as _db
from content.models import Site
from guides.models import Guide
from tests.app.test_shell import assert_error

SITE = "tan-ky-old-house"


def _sync(client: Any, since: int | None = None, **headers: str) -> dict[str, Any]:
    url = "/api/v1/sync" + (f"?since={since}" if since is not None else "")
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def _edit(client: Any, auth: Any, body: dict[str, Any]) -> None:
    etag = client.get(f"/api/v1/sites/{SITE}").headers["ETag"]
    response = client.patch(
        f"/api/v1/sites/{SITE}", json=body, headers={**auth("editor"), "If-Match": etag}
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_first_sync_is_a_snapshot_and_then_nothing_changed(client: Any) -> None:
    first = _sync(client, **{"Accept-Language": "vi"})
    assert first["full"] is True and first["lang"] == "vi" and first["deleted"] == []
    assert len(first["sites"]) >= 22 and len(first["tours"]) >= 2
    assert {site["lang"] for site in first["sites"]} == {"vi"}
    again = _sync(client, first["cursor"])
    assert again["full"] is False and again["cursor"] == first["cursor"]
    assert again["sites"] == again["tours"] == again["guides"] == again["deleted"] == []


def test_an_edit_comes_once_with_a_new_cursor(client: Any, auth: Any) -> None:
    cursor = _sync(client)["cursor"]
    _edit(client, auth, {"texts": {"en": {"summary": "A merchant's house, two centuries old."}}})
    delta = _sync(client, cursor)
    assert delta["full"] is False and delta["cursor"] > cursor
    assert [site["slug"] for site in delta["sites"]] == [SITE]
    assert delta["sites"][0]["summary"] == "A merchant's house, two centuries old."
    assert _sync(client, delta["cursor"])["sites"] == []


def test_unpublishing_is_a_tombstone_and_publishing_brings_it_back(client: Any, auth: Any) -> None:
    cursor = _sync(client)["cursor"]
    _edit(client, auth, {"published": False})
    delta = _sync(client, cursor)
    assert delta["sites"] == [] and {"type": "site", "slug": SITE} in delta["deleted"]
    assert SITE not in {site["slug"] for site in _sync(client)["sites"]}  # snapshot agrees

    site = _db.session.query(Site).filter_by(slug=SITE).one()
    site.published = True
    _db.session.commit()
    back = _sync(client, delta["cursor"])
    assert [s["slug"] for s in back["sites"]] == [SITE] and back["deleted"] == []


def test_guide_changes_are_synced_per_language(client: Any, db: Any) -> None:
    cursor = _sync(client)["cursor"]
    site = db.session.query(Site).filter_by(slug=SITE).one()
    guide = Guide(site_id=site.id, lang="ko", status="pending", reason="waiting for a model")
    db.session.add(guide)
    db.session.commit()  # one transaction, one sequence number
    delta = _sync(client, cursor)
    [doc] = delta["guides"]
    assert (doc["site"], doc["requested_lang"], doc["status"]) == (SITE, "ko", "pending")
    assert [s["slug"] for s in delta["sites"]] == [SITE]  # its guide summary moved too

    db.session.delete(guide)
    db.session.commit()
    gone = _sync(client, delta["cursor"])
    assert {"type": "guide", "site": SITE, "lang": "ko"} in gone["deleted"]


def test_cursor_from_the_future_gives_a_snapshot_and_bad_ones_are_422(client: Any) -> None:
    assert _sync(client, 10**9)["full"] is True
    assert_error(client.get("/api/v1/sync?since=-1"), 422)
    assert_error(client.get("/api/v1/sync?since=abc"), 422)
    assert_error(client.get("/api/v1/sync?lang=xx"), 422, "unknown_language")


def test_sync_answers_if_none_match_with_304(client: Any) -> None:
    first = client.get("/api/v1/sync")
    again = client.get("/api/v1/sync", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_pruned_log_sends_older_cursors_a_snapshot(client: Any, auth: Any, app: Any) -> None:
    before = _sync(client)["cursor"]
    _edit(client, auth, {"texts": {"en": {"summary": "Two centuries of one family."}}})
    recent = _sync(client, before)["cursor"]
    # Everything up to now is "old": the CLI forgets it, whole transactions at a time.
    result = app.test_cli_runner().invoke(args=["content", "prune-sync", "--older-than-days", "1"])
    assert result.exit_code == 0 and "removed" in result.output
    with app.app_context():
        from datetime import timedelta

        from web import sync

        assert sync.prune(older_than=timedelta(days=-1)) > 0  # and now the rest of it
        _db.session.commit()
    assert _sync(client, before)["full"] is True  # cannot be answered from the log any more
    up_to_date = _sync(client, recent)
    assert up_to_date["full"] is False and up_to_date["sites"] == []
    _edit(client, auth, {"texts": {"en": {"summary": "A merchant's house."}}})
    assert [site["slug"] for site in _sync(client, recent)["sites"]] == [SITE]
    bad = app.test_cli_runner().invoke(args=["content", "prune-sync", "--older-than-days", "0"])
    assert bad.exit_code != 0 and "0" in bad.output
