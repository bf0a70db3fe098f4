"""Errors the pipeline raises; each has a stable `reason` that jobs and the API pass on."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every pipeline error: a message for people and a `reason` for machines."""

    reason = "pipeline_error"
    #: Whether running the same step again may succeed (a crash, a busy resource).
    retryable = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason


class AudioRejected(PipelineError):
    """An upload that cannot become a guide: corrupt, silent, too long, too large, not speech."""

    reason = "audio_rejected"


class TextRejected(PipelineError):
    """Narration text that cannot be used: empty, too long, or in another language."""

    reason = "text_rejected"


class UnsupportedLanguage(PipelineError):
    """No engine of this kind knows the language at all."""

    reason = "unsupported_language"


class ModelMissing(PipelineError):
    """The model a step needs is not installed; the language stays pending until it is."""

    reason = "model_missing"


class ModelLoadFailed(PipelineError):
    """An installed model could not be loaded or run (corrupt files, wrong format)."""

    reason = "model_load_failed"


class LicenceRefused(PipelineError):
    """A non-commercial model was offered without the operator's explicit opt-in."""

    reason = "licence_refused"


class ModelDownloadFailed(PipelineError):
    """A download could not be done (no network, unknown model, checksum mismatch)."""

    reason = "download_failed"
    retryable = True


class ChecksumMismatch(PipelineError):
    """Model files on disk are not the files the registry pinned."""

    reason = "checksum_mismatch"


class EngineFailed(PipelineError):
    """An external tool (ffmpeg, espeak-ng) failed on input that passed validation."""

    reason = "engine_failed"
    retryable = True
