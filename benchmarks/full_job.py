"""The whole speech job at full size (issue #15): a Vietnamese narration of about `--minutes`
into eight languages, with translation compute of real Argos size, synthesis, rendering and
hearing every track back, as one worker runs it. Goal: <= 5 min on 2 cores, peak worker
memory <= 1.5 GB.

No real Argos package can be had here, so translation runs on random-weight CTranslate2 models
of the architecture and vocabulary size argos-train gives its packages (OpenNMT-py transformer:
6 + 6 layers, d_model 512, 8 heads, feed-forward 2048, shared SentencePiece vocabulary of
50,000, int8), through the pipeline's own ArgosTranslator and Argos's own
apply_packaged_translation. Random weights never emit end-of-sentence, so every output is held
to 1.2 target tokens per source token, about what a trained model writes. Only speed is
measured here: the output of such a model is noise.

Run in the speech virtualenv:

    ~/.cache/hoian/speech-<hash>/bin/python benchmarks/full_job.py --minutes 3

Stages run one after another in this process, as one worker would run a job's tasks: the
pivot vi -> en once, en -> each other language (the route vi -> en -> X, each source sentence
through vi -> en once), then per language a speech track (synthesis, captions, loudness,
Opus + AAC) with the best offered voice and Whisper base hearing it back. Voices are
calibrated first (once per voice and model directory; reported apart). Results go to
benchmarks/results/full-job-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import io
import json
import math
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# benchmarks/catalogue.py would shadow the `catalogue` package that Argos's spaCy imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from audio_pipeline import intelligibility, steps  # noqa: E402
from audio_pipeline.errors import ModelMissing  # noqa: E402
from audio_pipeline.glossary import Glossary  # noqa: E402
from audio_pipeline.mt import ArgosTranslator  # noqa: E402
from audio_pipeline.settings import PipelineSettings  # noqa: E402
from audio_pipeline.stt import Transcriber  # noqa: E402
from audio_pipeline.text import check_text  # noqa: E402
from audio_pipeline.tts import VoiceRegistry  # noqa: E402

TARGETS = ["en", "ko", "zh", "ja", "fr", "de", "es", "ru"]
#: argos-train's config.yml and train.py (argosopentech/argos-train).
ARGOS_LAYERS, ARGOS_HEADS, ARGOS_D, ARGOS_FF, ARGOS_VOCAB = 6, 8, 512, 2048, 50_000
TARGET_TOKENS_PER_SOURCE_TOKEN = 1.2


def _memory() -> dict[str, int]:
    """This process's resident memory now and at its peak so far, in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[{"VmRSS": "rss_mb", "VmHWM": "peak_mb"}[key]] = int(value.split()[0]) // 1024
    return values


def _cpu() -> float:
    """CPU seconds of this process and the programs it ran (ffmpeg, espeak-ng)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


CPU_SECONDS: dict[str, float] = {}


def _timed(fn: Any, *args: Any, label: str = "", **kwargs: Any) -> tuple[Any, float]:
    """Run `fn`, returning its result and wall seconds; its CPU seconds go to CPU_SECONDS.

    On a machine shared with other work the wall time grows with the load; CPU time much
    less, and on an idle 2-core machine the wall time lies between CPU/2 and CPU.
    """
    started, cpu = time.perf_counter(), _cpu()
    result = fn(*args, **kwargs)
    if label:
        CPU_SECONDS[label] = CPU_SECONDS.get(label, 0.0) + _cpu() - cpu
    return result, time.perf_counter() - started


def _seed(site: str) -> dict[str, str]:
    data = yaml.safe_load((ROOT / f"content/seed/sites/{site}.yaml").read_text(encoding="utf-8"))
    return {lang: text.strip() for lang, text in data["narration"].items()}


#: Characters a minute for languages written without spaces (Japanese narration is read at
#: about 300 kana and kanji a minute), where words cannot be counted.
UNSPACED_CHARS_PER_MINUTE = {"ja": 300.0, "zh": 250.0}


def _repeat(script: str, minutes: float, words_per_minute: float, lang: str = "") -> str:
    if lang in UNSPACED_CHARS_PER_MINUTE:
        length, per_minute = len(script), UNSPACED_CHARS_PER_MINUTE[lang]
    else:
        length, per_minute = len(script.split()), words_per_minute
    repeats = max(1, math.ceil(minutes * per_minute / length))
    return "\n\n".join([script] * repeats)


def _sentencepiece() -> bytes:
    """A SentencePiece model of a few thousand pieces over the seed narrations, so that a
    sentence is cut into about as many tokens as a 50,000-piece model would cut it."""
    import sentencepiece

    corpus: list[str] = []
    for path in sorted((ROOT / "content/seed/sites").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for text in (data.get("narration") or {}).values():
            corpus += [line for line in text.splitlines() if line.strip()]
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        vocab_size=4000,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


def _shape(name: str) -> tuple[int, ...]:
    d, ff, vocab = ARGOS_D, ARGOS_FF, ARGOS_VOCAB
    if "embeddings" in name or name.endswith("projection/weight"):
        return (vocab, d)
    if "layer_norm" in name:
        return (d,)
    if "self_attention/linear_0" in name:
        return (3 * d, d)
    if "attention/linear_1" in name and "self_attention" not in name:
        return (2 * d, d)
    if "ffn/linear_0" in name:
        return (ff, d)
    if "ffn/linear_1" in name:
        return (d, ff)
    return (d, d)


def _set(spec: Any, name: str, value: Any) -> None:
    obj = spec
    parts = name.split("/")
    for part in parts[:-1]:
        base, _, index = part.rpartition("_")
        obj = (
            getattr(obj, base)[int(index)]
            if index.isdigit() and not hasattr(obj, part)
            else getattr(obj, part)
        )
    setattr(obj, parts[-1], value)


def build_argos_size_model(folder: Path) -> dict[str, Any]:
    """One random-weight model of Argos's size, saved int8 with its SentencePiece model."""
    import sentencepiece
    from ctranslate2.specs import TransformerSpec

    sp_model = _sentencepiece()
    processor = sentencepiece.SentencePieceProcessor(model_proto=sp_model)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocab = pieces + [f"▁w{i:05d}" for i in range(ARGOS_VOCAB - len(pieces))]
    spec = TransformerSpec.from_config(
        num_layers=(ARGOS_LAYERS, ARGOS_LAYERS), num_heads=ARGOS_HEADS
    )
    rng = np.random.default_rng(15)
    parameters = 0
    for name, value in spec.variables(ordered=True):
        if value is not None:
            continue
        shape = _shape(name)
        parameters += int(np.prod(shape))
        if name.endswith("gamma"):
            array = np.ones(shape, dtype=np.float32)
        elif name.endswith("beta"):
            array = np.zeros(shape, dtype=np.float32)
        else:
            array = rng.standard_normal(shape, dtype=np.float32) * 0.05
        _set(spec, name, array)
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.optimize(quantization="int8")
    (folder / "model").mkdir(parents=True)
    spec.save(str(folder / "model"))
    (folder / "sentencepiece.model").write_bytes(sp_model)
    return {
        "parameters_m": round(parameters / 1e6, 1),
        "model_bin_mb": round((folder / "model" / "model.bin").stat().st_size / 1e6, 1),
        "sentencepiece_pieces": len(pieces),
    }


def install_argos_size_packages(model_dir: Path, model: Path, pairs: list[tuple[str, str]]) -> None:
    """Package folders for each pair over the one model (same weights, same speed)."""
    packages = model_dir / "argos" / "packages"
    for source, target in pairs:
        folder = packages / f"translate-{source}_{target}"
        folder.mkdir(parents=True)
        (folder / "model").symlink_to(model / "model", target_is_directory=True)
        shutil.copyfile(model / "sentencepiece.model", folder / "sentencepiece.model")
        metadata = {
            "package_version": "1.9",
            "argos_version": "1.9.0",
            "from_code": source,
            "to_code": target,
            "type": "translate",
            "code": f"translate-{source}_{target}",
            "license": "random weights for benchmarking only",
        }
        (folder / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
        (folder / "README.md").write_text("Random weights, Argos's architecture.", "utf-8")


class HeldLength:
    """A CTranslate2 translator whose outputs stop where a trained model's would."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def translate_batch(self, batch: list[list[str]], **kwargs: Any) -> Any:
        longest = max(len(tokens) for tokens in batch)
        length = max(2, round(longest * TARGET_TOKENS_PER_SOURCE_TOKEN))
        return self.real.translate_batch(
            batch, min_decoding_length=length, max_decoding_length=length, **kwargs
        )


def _held(translator: ArgosTranslator) -> None:
    real_hop = translator._hop

    def hop(source: str, target: str) -> Any:
        found = real_hop(source, target)
        if not isinstance(found.translator, HeldLength):
            found.translator = HeldLength(found.translator)
        return found

    translator._hop = hop  # type: ignore[method-assign]


def _model_dir(tmp: Path) -> Path:
    """A fresh model directory that borrows the shipped models already assembled here."""
    model_dir = tmp / "models"
    for part in ("stt/whisper-base", "tts/kokoro-82m-ja"):
        found = PipelineSettings.from_env().model_dir / part
        (model_dir / part).parent.mkdir(parents=True, exist_ok=True)
        if (found / ".verified.json").is_file():
            (model_dir / part).symlink_to(found, target_is_directory=True)
    return model_dir


def _speech_text(lang: str, seed: dict[str, str], minutes: float) -> str:
    """What the voice says: the seed's own text where there is one, else the language's
    calibration sentences repeated to a narration's length (translation output is noise)."""
    if lang in seed:
        return _repeat(seed[lang], minutes, 190 if lang == "vi" else 150, lang)
    sentences = intelligibility.calibration_sentences(lang)
    per_minute = 14.0  # calibration sentences said a minute (Kokoro ja, espeak-ng de/es)
    paragraph = ("" if lang in {"ja", "zh"} else " ").join(sentences)
    repeats = max(1, math.ceil(minutes * per_minute / len(sentences)))
    return "\n\n".join([paragraph] * repeats)


class _Ungated(VoiceRegistry):
    """Every candidate offered, calibrated or not: a server with a voice for each language."""

    def calibration(self, spec: Any, lang: str) -> Any:
        return None


def _best(voices: VoiceRegistry, lang: str) -> str | None:
    try:
        return voices.best(lang).spec.id
    except ModelMissing:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default="japanese-covered-bridge")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument(
        "--ungated",
        action="store_true",
        help="also speak with voices calibration refused (espeak-ng fr, ru), as a server with "
        "a voice for every language would",
    )
    args = parser.parse_args()
    seed = _seed(args.site)
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "site": args.site,
        "minutes": args.minutes,
        "translation": {},
        "languages": {},
        "one_off": {},
        "memory": {},
        "ungated": args.ungated,
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir = _model_dir(tmp)
        settings = PipelineSettings.from_env(model_dir=model_dir)
        results["machine"]["threads"] = settings.threads
        # Built in a child process, so that its float32 copy does not count in our peak memory.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            built, build_s = _timed(
                lambda: pool.submit(build_argos_size_model, tmp / "argos-size").result()
            )
        results["one_off"]["build_random_argos_model_s"] = round(build_s, 1)
        results["translation"]["model"] = built
        pairs = [("vi", "en")] + [("en", lang) for lang in TARGETS if lang != "en"]
        install_argos_size_packages(model_dir, tmp / "argos-size", pairs)

        glossary = Glossary.from_yaml(ROOT / "content/seed/glossary.yaml")
        transcriber = Transcriber(settings)
        _, load_s = _timed(transcriber._load, label="job")
        job_s = load_s
        results["translation"]["whisper_load_s"] = round(load_s, 2)

        # Translation: the pivot once, then English into every other language.
        translator = ArgosTranslator(settings)
        _held(translator)
        source_text = _repeat(seed["vi"], args.minutes, 190)
        english = _repeat(seed["en"], args.minutes, 150)
        vi_structure = check_text(source_text, "vi", max_chars=10**6)
        _, pivot_s = _timed(
            translator.translate,
            vi_structure,
            source="vi",
            target="en",
            glossary=glossary,
            label="translation",
        )
        results["translation"]["vi-en_s"] = round(pivot_s, 1)
        results["translation"]["sentences"] = sum(len(p) for p in vi_structure)
        mt_s = pivot_s
        en_structure = check_text(english, "en", max_chars=10**6)
        for lang in TARGETS:
            if lang == "en":
                continue
            _, hop_s = _timed(
                translator.translate,
                en_structure,
                source="en",
                target=lang,
                glossary=glossary,
                label="translation",
            )
            results["translation"][f"en-{lang}_s"] = round(hop_s, 1)
            mt_s += hop_s
        results["translation"]["total_s"] = round(mt_s, 1)
        results["translation"]["models_loaded_at_end"] = len(translator._hops)
        results["memory"]["after_translation"] = _memory()
        translator.release()  # a worker moving on to speech tasks (guides side: see docs)
        job_s += mt_s

        # Calibration: once per voice and model directory, then cached.
        voices = VoiceRegistry.from_settings(settings, transcriber=transcriber)
        calibrations: dict[str, Any] = {}
        calibrate_s = 0.0
        offered: dict[str, str | None] = {}
        for lang in ["vi", *TARGETS]:
            started = time.perf_counter()
            try:
                offered[lang] = voices.best(lang).spec.id
            except ModelMissing as exc:
                refused = voices.candidates(lang)
                offered[lang] = refused[0].id if args.ungated and refused else None
                calibrations[lang] = {"status": "pending", "reason": exc.message}
            calibrate_s += time.perf_counter() - started
            for spec in voices.candidates(lang):
                found = voices.calibration(spec, lang)
                if found is not None:
                    calibrations.setdefault(lang, {})[spec.id] = {
                        "metric": found.metric,
                        "error": found.error,
                        "offered": found.intelligible,
                    }
        results["one_off"]["calibration_s"] = round(calibrate_s, 1)
        results["calibration"] = calibrations

        # Speech: each language with a voice; the track heard back as a listener gets it.
        ungated = _Ungated.from_settings(settings)
        out = tmp / "tracks"
        for lang in ["vi", *TARGETS]:
            if offered[lang] is None:
                results["languages"][lang] = {"status": "pending"}
                continue
            folder = out / lang
            folder.mkdir(parents=True)
            text = _speech_text(lang, seed, args.minutes)
            # Ungated, a refused voice speaks through a registry that does not calibrate.
            speaking = voices if offered[lang] == _best(voices, lang) else ungated
            track, speech_s = _timed(
                steps.speech_track,
                label=f"speech-{lang}",
                text=text,
                lang=lang,
                directory=folder,
                voices=speaking,
                settings=settings,
            )
            heard, hear_s = _timed(
                steps.hear_track,
                track,
                transcriber=transcriber,
                settings=settings,
                label=f"hear-{lang}",
            )
            job_s += speech_s + hear_s
            results["languages"][lang] = {
                "voice": track.voice_id,
                "audio_s": round(track.duration_s, 1),
                "speech_track_s": round(speech_s, 1),
                "speech_rtf": round(speech_s / track.duration_s, 3),
                "hear_back_s": round(hear_s, 1),
                "hear_back_rtf": round(hear_s / track.duration_s, 3),
                "round_trip": {"metric": heard.metric, "error": heard.error, "bound": heard.bound},
                "held_for_review": not heard.intelligible,
                "memory": _memory(),
            }
        results["cpu_s"] = {key: round(value, 1) for key, value in CPU_SECONDS.items()}
        results["job_cpu_s"] = round(sum(CPU_SECONDS.values()), 1)
        results["job_s"] = round(job_s, 1)
        results["job_with_calibration_s"] = round(job_s + calibrate_s, 1)
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]

    target = ROOT / "benchmarks" / "results"
    target.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = target / f"full-job-{stamp}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
