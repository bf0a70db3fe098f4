"""Fixtures for the speech pipeline: settings over a temporary model directory, the real
Whisper base assembled once per session, tiny models, speech made with espeak-ng."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SPEECH_MODULES = ("numpy", "scipy", "soundfile", "pyloudnorm", "faster_whisper", "jiwer")


def speech_stack_or_skip() -> None:
    """Skip where the speech stack is not installed (the web virtualenv)."""
    for name in SPEECH_MODULES:
        pytest.importorskip(name, reason="the speech stack is installed by `make speech-venv`")
    for tool in ("ffmpeg", "ffprobe", "espeak-ng"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (make system-deps)")


@pytest.fixture(scope="session")
def shared_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory for the session, where Whisper base is assembled once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def settings(shared_model_dir: Path, tmp_path: Path) -> Any:
    """Pipeline settings over a fresh model directory that shares the assembled Whisper."""
    speech_stack_or_skip()
    from audio_pipeline.settings import PipelineSettings

    model_dir = tmp_path / "models"
    (model_dir / "stt").mkdir(parents=True)
    whisper = shared_model_dir / "stt" / "whisper-base"
    if whisper.exists():
        (model_dir / "stt" / "whisper-base").symlink_to(whisper)
    return PipelineSettings(model_dir=model_dir, threads=2)


@pytest.fixture(scope="session")
def transcriber(shared_model_dir: Path) -> Any:
    """The real Whisper base (assembled from its two packages), loaded once per session."""
    speech_stack_or_skip()
    from audio_pipeline.settings import PipelineSettings
    from audio_pipeline.stt import Transcriber

    return Transcriber(PipelineSettings(model_dir=shared_model_dir, threads=2))


@pytest.fixture
def espeak_wav(tmp_path: Path) -> Callable[..., Path]:
    """Speech from espeak-ng as a WAV file, re-encoded by ffmpeg to any container."""

    def make(text: str, *, voice: str = "en-us", suffix: str = ".wav") -> Path:
        speech_stack_or_skip()
        wav = tmp_path / f"speech-{abs(hash((text, voice)))}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
        if suffix == ".wav":
            return wav
        out = wav.with_suffix(suffix)
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), str(out)], check=True
        )
        return out

    return make


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every attempt to open a network connection fails, and is recorded."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def refuse(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            real_connect(self, address)
            return
        attempts.append(address)
        raise OSError(f"network blocked by the test: {address}")

    def refuse_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        raise OSError(f"network blocked by the test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse_connection)
    yield attempts
