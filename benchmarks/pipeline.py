"""Speech pipeline benchmark (issue #3): real-time factor of each stage on this machine, a
whole narration into every configured language with the shipped models, a worker's peak
memory, and what the glossary's hotwords change in Whisper's output.

Run in the speech virtualenv (it needs torch, Whisper, Piper and ffmpeg):

    make speech-venv && ~/.cache/hoian/speech-<hash>/bin/python benchmarks/pipeline.py
    python benchmarks/pipeline.py --minutes 3 --site japanese-covered-bridge

The narration is the site's seed script, repeated to about `--minutes` of Vietnamese speech.
Stages run one after another in this process, as one RQ worker would run them; peak memory is
this process's maximum RSS. Translation is timed only where a real Argos package is
installed: the tiny random-weight packages of the tests say nothing about speed. Results go
to benchmarks/results/pipeline-<UTC time>.json and are printed as a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from audio_pipeline import audio  # noqa: E402
from audio_pipeline.errors import ModelMissing  # noqa: E402
from audio_pipeline.evaluation import word_errors  # noqa: E402
from audio_pipeline.glossary import Glossary  # noqa: E402
from audio_pipeline.mt import ArgosTranslator  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from audio_pipeline.stt import Transcriber  # noqa: E402
from audio_pipeline.text import check_text, join  # noqa: E402
from audio_pipeline.tts import VoiceRegistry, synthesize  # noqa: E402

LANGUAGES = os.environ.get("HOIAN_LANGUAGES", "vi,en,ko,zh,ja,fr,de,es,ru").split(",")


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def _script(site: str, lang: str, minutes: float) -> str:
    data = yaml.safe_load((ROOT / f"content/seed/sites/{site}.yaml").read_text(encoding="utf-8"))
    script = data["narration"][lang].strip()
    # espeak-ng says about 190 Vietnamese syllables a minute at 150 wpm (syllables are short);
    # repeat the whole script until it lasts at least `minutes`.
    repeats = max(1, math.ceil(minutes * 190 / len(script.split())))
    return "\n\n".join([script] * repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default="japanese-covered-bridge")
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()

    settings = PipelineSettings.from_env()
    glossary = Glossary.from_yaml(ROOT / "content/seed/glossary.yaml")
    voices = VoiceRegistry.from_settings(settings)
    transcriber = Transcriber(settings)
    translator = ArgosTranslator(settings)
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "site": args.site,
        "stages": {},
        "languages": {},
        "glossary": {},
    }
    _, load_s = _timed(transcriber._load)
    results["stages"]["stt_model_load_s"] = round(load_s, 2)

    # The work a worker does for one narration, without the glossary measurement passes.
    production = {"text_source_s": 0.0, "recording_source_s": 0.0}
    source = _script(args.site, "vi", args.minutes)
    human_en = _script(args.site, "en", args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for lang in LANGUAGES:
            text = source if lang == "vi" else human_en if lang == "en" else None
            row: dict[str, Any] = {}
            if text is None:
                try:
                    structure = check_text(source, "vi", max_chars=10**6)
                    translation, mt_s = _timed(
                        translator.translate, structure, source="vi", target=lang, glossary=glossary
                    )
                    text = join(translation.structure, lang)
                    row["mt_s"] = round(mt_s, 2)
                    production["text_source_s"] += mt_s
                    production["recording_source_s"] += mt_s
                except ModelMissing as exc:
                    results["languages"][lang] = {"status": "pending", "reason": str(exc)}
                    continue
            structure = check_text(text, lang, max_chars=10**6)
            voice = voices.best(lang)
            speech, tts_s = _timed(synthesize, voice, structure, lang)
            rendered, render_s = _timed(
                audio.render, speech.audio, directory=out, stem=lang, settings=settings
            )
            duration = speech.audio.duration_s
            production["text_source_s"] += tts_s + render_s
            # A recorded source is transcribed and rendered instead of synthesised.
            production["recording_source_s"] += render_s + (0 if lang == "vi" else tts_s)
            row.update(
                status="ready",
                voice=voice.spec.id,
                audio_s=round(duration, 1),
                tts_rtf=round(tts_s / duration, 3),
                render_rtf=round(render_s / duration, 3),
                loudness_lufs=rendered.loudness_lufs,
                true_peak_dbtp=rendered.true_peak_dbtp,
                opus_kbps=round(rendered.files[0].bytes * 8 / duration / 1000, 1),
            )
            if lang in {"vi", "en"}:
                for prime in (False, True):
                    heard, stt_s = _timed(
                        transcriber.transcribe,
                        speech.audio,
                        lang=lang,
                        glossary=glossary,
                        prime=prime,
                    )
                    names = [n for n in glossary.forms(lang) if n.lower() in text.lower()]
                    found = [n for n in names if n.lower() in heard.text.lower()]
                    results["glossary"][f"{lang}/{'hotwords' if prime else 'plain'}"] = {
                        "wer": word_errors(text, heard.text, lang).wer,
                        "names_heard": f"{len(found)}/{len(names)}",
                        "stt_rtf": round(stt_s / duration, 3),
                    }
                    if not prime:
                        row["stt_rtf"] = round(stt_s / duration, 3)
                        if lang == "vi":
                            production["recording_source_s"] += stt_s
            results["languages"][lang] = row
    results["stages"]["narration_s"] = results["languages"]["vi"]["audio_s"]
    results["stages"].update({key: round(value, 1) for key, value in production.items()})
    results["stages"]["peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0
    )

    target = ROOT / "benchmarks" / "results"
    target.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = target / f"pipeline-{stamp}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
