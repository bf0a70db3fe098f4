"""Downloading real model sets, bundling them and installing a bundle offline, against a local
HTTP server that serves files in the publishers' formats (the argospm index.json, Piper's
voices.json, a faster-whisper folder), with every other socket refused."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.audio_pipeline.conftest import speech_stack_or_skip

speech_stack_or_skip()

from audio_pipeline import downloads  # noqa: E402
from audio_pipeline.downloads import Catalogue  # noqa: E402
from audio_pipeline.errors import (  # noqa: E402
    ChecksumMismatch,
    LicenceRefused,
    ModelDownloadFailed,
)
from audio_pipeline.registry import ModelRegistry  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from tests.audio_pipeline.builders import build_argos_package  # noqa: E402

SERVED = ("vi", "en", "ko", "zh", "ja", "fr", "de", "es", "ru")


@dataclass
class ModelServer:
    """A loopback HTTP server over a folder, with Range, and faults the tests switch on."""

    root: Path
    url: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    #: path -> bytes to send before the connection drops, once (an interrupted download)
    drop_after: dict[str, int] = field(default_factory=dict)

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")


def _handler(server_state: ModelServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            server_state.requests.append((self.path, self.headers.get("Range")))
            path = server_state.file(self.path)
            if not path.is_file():
                self.send_error(404, "Not Found")
                return
            data = path.read_bytes()
            start = 0
            if (wanted := self.headers.get("Range")) and wanted.startswith("bytes="):
                start = int(wanted[6:].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = server_state.drop_after.pop(self.path, None)
            self.wfile.write(body if cut is None else body[:cut])
            if cut is not None:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entry(
    model_id: str, kind: str, engine: str, languages: list[str], files: list[Path], **extra: Any
) -> dict[str, Any]:
    return {
        "id": model_id,
        "kind": kind,
        "engine": engine,
        "languages": languages,
        "name": model_id,
        "version": "1.0",
        "recommended": True,
        "files": [
            {"name": f.name, "url": "", "bytes": f.stat().st_size, "sha256": _sha(f)} for f in files
        ],
        "licence": "MIT",
        "licence_checked_at_install": False,
        "commercial_use": True,
        "sources": {"all": "built by the test"},
        **extra,
    }


@pytest.fixture(scope="module")
def fixture_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Real-format model files under a served folder, and a catalogue file pinning them."""
    root = tmp_path_factory.mktemp("served")
    entries: list[dict[str, Any]] = []
    argos_index: list[dict[str, Any]] = []
    for source, target in (("vi", "en"), ("en", "fr")):
        model_id = f"argos-{source}-{target}"
        package = build_argos_package(root / model_id, source, target)
        entries.append(
            _entry(
                model_id,
                "mt",
                "argostranslate",
                [source, target],
                [package],
                licence=None,
                licence_checked_at_install=True,
                index={
                    "kind": "argospm",
                    "code": f"translate-{source}_{target}",
                    "package_version": "1.9",
                },
            )
        )
        argos_index.append(
            {
                "package_version": "1.9",
                "argos_version": "1.9.0",
                "from_code": source,
                "to_code": target,
                "links": [f"https://argos-net.com/v1/{package.name}"],
                "code": f"translate-{source}_{target}",
            }
        )
    whisper = root / "whisper-small"
    whisper.mkdir()
    (whisper / "config.json").write_text(json.dumps({"alignment_heads": [], "lang_ids": []}))
    (whisper / "model.bin").write_bytes(bytes(range(256)) * 1200)
    (whisper / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE"}}))
    (whisper / "vocabulary.txt").write_text("<|endoftext|>\n")
    entries.append(
        _entry("whisper-small", "stt", "faster-whisper", ["*"], sorted(whisper.iterdir()))
    )
    voices: dict[str, Any] = {}
    for key, lang, licence in (
        ("fr_FR-test-medium", "fr", "CC-BY-4.0"),
        ("ru_RU-ncvoice-medium", "ru", "CC-BY-NC-SA-4.0"),
    ):
        folder = root / f"piper-{key}"
        folder.mkdir()
        (folder / f"{key}.onnx").write_bytes(b"ONNX" + bytes(4000))
        (folder / f"{key}.onnx.json").write_text(json.dumps({"audio": {"sample_rate": 22050}}))
        files = sorted(folder.iterdir())
        entries.append(
            _entry(
                f"piper-{key}",
                "tts",
                "piper",
                [lang],
                files,
                licence=licence,
                commercial_use="NC" not in licence,
                quality=70,
                index={"kind": "piper", "key": key},
            )
        )
        voices[key] = {
            "key": key,
            "language": {"code": key.split("-")[0], "family": lang},
            "quality": "medium",
            "num_speakers": 1,
            "files": {
                f"{lang}/{key}/{f.name}": {"size_bytes": f.stat().st_size, "md5_digest": ""}
                for f in files
            },
            "aliases": [],
        }
    entries.append(
        {
            **_entry("piper-de_DE-unpinned-medium", "tts", "piper", ["de"], []),
            "files": [{"name": "de.onnx", "url": "", "bytes": None, "sha256": None}],
        }
    )
    (root / "argospm").mkdir()
    (root / "argospm" / "index.json").write_text(json.dumps(argos_index, indent=4))
    (root / "piper").mkdir()
    (root / "piper" / "voices.json").write_text(json.dumps(voices, indent=4))
    catalogue = root.parent / "catalogue.json"
    catalogue.write_text(json.dumps({"format": 1, "indexes": {}, "models": entries}))
    return root, catalogue


@pytest.fixture
def server(fixture_files: tuple[Path, Path]) -> Iterator[ModelServer]:
    state = ModelServer(fixture_files[0])
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def loopback_only(server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Sockets may reach the test's server and nothing else; other attempts are recorded."""
    refused: list[Any] = []
    real_connect = socket.socket.connect
    port = int(server.url.rsplit(":", 1)[1])

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX or tuple(address[:2]) == ("127.0.0.1", port):
            real_connect(self, address)
            return
        refused.append(address)
        raise OSError(f"network blocked by the test: {address}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return refused


@pytest.fixture
def catalogue(fixture_files: tuple[Path, Path], server: ModelServer) -> Catalogue:
    return Catalogue.load(fixture_files[1], mirror=server.url)


def _nothing_installed(settings: PipelineSettings) -> None:
    registry = ModelRegistry(settings)
    assert not list(registry.argos_packages())
    assert not (registry.stt_dir / "whisper-small").exists()
    assert not registry.installed_voices()
    leftovers = [p.name for p in settings.model_dir.iterdir() if p.name.startswith(".stage-")]
    assert not leftovers


def test_the_recommended_set_is_verified_then_installed(
    settings: PipelineSettings, catalogue: Catalogue, loopback_only: list[Any]
) -> None:
    events: list[downloads.Progress] = []
    report = downloads.download_recommended(
        ModelRegistry(settings),
        ["vi", "en", "fr", "de"],
        catalogue=catalogue,
        progress=events.append,
    )
    assert sorted(state.spec.id for state in report.installed) == [
        "argos-en-fr",
        "argos-vi-en",
        "piper-fr_FR-test-medium",
        "whisper-small",
    ]
    assert all(state.installed for state in report.installed)
    assert [model_id for model_id, _ in report.skipped] == ["piper-de_DE-unpinned-medium"]
    assert "no pinned size and sha256" in report.skipped[0][1]
    registry = ModelRegistry(settings)
    assert registry.argos_package("vi", "en") and registry.argos_package("en", "fr")
    assert (registry.stt_dir / "whisper-small" / "model.bin").is_file()
    voice = json.loads((registry.tts_dir / "piper-fr_FR-test-medium" / "voice.json").read_text())
    assert voice["licence"] == "CC-BY-4.0" and voice["languages"] == ["fr"]
    assert not [p for p in (settings.model_dir / ".downloads").rglob("*") if p.is_file()]
    last = {event.file: event for event in events}
    assert last["model.bin"].done == last["model.bin"].total == 307200
    assert not loopback_only


def test_an_interrupted_download_resumes_where_it_stopped(
    settings: PipelineSettings, catalogue: Catalogue, server: ModelServer, loopback_only: list[Any]
) -> None:
    server.drop_after["/whisper-small/model.bin"] = 100_000
    with pytest.raises(ModelDownloadFailed, match="run the download again to resume"):
        downloads.download_models(ModelRegistry(settings), ["whisper-small"], catalogue=catalogue)
    _nothing_installed(settings)
    partial = settings.model_dir / ".downloads" / "whisper-small" / "model.bin.part"
    assert partial.stat().st_size == 100_000
    states = downloads.download_models(
        ModelRegistry(settings), ["whisper-small"], catalogue=catalogue
    )
    assert states[0].installed
    assert ("/whisper-small/model.bin", "bytes=100000-") in server.requests


def test_a_wrong_checksum_installs_nothing(
    settings: PipelineSettings,
    fixture_files: tuple[Path, Path],
    server: ModelServer,
    loopback_only: list[Any],
    tmp_path: Path,
) -> None:
    data = json.loads(fixture_files[1].read_text())
    whisper = next(m for m in data["models"] if m["id"] == "whisper-small")
    whisper["files"][1]["sha256"] = "0" * 64
    bad = tmp_path / "catalogue.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ChecksumMismatch, match="nothing was installed"):
        downloads.download_recommended(
            ModelRegistry(settings), ["vi", "en"], catalogue=Catalogue.load(bad, mirror=server.url)
        )
    _nothing_installed(settings)
    assert not list((settings.model_dir / ".downloads").rglob("*.part"))


def test_a_truncated_file_installs_nothing(
    settings: PipelineSettings,
    fixture_files: tuple[Path, Path],
    server: ModelServer,
    loopback_only: list[Any],
    tmp_path: Path,
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "whisper-small").mkdir()
    for f in (fixture_files[0] / "whisper-small").iterdir():
        data = f.read_bytes()
        (served / "whisper-small" / f.name).write_bytes(
            data[:-500] if f.name == "model.bin" else data
        )
    server.root = served
    with pytest.raises(ChecksumMismatch, match=r"model\.bin is 306700 bytes.*pins 307200"):
        downloads.download_models(
            ModelRegistry(settings),
            ["whisper-small"],
            catalogue=Catalogue.load(fixture_files[1], mirror=server.url),
        )
    _nothing_installed(settings)


def test_a_missing_file_says_404(
    settings: PipelineSettings, catalogue: Catalogue, server: ModelServer, loopback_only: list[Any]
) -> None:
    (server.root / "whisper-small" / "tokenizer.json").rename(server.root / "tokenizer.json")
    try:
        with pytest.raises(ModelDownloadFailed, match="answered 404") as caught:
            downloads.download_models(
                ModelRegistry(settings), ["whisper-small"], catalogue=catalogue
            )
    finally:
        (server.root / "tokenizer.json").rename(server.root / "whisper-small" / "tokenizer.json")
    assert caught.value.reason == "http_error"
    _nothing_installed(settings)


def test_a_noncommercial_voice_is_refused_before_any_byte(
    settings: PipelineSettings, catalogue: Catalogue, server: ModelServer, loopback_only: list[Any]
) -> None:
    with pytest.raises(LicenceRefused, match="HOIAN_ALLOW_NONCOMMERCIAL_MODELS"):
        downloads.download_models(
            ModelRegistry(settings), ["piper-ru_RU-ncvoice-medium"], catalogue=catalogue
        )
    assert server.requests == []
    _nothing_installed(settings)
    plan = downloads.plan_recommended(["ru"], settings=settings, catalogue=catalogue)
    assert ("piper-ru_RU-ncvoice-medium" in dict(plan.skipped)) and all(
        m.id != "piper-ru_RU-ncvoice-medium" for m in plan.models
    )


def test_a_full_disk_stops_before_downloading(
    settings: PipelineSettings,
    catalogue: Catalogue,
    server: ModelServer,
    loopback_only: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = downloads.shutil.disk_usage
    monkeypatch.setattr(
        downloads.shutil, "disk_usage", lambda path: real(path)._replace(free=50_000)
    )
    with pytest.raises(ModelDownloadFailed, match="not enough disk space") as caught:
        downloads.download_recommended(ModelRegistry(settings), ["vi", "en"], catalogue=catalogue)
    assert caught.value.reason == "disk_full"
    assert all(path.endswith(".json") for path, _ in server.requests)  # only the indexes
    _nothing_installed(settings)


def test_a_bundle_installs_offline_and_a_tampered_one_installs_nothing(
    settings: PipelineSettings,
    catalogue: Catalogue,
    loopback_only: list[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = tmp_path / "models.tar"
    manifest = downloads.write_bundle(
        ModelRegistry(settings), bundle, ["vi", "en"], catalogue=catalogue
    )
    assert [m["id"] for m in manifest["models"]] == ["argos-vi-en", "whisper-small"]
    with tarfile.open(bundle) as tar:
        assert tar.getnames()[0] == "manifest.json"

    # From here on the machine is offline: no socket at all.
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("offline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    offline = PipelineSettings(model_dir=tmp_path / "offline", threads=1)
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(bundle) as source, tarfile.open(tampered, "w") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith("model.bin"):
                data = data[:-1] + b"\x00"
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    with pytest.raises(ChecksumMismatch, match="Nothing was installed"):
        downloads.install_bundle(ModelRegistry(offline), tampered)
    _nothing_installed(offline)
    assert not [p for p in offline.model_dir.iterdir() if p.name.startswith(".bundle-")]

    states = downloads.install_bundle(ModelRegistry(offline), bundle)
    assert [s.spec.id for s in states] == ["argos-vi-en", "whisper-small"]
    assert ModelRegistry(offline).argos_package("vi", "en") is not None
    assert attempts == []


def test_the_real_catalogue_pins_what_it_knows_and_says_what_it_does_not(
    settings: PipelineSettings,
) -> None:
    catalogue = Catalogue.load()
    ids = {model.id for model in catalogue.models}
    assert {"argos-vi-en", "argos-en-vi", "whisper-small", "whisper-medium"} <= ids
    for lang in SERVED:
        if lang not in {"vi", "en"}:
            assert f"argos-en-{lang}" in ids, lang
    for lang in ("vi", "fr", "de", "es", "ru", "zh"):
        assert any(m.kind == "tts" and lang in m.languages for m in catalogue.models), lang
    for model in catalogue.models:
        assert model.raw["sources"], model.id
        for file in model.files:
            assert file.url.startswith("https://"), file.url
            if file.sha256 is None or file.bytes is None:
                assert "not found" in json.dumps(model.raw["sources"]), model.id
            else:
                assert len(file.sha256) == 64 and int(file.sha256, 16) >= 0
                assert file.bytes > 0
    plan = downloads.plan_recommended(list(SERVED), settings=settings, catalogue=catalogue)
    planned = {model.id for model in plan.models}
    assert {f"argos-en-{lang}" for lang in SERVED if lang not in {"vi", "en"}} <= planned
    assert {"argos-vi-en", "argos-en-vi", "whisper-small", "piper-vi_VN-vais1000-medium"} <= planned
    assert "whisper-medium" not in planned  # 1.5 GB: asked for by name only
    assert sorted(dict(plan.skipped)) == [
        "piper-de_DE-thorsten-medium",
        "piper-es_ES-davefx-medium",
        "piper-fr_FR-siwis-medium",
        "piper-ru_RU-denis-medium",
        "piper-zh_CN-huayan-medium",
    ]
    assert 1.0e9 < plan.total_bytes < 1.5e9
