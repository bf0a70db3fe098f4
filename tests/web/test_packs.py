"""Offline packs: manifest, content-addressed zip and documents, Range, rebuilt only on change."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.app.test_shell import assert_error

SITE = "japanese-covered-bridge"
TOUR = "old-houses-and-bridge-walk"


@pytest.fixture
def media(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(app.config, "MEDIA_DIR", str(tmp_path))
    return tmp_path


def _manifest(client: Any, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def test_site_pack_files_match_their_manifest(client: Any, media: Path) -> None:
    pack = _manifest(client, f"/api/v1/packs/sites/{SITE}?lang=fr")
    assert (pack["kind"], pack["slug"], pack["lang"]) == ("site", SITE, "fr")
    assert {f["path"] for f in pack["files"]} >= {"site.json", "guide.json"}
    assert pack["pages"] == [f"/s/{SITE}?lang=fr"]
    with client.get(pack["url"]) as archive:
        zipped_bytes = archive.data
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    assert len(zipped_bytes) == pack["bytes"]
    assert hashlib.sha256(zipped_bytes).hexdigest() == pack["sha256"]
    with zipfile.ZipFile(io.BytesIO(zipped_bytes)) as zipped:
        for entry in pack["files"]:
            data = zipped.read(entry["path"])
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert len(data) == entry["bytes"]
            with client.get(entry["url"]) as alone:  # each file on its own URL as well
                assert hashlib.sha256(alone.data).hexdigest() == entry["sha256"]
        inside = json.loads(zipped.read("manifest.json"))
        assert inside["version"] == pack["version"] and inside["files"] == pack["files"]


def test_tour_pack_has_every_stop(client: Any, media: Path) -> None:
    tour = client.get(f"/api/v1/tours/{TOUR}").get_json()
    pack = _manifest(client, f"/api/v1/packs/tours/{TOUR}?lang=en")
    stops = [stop["site"]["slug"] for stop in tour["stops"]]
    assert pack["pages"] == [f"/s/{slug}?lang=en" for slug in stops]
    paths = {f["path"] for f in pack["files"]}
    assert "tour.json" in paths
    assert all(f"sites/{slug}/site.json" in paths for slug in stops)


def test_packs_are_rebuilt_only_when_something_in_them_changed(
    client: Any, auth: Any, media: Path
) -> None:
    first = _manifest(client, f"/api/v1/packs/sites/{SITE}?lang=en")
    built = media / "packs" / f"{first['version']}.zip"
    stamp = built.stat().st_mtime_ns
    assert _manifest(client, f"/api/v1/packs/sites/{SITE}?lang=en")["version"] == first["version"]
    assert built.stat().st_mtime_ns == stamp  # not rebuilt

    etag = client.get(f"/api/v1/sites/{SITE}").headers["ETag"]
    client.patch(
        f"/api/v1/sites/{SITE}",
        json={"texts": {"en": {"summary": "Built in the 1590s by Japanese merchants."}}},
        headers={**auth("editor"), "If-Match": etag},
    )
    changed = _manifest(client, f"/api/v1/packs/sites/{SITE}?lang=en")
    assert changed["version"] != first["version"]
    assert {f["path"]: f["sha256"] for f in changed["files"]}["guide.json"] == {
        f["path"]: f["sha256"] for f in first["files"]
    }["guide.json"]


def _get(client: Any, url: str, **headers: str) -> Any:
    with client.get(url, headers=headers) as response:
        response.get_data()
        return response


def test_pack_zip_answers_range_requests(client: Any, media: Path) -> None:
    pack = _manifest(client, f"/api/v1/packs/sites/{SITE}?lang=vi")
    part = _get(client, pack["url"], Range="bytes=0-99")
    assert part.status_code == 206 and len(part.data) == 100
    assert part.headers["Content-Range"] == f"bytes 0-99/{pack['bytes']}"
    assert part.headers["Content-Length"] == "100"
    assert part.headers["Accept-Ranges"] == "bytes"
    assert part.headers["ETag"] == f'"{pack["sha256"]}"'
    assert "immutable" in part.headers["Cache-Control"]
    rest = _get(client, pack["url"], Range="bytes=100-", **{"If-Range": part.headers["ETag"]})
    assert rest.status_code == 206
    assert hashlib.sha256(part.data + rest.data).hexdigest() == pack["sha256"]
    stale = _get(client, pack["url"], Range="bytes=100-", **{"If-Range": '"other"'})
    assert stale.status_code == 200 and len(stale.data) == pack["bytes"]
    beyond = _get(client, pack["url"], Range=f"bytes={pack['bytes'] + 10}-")
    assert beyond.status_code == 416


def test_unknown_packs_and_blobs_are_404(client: Any, media: Path) -> None:
    assert_error(client.get("/api/v1/packs/" + "0" * 32 + ".zip"), 404)
    assert_error(client.get("/api/v1/packs/not-a-version.zip"), 404)
    assert_error(client.get("/api/v1/packs/blobs/" + "0" * 64 + ".json"), 404)
    assert_error(client.get("/api/v1/packs/sites/nowhere?lang=en"), 404)
    assert_error(client.get(f"/api/v1/packs/tours/{SITE}?lang=en"), 404)
    assert_error(client.get(f"/api/v1/packs/sites/{SITE}?lang=xx"), 422)
