"""Caption readability over every seed narration (issue #15): cues under 0.83 s, under 1 s,
faster than 20 characters per second, and over two lines of 42, before and after
`audio_pipeline.captions.readable`, on sentence timings from real synthesis (espeak-ng for
Vietnamese, Piper for English, as the pipeline speaks them).

    ~/.cache/hoian/speech-<hash>/bin/python benchmarks/captions.py

"Before" is the splitting the pipeline did until issue #15 (greedy lines of 42, every two
lines a cue, each cue timed by its share of the sentence's characters), kept here as the
baseline. Results go to benchmarks/results/captions-<UTC time>.json.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from audio_pipeline.captions import (  # noqa: E402
    LINE_CHARS,
    MIN_CUE_S,
    Cue,
    characters_per_second,
    readable,
)
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from audio_pipeline.text import check_text  # noqa: E402
from audio_pipeline.tts import VoiceRegistry, synthesize  # noqa: E402


def greedy_split(cue: Cue) -> list[Cue]:
    """The splitting before issue #15, the baseline."""
    lines: list[str] = []
    current: list[str] = []
    for word in cue.text.split():
        if current and len(" ".join([*current, word])) > LINE_CHARS:
            lines.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        lines.append(" ".join(current))
    if len(lines) <= 2:
        return [Cue(cue.start, cue.end, "\n".join(lines))]
    blocks = ["\n".join(lines[i : i + 2]) for i in range(0, len(lines), 2)]
    total = sum(len(block) for block in blocks)
    out, start = [], cue.start
    for block in blocks:
        end = start + (cue.end - cue.start) * len(block) / total
        out.append(Cue(start, end, block))
        start = end
    return out


def stats(cues: list[Cue]) -> dict[str, Any]:
    durations = [cue.end - cue.start for cue in cues]
    return {
        "cues": len(cues),
        "under_0.83_s": sum(d < MIN_CUE_S - 1e-6 for d in durations),
        "under_1_s": sum(d < 1.0 for d in durations),
        "over_20_cps": sum(characters_per_second(cue) > 20.0 + 1e-6 for cue in cues),
        "over_2_lines_or_42": sum(
            len(lines := cue.text.split("\n")) > 2 or any(len(line) > LINE_CHARS for line in lines)
            for cue in cues
        ),
        "shortest_s": round(min(durations), 3),
    }


def main() -> None:
    settings = PipelineSettings.from_env()
    voices = VoiceRegistry.from_settings(settings)
    before: dict[str, list[Cue]] = {"vi": [], "en": []}
    after: dict[str, list[Cue]] = {"vi": [], "en": []}
    narrations = 0
    for path in sorted((ROOT / "content/seed/sites").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for lang, text in (data.get("narration") or {}).items():
            if lang not in before:
                continue
            narrations += 1
            structure = check_text(text, lang, max_chars=settings.max_text_chars)
            cues = synthesize(voices.best(lang), structure, lang).cues
            before[lang] += [piece for cue in cues for piece in greedy_split(cue)]
            after[lang] += readable(cues, lang)
    results = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "narrations": narrations,
        "before": {lang: stats(cues) for lang, cues in before.items()},
        "after": {lang: stats(cues) for lang, cues in after.items()},
        "before_all": stats(before["vi"] + before["en"]),
        "after_all": stats(after["vi"] + after["en"]),
    }
    target = ROOT / "benchmarks" / "results"
    target.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = target / f"captions-{stamp}.json"
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps(results, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
