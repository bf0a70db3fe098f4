"""Uploads are validated by decoding them; guide audio is loud enough for a phone speaker,
never clips, and comes out as Opus and AAC with checksums and durations."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.audio_pipeline.conftest import speech_stack_or_skip

speech_stack_or_skip()

import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from audio_pipeline import audio  # noqa: E402
from audio_pipeline.errors import AudioRejected  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from tests.audio_pipeline.bombs import opus_granule_bomb  # noqa: E402

SENTENCE = "Welcome to the old town of Hoi An. The covered bridge is in front of you."


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".m4a", ".ogg", ".webm"])
def test_every_accepted_container_decodes(
    espeak_wav: Callable[..., Path], settings: PipelineSettings, suffix: str
) -> None:
    path = espeak_wav(SENTENCE, suffix=suffix)
    decoded, info = audio.load_upload(path, settings)
    assert decoded.rate == audio.MASTER_RATE
    assert 3.0 < decoded.duration_s < 8.0
    assert abs(decoded.duration_s - info.duration_s) < 0.2
    assert audio.loudness(decoded) > -40


def _reason(path: Path, settings: PipelineSettings) -> str:
    with pytest.raises(AudioRejected) as caught:
        audio.load_upload(path, settings)
    return caught.value.reason


def test_garbage_and_truncated_files_are_rejected(
    espeak_wav: Callable[..., Path], settings: PipelineSettings, tmp_path: Path
) -> None:
    garbage = tmp_path / "narration.mp3"
    garbage.write_bytes(b"ID3" + bytes(range(256)) * 64)
    assert _reason(garbage, settings) == "corrupt_audio"
    with pytest.raises(AudioRejected) as caught:
        audio.load_upload(garbage, settings)
    assert str(tmp_path) not in str(caught.value)  # staff see the reason, not server paths
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio", encoding="utf-8")
    assert _reason(text, settings) == "corrupt_audio"
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert _reason(empty, settings) == "empty_file"
    full = espeak_wav(SENTENCE * 3, suffix=".m4a").read_bytes()
    truncated = tmp_path / "cut.m4a"
    truncated.write_bytes(full[: len(full) // 2])
    assert _reason(truncated, settings) == "corrupt_audio"


def test_silence_and_limits_are_rejected(
    espeak_wav: Callable[..., Path], settings: PipelineSettings, tmp_path: Path
) -> None:
    quiet = tmp_path / "quiet.wav"
    soundfile.write(quiet, np.zeros(48_000 * 3, dtype=np.float32), 48_000)
    assert _reason(quiet, settings) == "silent_audio"
    short = tmp_path / "short.wav"
    soundfile.write(short, 0.1 * np.ones(4_800, dtype=np.float32), 48_000)
    assert _reason(short, settings) == "audio_too_short"
    speech = espeak_wav(SENTENCE)
    tight = PipelineSettings(model_dir=settings.model_dir, max_upload_bytes=1000)
    assert _reason(speech, tight) == "file_too_large"
    brief = PipelineSettings(model_dir=settings.model_dir, max_audio_seconds=2.0)
    assert _reason(speech, brief) == "audio_too_long"


_LOAD_IN_A_CHILD = """
import sys
from pathlib import Path
from audio_pipeline import audio
from audio_pipeline.errors import AudioRejected
from audio_pipeline.settings import PipelineSettings
from tests.audio_pipeline.bombs import peak_rss_mb
try:
    audio.load_upload(Path(sys.argv[1]), PipelineSettings(max_audio_seconds=float(sys.argv[2])))
except AudioRejected as exc:
    print(exc.reason, peak_rss_mb())
"""


def test_a_granule_bomb_stops_at_the_limit_in_bounded_memory(tmp_path: Path) -> None:
    """33 minutes of Opus whose container claims 2: ffprobe believes it (under a 5-minute
    limit), and the decoder stops at 5 minutes plus the margin; measured in a child process,
    whose peak memory is its own (decoding all of it held 0.8 GB before)."""
    bomb = opus_granule_bomb(tmp_path / "bomb.opus", block_s=10, repeats=200, claimed_s=120)
    assert bomb.stat().st_size < 2_000_000
    assert abs(audio.probe(bomb).duration_s - 120) < 1
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_A_CHILD, str(bomb), "300"],
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    reason, peak_mb = done.stdout.decode().split()
    assert reason == "audio_too_long"
    assert float(peak_mb) < 300, peak_mb
    # The bound is the limit's worth of samples: a real recording under it still decodes.
    honest = opus_granule_bomb(tmp_path / "honest.opus", block_s=10, repeats=3, claimed_s=30)
    assert abs(audio.decode(honest, max_seconds=300).duration_s - 30) < 0.5


def test_unaccepted_containers_are_refused(
    espeak_wav: Callable[..., Path], settings: PipelineSettings, tmp_path: Path
) -> None:
    wav = espeak_wav(SENTENCE)
    video = tmp_path / "clip.avi"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(video)], check=True)
    assert _reason(video, settings) == "unsupported_format"


@pytest.mark.parametrize("gain_db", [-30.0, 0.0, 12.0])
def test_guide_audio_is_normalised_and_encoded(
    espeak_wav: Callable[..., Path], settings: PipelineSettings, tmp_path: Path, gain_db: float
) -> None:
    decoded, _ = audio.load_upload(espeak_wav(SENTENCE * 2), settings)
    # Quiet, as recorded, and hot enough to clip: all must come out the same.
    scaled = audio.Audio((decoded.samples * 10 ** (gain_db / 20)).astype(np.float32), decoded.rate)
    rendered = audio.render(scaled, directory=tmp_path / "out", stem="guide", settings=settings)
    files = rendered.files
    assert [f.format for f in files] == ["opus", "aac"]
    assert rendered.true_peak_dbtp <= settings.max_true_peak_dbtp
    assert rendered.loudness_lufs == pytest.approx(settings.target_lufs, abs=1.0)
    for encoded in files:
        assert encoded.path.exists() and encoded.bytes == encoded.path.stat().st_size
        assert encoded.sha256 == audio.sha256_file(encoded.path)
        assert encoded.duration_s == pytest.approx(rendered.duration_s, abs=0.1)
        played = audio.decode(encoded.path)
        assert audio.loudness(played) == pytest.approx(settings.target_lufs, abs=1.0)
        assert audio.true_peak_dbtp(played) <= settings.max_true_peak_dbtp
    opus = files[0]
    kbps = opus.bytes * 8 / opus.duration_s / 1000
    assert 20 < kbps < 45, kbps
    assert not list((tmp_path / "out").glob(".*.part"))


def test_audio_already_at_the_target_still_gets_its_peaks_limited(
    settings: PipelineSettings,
) -> None:
    rate = 48_000
    t = np.arange(rate * 4) / rate
    tone = 0.1 * np.sin(2 * np.pi * 220 * t)
    tone[rate : rate + 200] += 0.9
    at_target = tone * 10 ** ((settings.target_lufs - audio.loudness(audio.Audio(tone, rate))) / 20)
    master = audio.normalise(audio.Audio(at_target.astype(np.float32), rate), settings)
    assert audio.true_peak_dbtp(master) <= settings.max_true_peak_dbtp - 0.5
    assert audio.loudness(master) == pytest.approx(settings.target_lufs, abs=0.5)


def test_synthetic_peaks_are_limited_not_clipped(settings: PipelineSettings) -> None:
    rate = 48_000
    t = np.arange(rate * 4) / rate
    tone = 0.05 * np.sin(2 * np.pi * 220 * t)
    tone[rate : rate + 200] += 0.9  # a click far above the rest
    master = audio.normalise(audio.Audio(tone.astype(np.float32), rate), settings)
    assert audio.true_peak_dbtp(master) <= settings.max_true_peak_dbtp - 0.5
    assert audio.loudness(master) == pytest.approx(settings.target_lufs, abs=0.5)


def test_true_peak_is_measured_the_same_across_block_edges() -> None:
    from scipy.signal import resample_poly

    rng = np.random.default_rng(3)
    rate = 48_000
    samples = (0.1 * rng.standard_normal(rate * 25)).astype(np.float32)
    samples[480_000 - 1 : 480_000 + 1] = [0.7, -0.7]  # an inter-sample peak on a block edge
    whole = 20 * np.log10(np.max(np.abs(resample_poly(samples.astype(np.float64), 4, 1))))
    assert audio.true_peak_dbtp(audio.Audio(samples, rate)) == pytest.approx(whole, abs=0.01)
