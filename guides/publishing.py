"""From staged files to published guides: tracks are rendered into a hidden folder, renamed
into place in one step, recorded as rows, offered for review, and published in one
transaction. A draft never reaches tourists; what is published stays until the next publish."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import audit
from app.db import utcnow
from app.errors import Conflict
from app.extensions import db
from content import services as catalogue
from content.cache import bump_catalogue_version
from guides.models import Guide, GuideStatus, GuideTrack, GuideTrackFile, Narration, PipelineJob
from guides.published import media_dir

# --- guide rows -------------------------------------------------------------------------------


def guide_row(site_id: int, lang: str) -> Guide:
    """The site's guide row in one language, made when it does not exist yet.

    Only a built track (`offer_track`, `_publish`) or a language left waiting for a model
    (`mark_waiting_for_model`) makes or changes a guide row: a job that is queued, running or
    failed leaves what tourists see (and /sync) as it was. Why a language is not built is for
    staff only; tourists read `published.PUBLIC_REASONS`.
    """
    guide = db.session.scalar(select(Guide).where(Guide.site_id == site_id, Guide.lang == lang))
    if guide is None:
        guide = Guide(site_id=site_id, lang=lang, status=GuideStatus.PENDING.value, reason="")
        db.session.add(guide)
        db.session.flush()
    return guide


def mark_waiting_for_model(*, site_id: int, lang: str, reason: str) -> None:
    """A language that waits for a model says so to staff (`reason`) and, unless a guide is
    published or a draft waits, tells tourists that it is being prepared."""
    guide = guide_row(site_id, lang)
    if guide.status == GuideStatus.READY.value or guide.draft_track_id is not None:
        return
    guide.status = GuideStatus.PENDING.value
    guide.reason = reason[:300]
    bump_catalogue_version()  # the public guide now says it is being prepared


# --- staged files -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StagedFile:
    kind: str
    format: str
    name: str
    mime: str
    bytes: int
    duration_s: float | None
    sha256: str


@dataclass(frozen=True, slots=True)
class StagedTrack:
    """A complete track already renamed into its final folder, not yet in the database."""

    lang: str
    key: str
    directory: str  # relative to the media directory
    transcript: str
    machine_translated: bool
    voice_id: str | None
    duration_s: float
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    files: list[StagedFile]
    #: What Whisper heard of synthesized speech (None for a person's recording).
    hearing: dict[str, Any] | None = None


#: Renders a track's files into the folder it is given; returns the track's manifest (what
#: `audio_pipeline.steps.Track.manifest()` writes, with `transcript` and `machine_translated`).
Renderer = Callable[[Path], dict[str, Any]]


def place_track(*, task_id: int, key: str, render: Renderer) -> StagedTrack:
    """Render into a hidden staging folder, then rename the whole folder into place.

    The rename is atomic: the final folder either does not exist or holds every file. If it
    already exists (a worker died after its rename, before its transaction), it is reused.
    """
    root = media_dir() / "guides"
    staging_root = root / ".staging"
    staging_root.mkdir(parents=True, exist_ok=True)
    for leftover in staging_root.glob(f"{task_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # an earlier attempt of this task
    staging = staging_root / f"{task_id}-{os.getpid()}-{time.monotonic_ns()}"
    staging.mkdir()
    final = root / key
    try:
        if not final.exists():
            manifest = render(staging)
            (staging / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            try:
                os.rename(staging, final)
            except OSError:
                if not (final / "manifest.json").exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return read_placed(key=key, folder=final)


def read_placed(*, key: str, folder: Path) -> StagedTrack:
    """The track a placed folder holds, from its manifest."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    captions = folder / manifest["captions"]
    files = [
        StagedFile(
            kind="audio",
            format=f["format"],
            name=f["name"],
            mime=f["mime"],
            bytes=int(f["bytes"]),
            duration_s=float(f["duration_s"]),
            sha256=f["sha256"],
        )
        for f in manifest["files"]
    ]
    files.append(
        StagedFile(
            kind="captions",
            format="vtt",
            name=captions.name,
            mime="text/vtt",
            bytes=captions.stat().st_size,
            duration_s=None,
            sha256=hashlib.sha256(captions.read_bytes()).hexdigest(),
        )
    )
    return StagedTrack(
        lang=manifest["lang"],
        key=key,
        directory=f"guides/{key}",
        transcript=str(manifest["transcript"]),
        machine_translated=bool(manifest.get("machine_translated", False)),
        voice_id=manifest.get("voice_id"),
        duration_s=float(manifest["duration_s"]),
        loudness_lufs=manifest.get("loudness_lufs"),
        true_peak_dbtp=manifest.get("true_peak_dbtp"),
        files=files,
        hearing=manifest.get("hearing"),
    )


# --- tracks -----------------------------------------------------------------------------------


def track_with_key(*, site_id: int, lang: str, key: str) -> GuideTrack | None:
    """The built track of a site's guide whose content key is `key`, if any."""
    return db.session.scalar(
        select(GuideTrack)
        .join(Guide, Guide.id == GuideTrack.guide_id)
        .where(Guide.site_id == site_id, Guide.lang == lang, GuideTrack.content_key == key)
    )


def record_track(*, job: PipelineJob, staged: StagedTrack) -> GuideTrack:
    """The track's rows; with auto-publish, it is published in the same transaction."""
    guide = guide_row(job.guide_site_id, staged.lang)
    track = track_with_key(site_id=job.guide_site_id, lang=staged.lang, key=staged.key)
    if track is None:
        track = GuideTrack(
            guide_id=guide.id,
            content_key=staged.key,
            directory=staged.directory,
            transcript=staged.transcript,
            machine_translated=staged.machine_translated,
            voice_id=staged.voice_id,
            duration_s=staged.duration_s,
            loudness_lufs=staged.loudness_lufs,
            true_peak_dbtp=staged.true_peak_dbtp,
            hearing=staged.hearing,
            job_id=job.id,
            files=[
                GuideTrackFile(
                    kind=f.kind,
                    format=f.format,
                    path=str(Path(staged.directory) / f.name),
                    mime=f.mime,
                    bytes=f.bytes,
                    duration_s=f.duration_s,
                    sha256=f.sha256,
                )
                for f in staged.files
            ],
        )
        db.session.add(track)
        db.session.flush()
    offer_track(
        guide=guide, track=track, auto_publish=job.auto_publish, narration_id=job.narration_id
    )
    return track


def offer_track(
    *, guide: Guide, track: GuideTrack, auto_publish: bool, narration_id: int | None = None
) -> None:
    """A built track waits for review, or is published at once when so configured, unless
    Whisper did not understand it: then it always waits for an editor, with the figure."""
    if guide.published_track_id == track.id:
        return
    if narration_id is not None:
        guide.narration_id = narration_id
    guide.draft_track = track
    understood = track.understood
    if guide.status != GuideStatus.READY.value:
        guide.status = GuideStatus.PENDING.value
        bump_catalogue_version()  # a guide being prepared, where there may have been none
        guide.reason = (
            "built; waiting for an editor to publish it"
            if understood
            else "built; held for review: " + str((track.hearing or {}).get("reason", ""))[:200]
        )
    audit.record(
        action="guide.build",
        object_type="guide",
        object_id=guide.id,
        changes={
            "lang": guide.lang,
            "key": track.content_key,
            "track": track.id,
            **({"held": "not understood when heard back"} if not understood else {}),
        },
    )
    if auto_publish and understood:
        _publish(guide)


def _publish(guide: Guide) -> None:
    track = guide.draft_track
    assert track is not None
    previous = guide.published_key
    guide.published_track = track
    guide.published_key = track.content_key
    guide.published_at = utcnow()
    guide.draft_track = None
    guide.status = GuideStatus.READY.value
    guide.reason = ""
    guide.machine_translated = track.machine_translated
    db.session.flush()
    bump_catalogue_version()
    audit.record(
        action="guide.publish",
        object_type="guide",
        object_id=guide.id,
        changes={"lang": guide.lang, "published_key": [previous, track.content_key]},
    )


def publish_guide(*, site_slug: str, lang: str) -> Guide:
    """Publish the reviewed track waiting for a site's guide in one language."""
    site = catalogue.get_site(slug=site_slug, include_unpublished=True)
    guide: Guide | None = db.session.scalar(
        select(Guide).where(Guide.site_id == site.id, Guide.lang == lang)
    )
    if guide is None or guide.draft_track is None:
        raise Conflict(
            f"no built guide waits for review for {site_slug} in {lang}",
            reason="nothing_to_publish",
        )
    track = guide.draft_track
    assert track is not None
    narration = db.session.get(Narration, guide.narration_id) if guide.narration_id else None
    if narration is not None and lang == narration.source_lang:
        narration.source_reviewed = True  # publishing is an editor's approval
    elif narration is not None and track.machine_translated:
        row = narration.text_for(lang)
        if row is not None:
            row.reviewed = True
    _publish(guide)
    return guide
