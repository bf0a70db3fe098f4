"""Narrations: what staff upload (a recording or a text) and what people write over the
machine's drafts. Each entry point makes the narration's rows and the job that builds it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask import current_app
from sqlalchemy import select

from app import audit
from app.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.extensions import db
from content import services as catalogue
from content.models import Provenance, Site
from guides import jobs
from guides.models import Narration, NarrationText, PipelineJob, SourceKind

#: Containers staff may upload; the job decodes the whole file to be sure.
RECORDING_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".oga", ".opus", ".webm")


@dataclass(frozen=True, slots=True)
class Recording:
    """An upload saved under the media directory."""

    path: str  # relative to the media directory
    sha256: str


@dataclass(frozen=True, slots=True)
class Languages:
    """A narration's source language and the languages to build, checked once."""

    source: str
    targets: list[str]


class UploadTooLarge(DomainError):
    status, reason = 413, "file_too_large"


def upload_limit_bytes(config: Any = None) -> int:
    """The largest recording staff may upload (`HOIAN_MAX_UPLOAD_MB`), in bytes."""
    settings = config if config is not None else current_app.config
    return int(float(settings["PIPELINE_MAX_UPLOAD_MB"]) * 1024 * 1024)


def check_languages(*, source_lang: str, langs: Iterable[str] | None) -> Languages:
    """The source and the languages to build, once each is a served language (checked before
    an upload is kept, so a refused request leaves no file behind)."""
    configured = list(current_app.config["LANGUAGES"])
    if source_lang not in configured:
        raise ValidationFailed(
            f"{source_lang!r} is not a served language",
            reason="unsupported_language",
            errors={"source_lang": [", ".join(configured)]},
        )
    if langs is None:
        return Languages(source=source_lang, targets=configured)
    wanted = list(dict.fromkeys(langs))
    unknown = [code for code in wanted if code not in configured]
    if unknown:
        raise ValidationFailed(
            f"languages not served: {', '.join(unknown)}",
            reason="unsupported_language",
            errors={"langs": [f"each one of: {', '.join(configured)}"]},
        )
    if not wanted:
        raise ValidationFailed("name at least one language", errors={"langs": ["empty"]})
    return Languages(source=source_lang, targets=wanted)


def save_recording(*, stream: IO[bytes], filename: str, max_bytes: int) -> Recording:
    """Copy an upload under the media directory, named by its sha256, within the size limit."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in RECORDING_SUFFIXES:
        raise ValidationFailed(
            f"{suffix or 'files without an extension'} cannot be uploaded; "
            "send wav, mp3, m4a, ogg or webm",
            reason="unsupported_format",
            errors={"audio": [", ".join(RECORDING_SUFFIXES)]},
        )
    folder = Path(current_app.config["MEDIA_DIR"]) / "narrations"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as out:
        try:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(
                        f"the file is larger than {max_bytes / 1e6:.0f} MB",
                        errors={"audio": [f"at most {max_bytes} bytes"]},
                    )
                digest.update(chunk)
                out.write(chunk)
        except BaseException:
            os.unlink(out.name)
            raise
    if size == 0:
        os.unlink(out.name)
        raise ValidationFailed(
            "the file is empty", reason="audio_rejected", errors={"audio": ["empty"]}
        )
    name = f"{digest.hexdigest()}{suffix}"
    os.replace(out.name, folder / name)
    return Recording(path=f"narrations/{name}", sha256=digest.hexdigest())


def site_by_slug(slug: str) -> Site:
    """A site by slug, published or not (staff build guides before a site goes public)."""
    return catalogue.get_site(slug=slug, include_unpublished=True)


def current_narration(site: Site) -> Narration | None:
    """The site's newest narration."""
    return db.session.scalar(
        select(Narration).where(Narration.site_id == site.id).order_by(Narration.id.desc())
    )


def create_narration(
    *, site: Site, source_lang: str, text: str | None = None, recording: Recording | None = None
) -> Narration:
    """A new narration for a site, from text or from a saved recording (languages checked)."""
    if recording is None and not (text or "").strip():
        raise ValidationFailed(
            "the narration text is empty", reason="text_rejected", errors={"text": ["empty"]}
        )
    narration = Narration(
        site_id=site.id,
        source_lang=source_lang,
        text=(text or "").strip() if recording is None else "",
        source_kind=(SourceKind.RECORDING if recording else SourceKind.TEXT).value,
        recording_path=recording.path if recording else None,
        recording_sha256=recording.sha256 if recording else None,
        # A typed text is the editor's own words; a recording's text is Whisper's until a
        # person corrects and approves it.
        source_provenance=(Provenance.MACHINE if recording else Provenance.HUMAN).value,
        source_reviewed=recording is None,
    )
    db.session.add(narration)
    db.session.flush()
    audit.record(
        action="narration.create",
        object_type="narration",
        object_id=narration.id,
        changes={"site": site.slug, "source_kind": narration.source_kind, "lang": source_lang},
    )
    return narration


def start_narration(
    *,
    site: Site,
    languages: Languages,
    text: str | None = None,
    recording: Recording | None = None,
    requested_by_id: int | None = None,
) -> PipelineJob:
    """A new narration for a site and the job that turns it into guides."""
    narration = create_narration(
        site=site, source_lang=languages.source, text=text, recording=recording
    )
    return jobs.create_job(
        site=site,
        narration=narration,
        targets=languages.targets,
        kind="narration",
        requested_by_id=requested_by_id,
    )


def start_build(
    *, site_slug: str, langs: Iterable[str] | None = None, requested_by_id: int | None = None
) -> PipelineJob:
    """A job that (re)builds a site's guides from its current narration."""
    site = site_by_slug(site_slug)
    narration = current_narration(site)
    if narration is None:
        raise Conflict(f"{site_slug} has no narration yet", reason="no_narration")
    languages = check_languages(source_lang=narration.source_lang, langs=langs)
    return jobs.create_job(
        site=site, narration=narration, targets=languages.targets, requested_by_id=requested_by_id
    )


def set_translation(
    *,
    narration_id: int,
    lang: str,
    text: str,
    requested_by_id: int | None = None,
    approved: bool = True,
) -> PipelineJob:
    """A person's translation replaces the machine one; that language is spoken again.
    `approved`: the writer approves it (the API); the console's review leaves it to be
    approved once its new track was heard."""
    narration = db.session.get(Narration, narration_id)
    if narration is None:
        raise NotFound(f"narration {narration_id} not found")
    check_languages(source_lang=narration.source_lang, langs=[lang])
    if not text.strip():
        raise ValidationFailed(
            "the translation is empty", reason="text_rejected", errors={"text": ["empty"]}
        )
    if lang == narration.source_lang:
        before: str | None = narration.text
        narration.text = text.strip()
        narration.transcript_draft = (
            None if narration.source_kind == SourceKind.TEXT.value else text.strip()
        )
        narration.source_provenance, narration.source_reviewed = Provenance.HUMAN.value, approved
    else:
        row = narration.text_for(lang)
        before = row.text if row else None
        if row is None:
            row = NarrationText(lang=lang, text=text.strip(), provenance=Provenance.HUMAN.value)
            narration.texts.append(row)
        row.text, row.provenance, row.reviewed = text.strip(), Provenance.HUMAN.value, approved
    audit.record(
        action="narration.translate",
        object_type="narration",
        object_id=narration.id,
        changes={
            "lang": lang,
            "provenance": Provenance.HUMAN.value,
            "replaced": before is not None,
        },
    )
    site = db.session.get(Site, narration.site_id)
    assert site is not None
    # A corrected source (a recording's transcript, or the text itself) is translated and
    # spoken again in every language; people's translations and unchanged tracks are skipped.
    targets = (
        check_languages(source_lang=narration.source_lang, langs=None).targets
        if lang == narration.source_lang
        else [lang]
    )
    return jobs.create_job(
        site=site,
        narration=narration,
        targets=targets,
        kind="translation",
        requested_by_id=requested_by_id,
    )
