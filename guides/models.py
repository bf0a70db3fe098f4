"""Guide tables: narrations and their translations, guides per language with their built and
published tracks, and the speech pipeline's jobs and tasks. The tables keep their names from
the catalogue's first migrations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, in_values, utcnow
from app.extensions import db


class GuideStatus(enum.StrEnum):
    READY = "ready"  # published audio and transcript can be served
    PENDING = "pending"  # being built, or waiting for a model or a review
    UNAVAILABLE = "unavailable"  # no narration for this language yet


class SourceKind(enum.StrEnum):
    TEXT = "text"  # staff typed or pasted the narration
    RECORDING = "recording"  # staff uploaded a recording; its transcript is the text


class JobState(enum.StrEnum):
    QUEUED = "queued"  # created; no task has started yet
    RUNNING = "running"  # at least one task started and some are not finished
    SUCCEEDED = "succeeded"  # every task ended; none failed (languages may be pending a model)
    FAILED = "failed"  # a task failed for good, or the source was rejected (final)


class TaskState(enum.StrEnum):
    BLOCKED = "blocked"  # waits for the task it depends on
    QUEUED = "queued"  # may run from next_attempt_at on
    RUNNING = "running"  # leased to a worker until lease_expires_at; taken over after that
    SUCCEEDED = "succeeded"  # done; its output is recorded (final)
    SKIPPED = "skipped"  # nothing to do: the published or built output has the same key (final)
    PENDING = "pending"  # cannot run until a model is installed; see error_reason (final)
    FAILED = "failed"  # gave up: bad input, or retries exhausted (final)
    CANCELLED = "cancelled"  # the task it depends on did not succeed (final)


class TaskStage(enum.StrEnum):
    SOURCE = "source"  # check the text, or decode and transcribe the recording
    TRANSLATE = "translate"  # machine translation into one language
    SPEECH = "speech"  # synthesize (or render the recording), encode, stage, publish


class Narration(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """A narration script for a site in its source language, with its translations."""

    __tablename__ = "narrations"
    __table_args__ = (
        CheckConstraint("source_kind IN ('text', 'recording')", name="source_kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    source_lang: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    source_kind: Mapped[str] = mapped_column(String(10), default=SourceKind.TEXT.value)
    #: The upload, relative to the media directory, and the hash of its bytes.
    recording_path: Mapped[str | None] = mapped_column(String(300), default=None)
    recording_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Whisper's transcript of the recording, which staff may correct before it is used.
    transcript_draft: Mapped[str | None] = mapped_column(Text, default=None)
    #: As `Site.seed_digest`: what the seed loader last wrote (guides/seeding.py).
    seed_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Who wrote the source text: `human` (typed, or a transcript a person corrected) or
    #: `machine` (Whisper's transcript as heard); and whether an editor approved it.
    source_provenance: Mapped[str] = mapped_column(
        String(10), default="human", server_default="human"
    )
    source_reviewed: Mapped[bool] = mapped_column(default=False, server_default=false())

    texts: Mapped[list[NarrationText]] = relationship(
        back_populates="narration", cascade="all, delete-orphan", lazy="selectin"
    )

    def text_for(self, lang: str) -> NarrationText | None:
        return next((text for text in self.texts if text.lang == lang), None)

    def __repr__(self) -> str:
        return f"<Narration {self.id} site={self.site_id} {self.source_lang}>"


class NarrationText(db.Model):  # type: ignore[name-defined,misc]
    """A narration in one target language: a human translation or a machine one."""

    __tablename__ = "narration_texts"
    __table_args__ = (
        UniqueConstraint("narration_id", "lang"),
        CheckConstraint("provenance IN ('human', 'machine')", name="provenance_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    narration_id: Mapped[int] = mapped_column(ForeignKey("narrations.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    provenance: Mapped[str] = mapped_column(String(10))
    reviewed: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    narration: Mapped[Narration] = relationship(back_populates="texts")

    def __repr__(self) -> str:
        return f"<NarrationText {self.narration_id} {self.lang} {self.provenance}>"


class Guide(db.Model):  # type: ignore[name-defined,misc]
    """The state of a site's audio guide in one language: the published track, and the newest
    built one waiting for review."""

    __tablename__ = "guides"
    __table_args__ = (
        UniqueConstraint("site_id", "lang"),
        CheckConstraint("status IN ('ready', 'pending', 'unavailable')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default=GuideStatus.PENDING.value)
    machine_translated: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    narration_id: Mapped[int | None] = mapped_column(
        ForeignKey("narrations.id", ondelete="SET NULL"), default=None
    )
    published_track_id: Mapped[int | None] = mapped_column(
        ForeignKey("guide_tracks.id", ondelete="SET NULL", use_alter=True), default=None
    )
    #: The published track's content key: a re-run whose key is the same has nothing to do.
    published_key: Mapped[str | None] = mapped_column(String(64), default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Built and complete, waiting for an editor to publish it (None when nothing waits).
    draft_track_id: Mapped[int | None] = mapped_column(
        ForeignKey("guide_tracks.id", ondelete="SET NULL", use_alter=True), default=None
    )

    published_track: Mapped[GuideTrack | None] = relationship(
        foreign_keys=[published_track_id], lazy="joined", post_update=True
    )
    draft_track: Mapped[GuideTrack | None] = relationship(
        foreign_keys=[draft_track_id], lazy="joined", post_update=True
    )

    def __repr__(self) -> str:
        return f"<Guide site={self.site_id} {self.lang} {self.status}>"


class GuideTrack(db.Model):  # type: ignore[name-defined,misc]
    """One complete rendering of a guide: its audio files in every format, captions and
    transcript. Rows are written only after the files were renamed into place."""

    __tablename__ = "guide_tracks"
    __table_args__ = (UniqueConstraint("guide_id", "content_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    guide_id: Mapped[int] = mapped_column(ForeignKey("guides.id", ondelete="CASCADE"), index=True)
    content_key: Mapped[str] = mapped_column(String(64))
    #: Folder of the files, relative to the media directory.
    directory: Mapped[str] = mapped_column(String(300))
    transcript: Mapped[str] = mapped_column(Text)
    machine_translated: Mapped[bool] = mapped_column(default=False)
    voice_id: Mapped[str | None] = mapped_column(String(80), default=None)  # None: a recording
    duration_s: Mapped[float] = mapped_column(Float)
    loudness_lufs: Mapped[float | None] = mapped_column(Float, default=None)
    true_peak_dbtp: Mapped[float | None] = mapped_column(Float, default=None)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_jobs.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: What Whisper heard when the synthesized track was played back to it: `error` (WER, or
    #: CER for unspaced languages), `bound`, `intelligible`, `reason`, `heard` (None for a
    #: person's recording, which is never heard back).
    hearing: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    @property
    def understood(self) -> bool:
        """Whether the track may be published without an editor looking at it first."""
        return self.hearing is None or bool(self.hearing.get("intelligible", True))

    files: Mapped[list[GuideTrackFile]] = relationship(
        back_populates="track",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="GuideTrackFile.id",
    )

    def audio_files(self) -> list[GuideTrackFile]:
        return [f for f in self.files if f.kind == "audio"]

    def captions(self) -> GuideTrackFile | None:
        return next((f for f in self.files if f.kind == "captions"), None)

    def __repr__(self) -> str:
        return f"<GuideTrack {self.id} guide={self.guide_id} {self.content_key[:12]}>"


class GuideTrackFile(db.Model):  # type: ignore[name-defined,misc]
    """One file of a track, served at a URL named by its sha256."""

    __tablename__ = "guide_track_files"
    __table_args__ = (
        UniqueConstraint("track_id", "format"),
        CheckConstraint("kind IN ('audio', 'captions')", name="kind_known"),
        CheckConstraint("bytes >= 0", name="bytes_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("guide_tracks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    format: Mapped[str] = mapped_column(String(10))  # opus, aac, mp3, vtt
    path: Mapped[str] = mapped_column(String(300))  # relative to the media directory
    mime: Mapped[str] = mapped_column(String(60))
    bytes: Mapped[int]
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    sha256: Mapped[str] = mapped_column(String(64), index=True)

    track: Mapped[GuideTrack] = relationship(back_populates="files")

    def __repr__(self) -> str:
        return f"<GuideTrackFile {self.format} {self.sha256[:12]}>"


#: The kind of job that machine-translates a site's or a tour's catalogue texts
#: (guides/catalogue.py).
CATALOGUE_JOB = "catalogue"


class PipelineJob(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """A run of the speech pipeline for one site (or, for a catalogue job, one site's or one
    tour's texts); its tasks are the truth of its progress."""

    __tablename__ = "pipeline_jobs"
    __table_args__ = (
        CheckConstraint(in_values("state", tuple(s.value for s in JobState)), name="state_known"),
        # A narration or build job is a site's; a catalogue job is a site's or a tour's.
        CheckConstraint(
            "(site_id IS NULL) != (tour_id IS NULL)"
            f" AND (tour_id IS NULL OR kind = '{CATALOGUE_JOB}')",
            name="one_subject",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), index=True, default=None
    )
    tour_id: Mapped[int | None] = mapped_column(
        ForeignKey("tours.id", ondelete="CASCADE"), index=True, default=None
    )
    narration_id: Mapped[int | None] = mapped_column(
        ForeignKey("narrations.id", ondelete="SET NULL"), default=None
    )
    # narration, build, translation, CATALOGUE_JOB, or a kind another domain registered
    # (stages.register_job_kind: insights' "feedback", a tourist's comment into Vietnamese)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12), default=JobState.QUEUED.value)
    source_lang: Mapped[str] = mapped_column(String(8))
    langs: Mapped[list[Any]] = mapped_column(default=list)
    auto_publish: Mapped[bool] = mapped_column(default=False)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    error_reason: Mapped[str | None] = mapped_column(String(60), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    tasks: Mapped[list[PipelineTask]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="PipelineTask.id",
    )

    @property
    def guide_site_id(self) -> int:
        """The site whose guide a narration or build job makes (each of those has one)."""
        if self.site_id is None:
            raise ValueError(f"job {self.id} translates a tour's texts: it makes no guide")
        return self.site_id

    def __repr__(self) -> str:
        subject = f"tour={self.tour_id}" if self.tour_id else f"site={self.site_id}"
        return f"<PipelineJob {self.id} {subject} {self.state}>"


class PipelineTask(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """One stage of a job for one language; run by whichever worker holds its lease."""

    __tablename__ = "pipeline_tasks"
    __table_args__ = (
        UniqueConstraint("job_id", "stage", "lang"),
        CheckConstraint(in_values("state", tuple(s.value for s in TaskState)), name="state_known"),
        CheckConstraint(in_values("stage", tuple(s.value for s in TaskStage)), name="stage_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress_fraction"),
        Index("ix_pipeline_tasks_runnable", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_jobs.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(12))
    lang: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(12), default=TaskState.BLOCKED.value)
    depends_on_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_tasks.id", ondelete="CASCADE"), default=None
    )
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(120), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error_reason: Mapped[str | None] = mapped_column(String(60), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    job: Mapped[PipelineJob] = relationship(back_populates="tasks")

    def __repr__(self) -> str:
        return f"<PipelineTask {self.id} {self.stage}:{self.lang} {self.state}>"


class PipelineEvent(db.Model):  # type: ignore[name-defined,misc]
    """The machine's own moves of a job and its tasks (leases, retries, waiting for a model):
    the job's history, kept out of the people's audit log."""

    __tablename__ = "pipeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_jobs.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_tasks.id", ondelete="CASCADE"), default=None
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def __repr__(self) -> str:
        return f"<PipelineEvent job={self.job_id} task={self.task_id} {self.event}>"


class GlossaryTerm(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """A proper name staff added: the town's (no site) or one site's, with its form per
    language and the other spellings that mean it. Whisper is primed with the forms, and
    translation keeps them (with the seed's glossary.yaml and each site's own names)."""

    __tablename__ = "glossary_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), default=None, index=True
    )
    #: Language code (or "*": every Latin-script language not named) -> how it is written.
    forms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Language code -> other spellings, put right to the form after Whisper and translation.
    variants: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def __repr__(self) -> str:
        return f"<GlossaryTerm {self.id} site={self.site_id} {sorted(self.forms)}>"
