"""Sentences, paragraphs, glossary protection and captions: the structure a narration keeps
through translation, speech and captions."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from audio_pipeline.captions import Cue, retime, split_cue, webvtt
from audio_pipeline.errors import UnsupportedLanguage
from audio_pipeline.glossary import Glossary
from audio_pipeline.text import join, paragraphs, segment, sentences

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return Glossary.from_yaml(ROOT / "content" / "seed" / "glossary.yaml")


def test_sentences_keep_abbreviations_numbers_and_quotes_together() -> None:
    text = (
        'It was built c. 1593, approx. 18 m long. Dr. Lan said: "Look up!" Then we walk on. '
        "The note is worth 20.000 dong. Really? Yes…  Go on"
    )
    assert sentences(text) == [
        "It was built c. 1593, approx. 18 m long.",
        'Dr. Lan said: "Look up!"',
        "Then we walk on.",
        "The note is worth 20.000 dong.",
        "Really?",
        "Yes…",
        "Go on",
    ]


def test_cjk_sentences_split_without_spaces() -> None:
    text = "会安古镇很美。你去过吗？去过！"  # noqa: RUF001 - CJK punctuation is the point
    assert sentences(text) == ["会安古镇很美。", "你去过吗？", "去过！"]  # noqa: RUF001


def test_seed_narration_keeps_its_paragraphs() -> None:
    import yaml

    data = yaml.safe_load(
        (ROOT / "content/seed/sites/japanese-covered-bridge.yaml").read_text(encoding="utf-8")
    )
    vi, en = segment(data["narration"]["vi"]), segment(data["narration"]["en"])
    assert len(vi) == len(en) == 6
    assert vi[0] == ["Bạn đang đứng trước Chùa Cầu, biểu tượng của phố cổ Hội An."]
    assert join(vi, "vi").split("\n\n") == paragraphs(data["narration"]["vi"])


def test_vietnamese_is_normalised_to_one_encoding() -> None:
    decomposed = "Ho\u0302\u0323i An"  # ô + dot below as combining marks
    assert paragraphs(decomposed) == ["Hội An"]


def test_unknown_languages_are_refused() -> None:
    with pytest.raises(UnsupportedLanguage):
        join([["x"]], "xx")


def test_glossary_protects_names_and_restores_target_forms(glossary: Glossary) -> None:
    sentence = "Năm 1719, chúa Nguyễn Phúc Chu đến Hội An và đặt tên cho Chùa Cầu."
    protected = glossary.protect(sentence, "vi", "en")
    assert "Hội An" not in protected.text and "Chùa Cầu" not in protected.text
    assert sorted(protected.targets.values()) == [
        "Hội An",
        "Japanese Covered Bridge",
        "Nguyễn Phúc Chu",
    ]
    # A model that carries the placeholders through (as real NMT does for unknown names).
    translated = protected.text.replace("Năm", "In").replace("đến", "came to")
    restored, missing = glossary.restore(translated, protected)
    assert missing == []
    assert "Nguyễn Phúc Chu came to Hội An" in restored
    assert restored.endswith("Japanese Covered Bridge.")


def test_lost_placeholders_fall_back_to_plain_translation_and_are_reported(
    glossary: Glossary,
) -> None:
    calls: list[str] = []

    def translate(text: str) -> str:
        calls.append(text)
        return "The lord came to Hoi An." if "XQZ" not in text else "The lord came."

    text, missing = glossary.translate_protected(
        "Chúa đến Hội An.", source="vi", target="en", translate=translate
    )
    assert text == "The lord came to Hội An."  # the plain run, with the variant spelling fixed
    assert missing == [] and len(calls) == 2
    text, missing = glossary.translate_protected(
        "Chúa đến Chùa Cầu.", source="vi", target="en", translate=lambda s: "The lord came."
    )
    assert missing == ["Japanese Covered Bridge"]


def test_glossary_rewrites_variants_but_never_inside_a_longer_name(glossary: Glossary) -> None:
    text, corrections = glossary.apply(
        "From Hoi An walk to the Japanese Covered Bridge, the covered bridge.", "en"
    )
    assert text == ("From Hội An walk to the Japanese Covered Bridge, the Japanese Covered Bridge.")
    assert [c.found for c in corrections] == ["Hoi An", "covered bridge"]


def test_site_terms_come_first_and_names_prime_whisper(glossary: Glossary) -> None:
    site = Glossary.from_data([{"forms": {"vi": "Nhà cổ Tấn Ký", "en": "Tấn Ký Old House"}}])
    merged = glossary.merged(site)
    assert merged.forms("vi")[0] == "Nhà cổ Tấn Ký"
    prompt = merged.whisper_prompt("vi", max_chars=60)
    assert prompt.startswith("Nhà cổ Tấn Ký, Hội An") and len(prompt) <= 60
    assert "ホイアン" in glossary.forms("ja") and "Hội An" not in glossary.forms("ja")


def test_webvtt_cues_are_timed_and_wrapped_for_a_phone() -> None:
    long = "A very long sentence " * 12
    vtt = webvtt([Cue(0.0, 2.5, "Xin chào."), Cue(3.0, 15.0, long.strip())], "vi")
    lines = vtt.splitlines()
    assert lines[0] == "WEBVTT"
    assert "00:00:00.000 --> 00:00:02.500" in lines
    pieces = split_cue(Cue(3.0, 15.0, long.strip()), "en")
    assert len(pieces) > 1 and pieces[0].start == 3.0 and pieces[-1].end == pytest.approx(15.0)
    assert all(len(line) <= 42 for piece in pieces for line in piece.text.splitlines())
    assert all(len(piece.text.splitlines()) <= 2 for piece in pieces)
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(pieces))


def test_corrected_sentences_are_timed_over_the_speech_whisper_heard() -> None:
    # Speech from 1-3 s and 5-7 s: 4 s in all; the pause between is nobody's.
    heard = [Cue(1.0, 3.0, "Xin chao quy khach."), Cue(5.0, 7.0, "Day la nha co Tan Ky.")]
    cues = retime(["Xin chào quý khách.", "Đây là nhà cổ Tấn Ký."], heard)
    assert [cue.text for cue in cues] == ["Xin chào quý khách.", "Đây là nhà cổ Tấn Ký."]
    assert cues[0].start == 1.0 and cues[-1].end == 7.0
    first_share = len(cues[0].text) / (len(cues[0].text) + len(cues[1].text))
    assert cues[0].end == pytest.approx(1.0 + 4.0 * first_share, abs=1e-3)  # inside 1-3 s
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(cues))
    assert retime(["Nothing heard."], []) == [] and retime([], heard) == []
