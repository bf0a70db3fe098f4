"""Audio in and out: uploads validated by decoding them with ffmpeg, loudness normalised for
phone speakers (pyloudnorm, ITU-R BS.1770-4), true peak limited, encoded to Opus and AAC."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeAlias, cast

import numpy as np
import pyloudnorm
from numpy.typing import NDArray
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from audio_pipeline.errors import AudioRejected, EngineFailed
from audio_pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)

#: The rate of every master: Opus's native rate.
MASTER_RATE = 48_000
#: Containers accepted from staff, as ffprobe names them.
ACCEPTED_CONTAINERS = {
    "wav": "wav",
    "mp3": "mp3",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "ogg": "ogg",
    "matroska,webm": "webm",
    "flac": "flac",
}
SILENCE_LUFS = -60.0
#: The master's first true-peak ceiling sits below the published limit: lossy codecs add
#: overshoot. `render` lowers it further for audio whose encoded peaks still come out over.
CODEC_HEADROOM_DB = 0.7
RENDER_ATTEMPTS = 4

Samples: TypeAlias = "NDArray[np.float32]"


@dataclass(frozen=True, slots=True)
class Audio:
    """Mono float samples in [-1, 1] and their rate."""

    samples: Samples
    rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    def resampled(self, rate: int) -> Audio:
        if rate == self.rate:
            return self
        ratio = Fraction(rate, self.rate)
        out = resample_poly(self.samples, ratio.numerator, ratio.denominator)
        return Audio(out.astype(np.float32), rate)


@dataclass(frozen=True, slots=True)
class ProbeInfo:
    container: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class Rendered:
    """A guide track's files and what they measure once decoded again."""

    files: list[EncodedFile]
    duration_s: float
    loudness_lufs: float
    true_peak_dbtp: float


@dataclass(frozen=True, slots=True)
class EncodedFile:
    format: str  # "opus" or "aac"
    path: Path
    mime: str
    bytes: int
    duration_s: float
    sha256: str


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EngineFailed(f"{name} is not installed (Debian package ffmpeg / espeak-ng)")
    return path


def probe(path: Path) -> ProbeInfo:
    """What ffprobe sees in a file; AudioRejected when it is not audio it can read."""
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            require_tool("ffprobe"),
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration:stream=codec_type,codec_name,sample_rate,channels,duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        # ffprobe's last line names the file by its path on this server: keep only its words.
        detail = (result.stderr.decode("utf-8", "replace").strip().splitlines() or ["unknown"])[-1]
        detail = detail.replace(f"{path}: ", "").replace(str(path), "the file")
        raise AudioRejected(
            f"the file is not audio that can be read ({detail})", reason="corrupt_audio"
        )
    data = json.loads(result.stdout or b"{}")
    streams = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise AudioRejected("the file has no audio stream", reason="corrupt_audio")
    stream = streams[0]
    fmt = data.get("format", {})
    duration = float(fmt.get("duration") or stream.get("duration") or 0.0)
    return ProbeInfo(
        container=str(fmt.get("format_name", "")),
        codec=str(stream.get("codec_name", "")),
        duration_s=duration,
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
    )


#: How far past the duration limit a recording is decoded before it is refused: a container's
#: claimed length (granule positions, headers) is the sender's word, and decoding it is not.
DECODE_MARGIN_S = 5.0
DECODE_TIMEOUT_S = 600.0
_READ_BYTES = 1 << 20


def decode(path: Path, *, rate: int = MASTER_RATE, max_seconds: float | None = None) -> Audio:
    """Decode the first audio stream to mono float samples at `rate` with ffmpeg.

    ffmpeg's output is read as it comes, into one buffer. With `max_seconds`, decoding stops
    once it passes that length plus DECODE_MARGIN_S (AudioRejected `audio_too_long`), however
    long the file says it is: a few megabytes of Opus with rewritten granule positions can
    decode to gigabytes, and memory never holds more than the limit's worth of samples.
    """
    limit = None if max_seconds is None else int((max_seconds + DECODE_MARGIN_S) * rate)
    command = [
        require_tool("ffmpeg"),
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-ac",
        "1",
        "-ar",
        str(rate),
        "-f",
        "f32le",
        "pipe:1",
    ]
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        ) as ffmpeg,
    ):
        watchdog = threading.Timer(DECODE_TIMEOUT_S, ffmpeg.kill)
        watchdog.start()
        try:
            stdout = cast(io.BufferedReader, ffmpeg.stdout)
            samples, too_long = _read_samples(stdout, limit=limit, rate=rate)
        finally:
            watchdog.cancel()
            if ffmpeg.poll() is None:
                ffmpeg.kill()  # stopped early: nothing more is wanted from it
            ffmpeg.wait()
        if too_long:
            assert max_seconds is not None
            raise AudioRejected(
                f"the recording decodes to more than {max_seconds / 60:.0f} min, the limit "
                "(whatever length its file claims)",
                reason="audio_too_long",
            )
        errors.seek(0)
        detail = errors.read().decode("utf-8", "replace").strip()
    if ffmpeg.returncode != 0 or not len(samples):
        last = detail.splitlines()[-1] if detail else "no samples"
        raise AudioRejected(f"the audio could not be decoded: {last}", reason="corrupt_audio")
    # Not clipped: lossy files decode above full scale, and measuring them must see it.
    return Audio(samples, rate)


def _read_samples(
    stream: io.BufferedReader, *, limit: int | None, rate: int
) -> tuple[Samples, bool]:
    """Little-endian float32 samples from a stream, and whether there were more than `limit`.

    One buffer, filled in place: sized to the limit when there is one (memory is only touched
    as samples arrive), otherwise doubled as needed; then trimmed, so nothing is copied.
    """
    buffer = np.empty(limit + 1 if limit is not None else 60 * rate, dtype="<f4")
    filled = 0  # bytes
    while True:
        if filled == buffer.nbytes:
            if limit is not None:
                return buffer, True
            buffer.resize(2 * len(buffer), refcheck=False)
        with buffer.data as whole, whole.cast("B") as raw:
            count = stream.readinto(raw[filled : filled + _READ_BYTES])
        if not count:
            break
        filled += count
    buffer.resize(filled // 4, refcheck=False)
    return buffer.astype(np.float32, copy=False), False


def load_upload(path: Path, settings: PipelineSettings) -> tuple[Audio, ProbeInfo]:
    """Validate an uploaded recording by decoding all of it; AudioRejected with a reason."""
    size = path.stat().st_size
    if size == 0:
        raise AudioRejected("the file is empty", reason="empty_file")
    if size > settings.max_upload_bytes:
        raise AudioRejected(
            f"the file is {size / 1e6:.1f} MB; "
            f"the limit is {settings.max_upload_bytes / 1e6:.0f} MB",
            reason="file_too_large",
        )
    info = probe(path)
    if info.container not in ACCEPTED_CONTAINERS:
        raise AudioRejected(
            f"{info.container or 'this'} files are not accepted; send wav, mp3, m4a, ogg or webm",
            reason="unsupported_format",
        )
    if info.duration_s > settings.max_audio_seconds:
        raise AudioRejected(
            f"the recording is {info.duration_s / 60:.1f} min; the limit is "
            f"{settings.max_audio_seconds / 60:.0f} min",
            reason="audio_too_long",
        )
    audio = decode(path, max_seconds=settings.max_audio_seconds)
    if info.duration_s and audio.duration_s < 0.9 * info.duration_s - 0.5:
        raise AudioRejected(
            f"only {audio.duration_s:.1f} s of {info.duration_s:.1f} s could be decoded: "
            "the file is truncated or damaged",
            reason="corrupt_audio",
        )
    if audio.duration_s < settings.min_audio_seconds:
        raise AudioRejected(
            f"the recording is {audio.duration_s:.1f} s long; it needs at least "
            f"{settings.min_audio_seconds:.0f} s",
            reason="audio_too_short",
        )
    if audio.duration_s > settings.max_audio_seconds:
        raise AudioRejected("the recording is longer than allowed", reason="audio_too_long")
    if loudness(audio) < SILENCE_LUFS:
        raise AudioRejected("the recording is silent", reason="silent_audio")
    return audio, info


def loudness(audio: Audio) -> float:
    """Integrated loudness in LUFS (-inf for silence or clips under 0.4 s)."""
    if audio.duration_s < 0.4:
        return float("-inf")
    return float(pyloudnorm.Meter(audio.rate).integrated_loudness(audio.samples.astype(np.float64)))


#: Samples per block when oversampling (10 s at 48 kHz): bounds a worker's memory for long
#: recordings; the margin on each side lets the resampling filter settle at block edges.
_BLOCK = 480_000
_MARGIN = 256


def _peak_envelope(samples: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """Per input sample, the largest magnitude among its 4x oversampled values."""
    peaks = np.empty(len(samples), dtype=np.float32)
    for start in range(0, len(samples), _BLOCK):
        end = min(len(samples), start + _BLOCK)
        lo, hi = max(0, start - _MARGIN), min(len(samples), end + _MARGIN)
        block = resample_poly(samples[lo:hi].astype(np.float32), 4, 1)
        block = np.abs(block[(start - lo) * 4 : (end - lo) * 4])
        block = np.pad(block, (0, (end - start) * 4 - len(block)))
        peaks[start:end] = block.reshape(-1, 4).max(axis=1)
    return peaks


def true_peak_dbtp(audio: Audio) -> float:
    """True peak in dBTP: the sample peak of a 4x oversampled signal (BS.1770-4 annex 2)."""
    if not len(audio.samples):
        return float("-inf")
    peak = float(np.max(_peak_envelope(audio.samples)))
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def _limit(samples: NDArray[np.float64], rate: int, ceiling: float) -> NDArray[np.float64]:
    """A look-ahead peak limiter: gain falls smoothly before each peak above the ceiling.

    Minimum-filtering the needed gain over +/-w samples and then averaging over the same
    window keeps the applied gain at or below the needed gain at every peak, with ramps of
    about 2w samples instead of clicks.
    """
    peaks = _peak_envelope(samples)
    needed = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    window = max(1, int(rate * 0.004))
    gain = uniform_filter1d(minimum_filter1d(needed, 2 * window + 1), 2 * window + 1)
    limited: NDArray[np.float64] = samples * np.minimum(gain, needed)
    return limited


def normalise(
    audio: Audio, settings: PipelineSettings, *, ceiling_db: float | None = None
) -> Audio:
    """Bring speech to the target loudness with true peaks under the ceiling."""
    current = loudness(audio)
    if not np.isfinite(current):
        raise AudioRejected("there is no audible sound to normalise", reason="silent_audio")
    if ceiling_db is None:
        ceiling_db = settings.max_true_peak_dbtp - CODEC_HEADROOM_DB
    ceiling = 10 ** (ceiling_db / 20)
    samples = audio.samples.astype(np.float64)
    # Limiting lowers loudness a little, so gain and limit again until both hold; the limiter
    # runs at least once, since audio already at the target may still peak over the ceiling.
    for _ in range(4):
        gain = 10 ** ((settings.target_lufs - current) / 20)
        samples = _limit(samples * gain, audio.rate, ceiling)
        current = loudness(Audio(samples.astype(np.float32), audio.rate))
        if abs(settings.target_lufs - current) <= 0.2:
            break
    result = Audio(samples.astype(np.float32), audio.rate)
    over = true_peak_dbtp(result) - ceiling_db
    if over > 0:  # the limiter's residue: a final trim keeps the promise on peaks
        result = Audio((samples * 10 ** (-over / 20)).astype(np.float32), audio.rate)
    return result


def trim_silence(audio: Audio, *, threshold_db: float = -45.0, keep_s: float = 0.03) -> Audio:
    """Cut leading and trailing silence (synthesis pads sentences unevenly)."""
    if not len(audio.samples):
        return audio
    threshold = 10 ** (threshold_db / 20)
    loud = np.flatnonzero(np.abs(audio.samples) > threshold)
    if not len(loud):
        return Audio(audio.samples[:0], audio.rate)
    keep = int(keep_s * audio.rate)
    start = max(0, int(loud[0]) - keep)
    end = min(len(audio.samples), int(loud[-1]) + keep + 1)
    return Audio(audio.samples[start:end], audio.rate)


def silence(seconds: float, rate: int) -> Samples:
    return np.zeros(round(seconds * rate), dtype=np.float32)


_CODECS = {
    "opus": (".opus", "audio/ogg; codecs=opus", ["-c:a", "libopus", "-application", "voip"]),
    "aac": (".m4a", "audio/mp4", ["-c:a", "aac", "-movflags", "+faststart"]),
}


def encode(
    audio: Audio, *, directory: Path, stem: str, settings: PipelineSettings
) -> list[EncodedFile]:
    """Opus (~32 kb/s mono) for current phones and AAC for older ones, each file complete
    on disk before it gets its final name."""
    directory.mkdir(parents=True, exist_ok=True)
    master = audio.resampled(MASTER_RATE)
    files: list[EncodedFile] = []
    for fmt, (suffix, mime, codec_args) in _CODECS.items():
        bitrate = settings.opus_bitrate_kbps if fmt == "opus" else settings.aac_bitrate_kbps
        target = directory / f"{stem}{suffix}"
        partial = directory / f".{stem}{suffix}.part"
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                require_tool("ffmpeg"),
                "-nostdin",
                "-y",
                "-v",
                "error",
                "-f",
                "f32le",
                "-ar",
                str(MASTER_RATE),
                "-ac",
                "1",
                "-i",
                "pipe:0",
                *codec_args,
                "-b:a",
                f"{bitrate}k",
                "-map_metadata",
                "-1",
                "-fflags",
                "+bitexact",
                "-flags:a",
                "+bitexact",
                "-f",
                "ogg" if fmt == "opus" else "mp4",
                str(partial),
            ],
            input=master.samples.astype("<f4").tobytes(),
            capture_output=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            raise EngineFailed(
                f"ffmpeg could not encode {fmt}: {result.stderr.decode('utf-8', 'replace')[-300:]}"
            )
        os.replace(partial, target)
        files.append(
            EncodedFile(
                format=fmt,
                path=target,
                mime=mime,
                bytes=target.stat().st_size,
                duration_s=round(probe(target).duration_s, 3),
                sha256=sha256_file(target),
            )
        )
    return files


def render(audio: Audio, *, directory: Path, stem: str, settings: PipelineSettings) -> Rendered:
    """Normalise, encode, and check the encoded files: where a codec's overshoot puts a true
    peak over the limit, limit the master harder and encode again (loudness stays put)."""
    ceiling = settings.max_true_peak_dbtp - CODEC_HEADROOM_DB
    worst = float("inf")
    for _ in range(RENDER_ATTEMPTS):
        master = normalise(audio, settings, ceiling_db=ceiling)
        files = encode(master, directory=directory, stem=stem, settings=settings)
        decoded = [decode(encoded.path) for encoded in files]
        worst = max(true_peak_dbtp(played) for played in decoded)
        if worst <= settings.max_true_peak_dbtp:
            return Rendered(
                files=files,
                duration_s=round(master.duration_s, 3),
                loudness_lufs=round(min(loudness(played) for played in decoded), 2),
                true_peak_dbtp=round(worst, 2),
            )
        ceiling -= worst - settings.max_true_peak_dbtp + 0.3
    raise EngineFailed(
        f"encoded audio kept true peaks at {worst:.1f} dBTP, over {settings.max_true_peak_dbtp}"
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
