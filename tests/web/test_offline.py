"""The city app downloads a pack over a dropping connection: it resumes with Range and checks
every file against the manifest. Audio files answer Range the same way."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from tests.web.conftest import Server

SITE = "fujian-assembly-hall"


def _resumed(server: Server, url: str, size: int) -> tuple[bytes, list[int]]:
    """Download in three pieces, as after two dropped connections; the statuses seen."""
    first = server.get(url, {"Range": f"bytes=0-{size // 3}"})
    assert first[0] == 206 and first[1]["content-range"] == f"bytes 0-{size // 3}/{size}"
    assert first[1]["accept-ranges"] == "bytes" and "immutable" in first[1]["cache-control"]
    etag = first[1]["etag"]
    body, statuses = first[2], [first[0]]
    for end in (2 * size // 3, size - 1):
        start = len(body)
        status, headers, part = server.get(url, {"Range": f"bytes={start}-{end}", "If-Range": etag})
        assert status == 206 and int(headers["content-length"]) == len(part) == end - start + 1
        body += part
        statuses.append(status)
    return body, statuses


def test_resumed_pack_download_matches_the_manifest(guide_server: Server) -> None:
    status, _, raw = guide_server.get(f"/api/v1/packs/sites/{SITE}?lang=fr")
    assert status == 200
    pack = json.loads(raw)
    audio = [f for f in pack["files"] if f["kind"] == "audio"]
    assert {f["mime"] for f in audio} == {"audio/ogg; codecs=opus", "audio/mp4"}
    assert any(f["kind"] == "captions" for f in pack["files"])

    body, statuses = _resumed(guide_server, pack["url"], pack["bytes"])
    assert statuses == [206, 206, 206]
    assert hashlib.sha256(body).hexdigest() == pack["sha256"]
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        for entry in pack["files"]:
            assert hashlib.sha256(zipped.read(entry["path"])).hexdigest() == entry["sha256"]

    # The app may also fetch one file alone, e.g. after a new recording of one language.
    track = audio[0]
    alone, _ = _resumed(guide_server, track["url"], track["bytes"])
    assert hashlib.sha256(alone).hexdigest() == track["sha256"]


def test_tour_pack_lists_pages_and_guides_for_the_service_worker(guide_server: Server) -> None:
    status, _, raw = guide_server.get("/api/v1/packs/tours/assembly-halls-walk?lang=fr")
    pack = json.loads(raw)
    assert status == 200 and f"/s/{SITE}?lang=fr" in pack["pages"]
    guide = next(f for f in pack["files"] if f["path"] == f"sites/{SITE}/guide.json")
    status, _, doc = guide_server.get(guide["url"])
    assert status == 200 and json.loads(doc)["lang"] == "fr"
