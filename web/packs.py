"""Offline packs: one zip per site or tour and language, with a manifest the app resumes and
verifies a download by (every file's path, URL, size, sha256 and version).

A pack's `version` is a digest of what is in it (every file's path and sha256), so asking for a
pack costs a few JSON renders and no zip work while nothing changed; the zip is built once per
version, written to a temporary name and renamed into place, and served at a URL named by that
version, which therefore never changes meaning and is cached for a year. The JSON documents in
a pack are also kept one by one, content-addressed, so the app can fetch a single changed file.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, url_for

from content import presenters
from content import services as catalogue
from content.models import Site, Tour
from content.panoramas import file_path as panorama_file
from content.panoramas import panorama_view, site_panoramas
from guides.published import guide_document, published_files

PACK_FORMAT = 1
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same files always make the same zip


@dataclass(frozen=True, slots=True)
class PackEntry:
    """One file of a pack: its bytes in memory (a document) or its place on disk (media)."""

    path: str  # inside the zip
    url: str
    sha256: str
    bytes: int
    mime: str
    kind: str  # "document", "audio", "captions", "panorama" or "still"
    version: str
    data: builtins.bytes | None = None
    source: Path | None = None

    def manifest(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "url": self.url,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "mime": self.mime,
            "kind": self.kind,
            "version": self.version,
        }


def packs_dir() -> Path:
    return Path(current_app.config["MEDIA_DIR"]) / "packs"


def blob_path(sha256: str) -> Path:
    return packs_dir() / "blobs" / f"{sha256}.json"


def zip_path(version: str) -> Path:
    return packs_dir() / f"{version}.zip"


def _document(path: str, body: Any, version: str) -> PackEntry:
    data = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode()
    sha = hashlib.sha256(data).hexdigest()
    return PackEntry(
        path=path,
        url=url_for("web_api.pack_blob", sha256=sha),
        sha256=sha,
        bytes=len(data),
        mime="application/json",
        kind="document",
        version=version,
        data=data,
    )


def _site_entries(site: Site, lang: str, prefix: str) -> list[PackEntry]:
    detail = presenters.site_detail(site, lang)
    guide = guide_document(site, requested=lang)
    guide_version = f"{guide['lang']}:{guide.get('published_at') or 'none'}"
    entries = [
        _document(f"{prefix}site.json", detail, f"site-{site.version}"),
        _document(f"{prefix}guide.json", guide, guide_version),
    ]
    if guide["status"] == "ready":
        entries += [
            PackEntry(
                path=f"media/{f.sha256}{f.path.suffix}",
                url=f.url,
                sha256=f.sha256,
                bytes=f.bytes,
                mime=f.mime,
                kind=f.kind,
                version=guide_version,
                source=f.path,
            )
            for f in published_files(site, guide["lang"])
        ]
    for row in site_panoramas(site):
        view = panorama_view(row, lang)
        for part, kind, path in (
            (view, "panorama", panorama_file(row.sha256)),
            (view["still"], "still", panorama_file(row.sha256, still=True)),
        ):
            entries.append(
                PackEntry(
                    path=f"media/panoramas/{part['url'].rsplit('/', 1)[-1]}",
                    url=part["url"],
                    sha256=part["sha256"],
                    bytes=part["bytes"],
                    mime="image/jpeg",
                    kind=kind,
                    version=f"panorama-{row.sha256[:12]}",
                    source=path,
                )
            )
    return entries


def _page(slug: str, lang: str) -> str:
    return f"/s/{slug}?lang={lang}"


def site_pack(*, slug: str, lang: str) -> dict[str, Any]:
    """The manifest of a site's pack in `lang` (the zip is built when its content changed)."""
    site = catalogue.get_site(slug=slug)
    return _manifest(
        kind="site",
        slug=slug,
        lang=lang,
        entries=_site_entries(site, lang, ""),
        pages=[_page(slug, lang)],
    )


def tour_pack(*, slug: str, lang: str) -> dict[str, Any]:
    """The manifest of a tour's pack: the tour and, for every stop, its site and guide."""
    tour: Tour = catalogue.get_tour(slug=slug)
    entries = [
        _document(
            "tour.json", presenters.tour_view(tour, lang, with_stops=True), f"tour-{tour.version}"
        )
    ]
    seen: set[str] = set()
    for stop in tour.stops:
        if not stop.site.published:
            continue
        for entry in _site_entries(stop.site, lang, f"sites/{stop.site.slug}/"):
            if entry.path not in seen:  # two stops may share a recording
                seen.add(entry.path)
                entries.append(entry)
    pages = [_page(stop.site.slug, lang) for stop in tour.stops if stop.site.published]
    return _manifest(kind="tour", slug=slug, lang=lang, entries=entries, pages=pages)


def _manifest(
    *, kind: str, slug: str, lang: str, entries: list[PackEntry], pages: list[str]
) -> dict[str, Any]:
    files = [entry.manifest() for entry in entries]
    key = json.dumps([PACK_FORMAT, kind, slug, lang, [(e.path, e.sha256) for e in entries]])
    version = hashlib.sha256(key.encode()).hexdigest()[:32]
    head = {"format": PACK_FORMAT, "kind": kind, "slug": slug, "lang": lang, "version": version}
    archive = _ensure_zip(version, entries, {**head, "files": files, "pages": pages})
    return {
        **head,
        "url": url_for("web_api.pack_zip", version=version),
        "bytes": archive["bytes"],
        "sha256": archive["sha256"],
        "files": files,
        "pages": pages,
    }


def write_atomically(path: Path, write: Any) -> None:
    """Write a file under a temporary name and rename it into place: never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def zip_facts(version: str) -> dict[str, Any] | None:
    """The size and sha256 of a built pack's zip, or None when it was never built."""
    info = zip_path(version).with_suffix(".json")
    if not (info.is_file() and zip_path(version).is_file()):
        return None
    return dict(json.loads(info.read_text()))


def _ensure_zip(version: str, entries: list[PackEntry], manifest: dict[str, Any]) -> dict[str, Any]:
    """The zip of this version (built now if missing) and its size and sha256."""
    known = zip_facts(version)
    if known is not None:
        return known
    target = zip_path(version)
    for entry in entries:
        if entry.data is not None and not blob_path(entry.sha256).is_file():
            write_atomically(blob_path(entry.sha256), lambda out, d=entry.data: out.write(d))

    def write(out: Any) -> None:
        with zipfile.ZipFile(out, "w") as archive:
            for entry in [*entries, _document("manifest.json", manifest, version)]:
                item = zipfile.ZipInfo(entry.path, date_time=_ZIP_DATE)
                item.external_attr = 0o644 << 16
                # Audio is compressed already; documents shrink a lot.
                item.compress_type = (
                    zipfile.ZIP_DEFLATED if entry.kind == "document" else zipfile.ZIP_STORED
                )
                if entry.data is not None:
                    archive.writestr(item, entry.data)
                else:
                    assert entry.source is not None
                    with entry.source.open("rb") as src, archive.open(item, "w") as dst:
                        while chunk := src.read(1 << 16):
                            dst.write(chunk)

    write_atomically(target, write)
    digest = hashlib.sha256()
    with target.open("rb") as built:
        while chunk := built.read(1 << 16):
            digest.update(chunk)
    facts = {"bytes": target.stat().st_size, "sha256": digest.hexdigest()}
    write_atomically(target.with_suffix(".json"), lambda out: out.write(json.dumps(facts).encode()))
    return facts
