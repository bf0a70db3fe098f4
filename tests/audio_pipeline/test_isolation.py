"""The web process never loads the speech stack: a gunicorn worker stays small and starts fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "ctranslate2", "argostranslate", "faster_whisper", "TTS", "piper", "onnxruntime")


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"{statement}\n"
        "import json, sys\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"APP_ENV": "testing", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_web_app_loads_no_speech_engine() -> None:
    assert _loaded_after("import wsgi") == []


def test_the_pipeline_registry_and_text_tools_load_no_engine() -> None:
    statement = (
        "import audio_pipeline.registry, audio_pipeline.glossary, audio_pipeline.text, "
        "audio_pipeline.captions, audio_pipeline.errors, audio_pipeline.settings"
    )
    assert _loaded_after(statement) == []
