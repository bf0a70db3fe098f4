"""Tiny random-weight models that exercise the real Argos and Coqui loading and inference code.

Their output is noise: they prove that a package or voice folder loads and runs, never what
a translation or a voice sounds like. Voice manifests say `"purpose": "test"`, so the voice
registry never offers them unless a test asks for it.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

CORPUS = (
    "Bạn đang đứng trước Chùa Cầu, biểu tượng của phố cổ Hội An.",
    "You are standing in front of the Japanese Covered Bridge in Hội An.",
    "Vous êtes devant le pont couvert japonais de Hội An.",
    "The bridge is about eighteen metres long, built of wood.",
)


def _sentencepiece(vocab_size: int = 64) -> bytes:
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(list(CORPUS) * 20),
        model_writer=model,
        vocab_size=vocab_size,
        character_coverage=1.0,
        model_type="unigram",
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


def _shape(name: str, vocab: int, d: int, ff: int) -> tuple[int, ...]:
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


def build_argos_package(directory: Path, source: str, target: str, *, seed: int = 0) -> Path:
    """An .argosmodel (zip) with a 1+1-layer random CTranslate2 transformer and SentencePiece."""
    import numpy as np
    import sentencepiece
    from ctranslate2.specs import TransformerSpec

    sp_model = _sentencepiece()
    processor = sentencepiece.SentencePieceProcessor(model_proto=sp_model)
    vocab = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    spec = TransformerSpec.from_config(num_layers=(1, 1), num_heads=2)
    rng = np.random.default_rng(seed)
    d, ff = 16, 32
    for name, value in spec.variables(ordered=True):
        if value is not None:
            continue
        shape = _shape(name, len(vocab), d, ff)
        if name.endswith("gamma"):
            array = np.ones(shape)
        elif name.endswith("beta"):
            array = np.zeros(shape)
        else:
            array = rng.normal(0, 0.1, shape)
        _set(spec, name, array.astype(np.float32))
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()

    top = f"translate-{source}_{target}-test"
    staging = directory / f".build-{top}"
    (staging / top / "model").mkdir(parents=True)
    spec.save(str(staging / top / "model"))
    (staging / top / "sentencepiece.model").write_bytes(sp_model)
    metadata = {
        "package_version": "0.0.1",
        "argos_version": "1.11.0",
        "from_code": source,
        "to_code": target,
        "type": "translate",
        "code": f"translate-{source}_{target}",
        "license": "test-only random weights",
    }
    (staging / top / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    (staging / top / "README.md").write_text("Random weights for tests.", encoding="utf-8")
    archive = directory / f"{top}.argosmodel"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted((staging / top).rglob("*")):
            bundle.write(path, str(path.relative_to(staging)))
    return archive


VITS_CHARACTERS = (
    "abcdefghijklmnopqrstuvwxyzàáâãèéêìíòóôõùúýăđĩũơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
)


def build_coqui_vits_voice(
    directory: Path, *, voice_id: str, languages: list[str], **manifest: Any
) -> Path:
    """A Coqui VITS voice folder (config.json, model.pth, voice.json) with random weights."""
    import torch
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    characters = CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters",
        pad="_",
        eos="",
        bos="",
        blank=None,
        characters=VITS_CHARACTERS,
        punctuations="!'(),-.:;? ",
        phonemes=None,
    )
    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        resblock_type_decoder="2",
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3]],
        upsample_rates_decoder=[8, 8, 4],
        upsample_initial_channel_decoder=32,
        upsample_kernel_sizes_decoder=[16, 16, 8],
        num_layers_flow=1,
        num_layers_posterior_encoder=1,
        use_sdp=False,
        init_discriminator=False,
    )
    config = VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(
            sample_rate=16000, hop_length=256, win_length=1024, fft_size=1024, num_mels=80
        ),
        characters=characters,
        use_phonemes=False,
        text_cleaner="multilingual_cleaners",
        add_blank=True,
    )
    torch.manual_seed(0)
    model = Vits(config)
    folder = directory / voice_id
    folder.mkdir(parents=True)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    (folder / "voice.json").write_text(
        json.dumps(
            {
                "id": voice_id,
                "engine": "coqui",
                "languages": languages,
                "licence": "test-only random weights",
                "source": "tests/audio_pipeline/builders.py",
                "quality": 70,
                "purpose": "test",
                **manifest,
            }
        ),
        encoding="utf-8",
    )
    return folder
