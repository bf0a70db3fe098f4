"""Published audio guides as the API, the tourist page and offline packs see them.

This module is a contract other parts rely on (`web/`: the tourist page, packs and sync):
`guide_document` is exactly the body of `GET /api/v1/sites/<slug>/guide`, `published_files`
lists the files behind it, and `guide_summary` is the `guide` field of a site's document. Only
published tracks are ever visible here: a track becomes published in one transaction, after its
files were renamed into place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.i18n import fallback_chain
from content.models import Site
from guides.models import Guide, GuideStatus, GuideTrack, GuideTrackFile

#: Where published files are served; the name is the file's sha256, so a URL never changes
#: meaning and can be cached for ever.
MEDIA_PREFIX = "/media/guides"
#: All that tourists are told of a guide that is not ready: the pipeline's own reasons (a
#: missing model, a failed step, a track held for review) are for staff, in the console.
PUBLIC_REASONS = {
    GuideStatus.PENDING.value: "being prepared",
    GuideStatus.UNAVAILABLE.value: "no narration in this language yet",
}


@dataclass(frozen=True, slots=True)
class PublishedFile:
    """One file of a published guide: where it is on disk and where it is served."""

    path: Path
    url: str
    sha256: str
    bytes: int
    mime: str
    kind: str  # "audio" or "captions"
    format: str  # "opus", "aac", "vtt"


def media_dir() -> Path:
    """The folder every guide file path is relative to."""
    return Path(current_app.config["MEDIA_DIR"])


def file_url(row: GuideTrackFile) -> str:
    """The content-addressed URL of a file: its sha256 and its file name's extension."""
    return f"{MEDIA_PREFIX}/{row.sha256}{Path(row.path).suffix}"


def site_guides(site_id: int) -> dict[str, Guide]:
    """A site's guide rows by language."""
    rows = db.session.scalars(select(Guide).where(Guide.site_id == site_id))
    return {row.lang: row for row in rows}


def _published(guide: Guide | None) -> GuideTrack | None:
    if guide is None or guide.status != GuideStatus.READY.value:
        return None
    return guide.published_track


def _track_view(track: GuideTrack) -> dict[str, Any]:
    captions = track.captions()
    return {
        "tracks": [
            {
                "format": f.format,
                "url": file_url(f),
                "bytes": f.bytes,
                "duration_s": f.duration_s if f.duration_s is not None else track.duration_s,
                "sha256": f.sha256,
                "mime": f.mime,
            }
            for f in track.audio_files()
        ],
        "transcript": track.transcript,
        "captions_url": file_url(captions) if captions else None,
        "duration_s": track.duration_s,
        "machine_translated": track.machine_translated,
    }


def guide_document(site: Site, *, requested: str, chain: list[str] | None = None) -> dict[str, Any]:
    """The guide in the requested language, or the first ready one along the chain.

    `status` is the state of what is served: `ready` with tracks, or when nothing along the
    chain is ready, the requested language's own state (`pending` with a `reason`, or
    `unavailable`). `fallback` says why the requested language was not served.
    """
    guides = site_guides(site.id)
    order = chain if chain is not None else fallback_chain(requested)
    if requested not in order:
        order = [requested, *order]
    own = guides.get(requested)
    own_status = own.status if own else GuideStatus.UNAVAILABLE.value
    own_reason = PUBLIC_REASONS.get(own_status, "")
    served = next((lang for lang in order if _published(guides.get(lang)) is not None), None)
    ready_languages = sorted(lang for lang, row in guides.items() if _published(row))
    document: dict[str, Any] = {
        "site": site.slug,
        "requested_lang": requested,
        "available_languages": ready_languages,
    }
    if served is None:
        return {
            **document,
            "status": own_status if own_status != GuideStatus.READY.value else "pending",
            "lang": requested,
            "machine_translated": False,
            "tracks": [],
            "transcript": "",
            "captions_url": None,
            "duration_s": None,
            "published_at": None,
            "reason": own_reason,
            "fallback": None,
        }
    guide = guides[served]
    track = _published(guide)
    assert track is not None
    fallback = (
        None
        if served == requested
        else {"requested": requested, "status": own_status, "reason": own_reason}
    )
    return {
        **document,
        "status": GuideStatus.READY.value,
        "lang": served,
        **_track_view(track),
        "published_at": guide.published_at.isoformat() if guide.published_at else None,
        "reason": "",
        "fallback": fallback,
    }


def published_files(site: Site, lang: str) -> list[PublishedFile]:
    """Every file of the site's published guide in this language (none when not ready)."""
    track = _published(site_guides(site.id).get(lang))
    if track is None:
        return []
    root = media_dir()
    return [
        PublishedFile(
            path=root / f.path,
            url=file_url(f),
            sha256=f.sha256,
            bytes=f.bytes,
            mime=f.mime,
            kind=f.kind,
            format=f.format,
        )
        for f in track.files
    ]


def file_by_url_name(sha256: str, suffix: str) -> GuideTrackFile | None:
    """The file served as `<sha256><suffix>`, if any track has it."""
    rows = db.session.scalars(
        select(GuideTrackFile).where(GuideTrackFile.sha256 == sha256).order_by(GuideTrackFile.id)
    )
    return next((row for row in rows if Path(row.path).suffix == suffix), None)


def guide_summary(site: Site, *, lang: str, requested: str) -> dict[str, Any]:
    """The `guide` field of a site's document: the guide's state in the requested language,
    and which languages are ready (a receiver of `content.signals.site_document`)."""
    guides = site_guides(site.id)
    ready = sorted(code for code, row in guides.items() if row.status == GuideStatus.READY.value)
    row = guides.get(requested)
    return {
        "guide": {
            "status": row.status if row else GuideStatus.UNAVAILABLE.value,
            "lang": requested,
            "machine_translated": bool(row and row.machine_translated),
            "ready_languages": ready,
            "reason": PUBLIC_REASONS.get(row.status, "") if row else "",
        }
    }


def ready_guide_counts(sender: Any = None) -> dict[str, dict[str, int]]:
    """Per language, how many published sites have a ready guide (for `GET /languages`; a
    receiver of `content.signals.language_counts`)."""
    rows = db.session.execute(
        select(Guide.lang, func.count())
        .join(Site, Site.id == Guide.site_id)
        .where(Site.published.is_(True), Guide.status == GuideStatus.READY.value)
        .group_by(Guide.lang)
    ).all()
    return {lang: {"sites_with_guide": count} for lang, count in rows}
