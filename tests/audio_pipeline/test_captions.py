"""Captions people can read: two lines of 42, no cue under 0.83 s, none over 20 characters per
second where the speech allows. Examples are the seed narrations' own sentences."""

from __future__ import annotations

import itertools

import pytest

from audio_pipeline.captions import (
    LINE_CHARS,
    MIN_CUE_S,
    Cue,
    characters_per_second,
    readable,
    split_cue,
    webvtt,
)

# content/seed/sites/cantonese-assembly-hall.yaml, timed as espeak-ng says it (~17 chars/s).
CANTONESE = [
    Cue(0.0, 4.1, "Hội quán thờ Quan Công, vị tướng tượng trưng cho lòng trung nghĩa."),
    Cue(
        4.45,
        9.6,
        "Trong sân, bạn sẽ gặp một tiểu cảnh rồng và cá chép được ghép bằng những mảnh sành sứ.",
    ),
    Cue(
        9.95,
        14.4,
        "Cá chép vượt vũ môn hóa rồng là lời chúc học hành đỗ đạt, làm ăn thành công.",
    ),
]


def _words(cues: list[Cue]) -> list[str]:
    return " ".join(cue.text.replace("\n", " ") for cue in cues).split()


def _readable_layout(cues: list[Cue], width: int = LINE_CHARS) -> None:
    for cue in cues:
        lines = cue.text.split("\n")
        assert len(lines) <= 2 and all(len(line) <= width for line in lines), cue
    for before, after in itertools.pairwise(cues):
        assert before.start < before.end <= after.start, (before, after)


def test_a_long_sentence_is_split_evenly_not_into_a_stray_tail() -> None:
    # Wrapped greedily this sentence is 40 + 41 + 3 characters: "sứ." alone for 0.18 s.
    pieces = split_cue(CANTONESE[1], "vi")
    assert len(pieces) == 2
    assert all(piece.end - piece.start >= MIN_CUE_S for piece in pieces)
    assert pieces[-1].text.endswith("mảnh sành sứ.") and len(pieces[-1].text) > 20
    _readable_layout(pieces)


def test_the_seed_narration_has_no_short_or_fast_cue() -> None:
    cues = readable(CANTONESE, "vi")
    assert _words(cues) == _words(CANTONESE)
    assert all(cue.end - cue.start >= MIN_CUE_S for cue in cues)
    assert all(characters_per_second(cue) <= 20.0 for cue in cues)
    _readable_layout(cues)
    assert cues[0].start == 0.0 and cues[-1].end >= 14.4


def test_a_short_tail_whisper_heard_joins_its_sentence() -> None:
    # Whisper segments of a recording: the tail "sứ." with no pause around it.
    heard = [
        Cue(10.0, 12.9, "Chủ nhà xưa buôn bán quế, hồ tiêu,"),
        Cue(12.9, 13.08, "sứ."),
        Cue(13.08, 16.2, "Cái tên Phùng Hưng gửi gắm mong ước thịnh vượng."),
    ]
    cues = readable(heard, "vi")
    assert [cue.text.replace("\n", " ") for cue in cues] == [
        "Chủ nhà xưa buôn bán quế, hồ tiêu, sứ.",
        "Cái tên Phùng Hưng gửi gắm mong ước thịnh vượng.",
    ]
    assert cues[0].start == 10.0 and cues[0].end == 13.08
    _readable_layout(cues)


def test_a_fast_cue_takes_the_silence_after_it() -> None:
    # 52 characters said in 2.1 s (25 cps) followed by a 1.5 s pause.
    fast = Cue(0.0, 2.1, "Ngôi nhà được dựng khoảng năm 1780, tám thế hệ trước.")
    after = Cue(3.6, 6.0, "Chủ nhà xưa buôn bán quế và hồ tiêu.")
    cues = readable([fast, after], "vi")
    assert cues[0].start == 0.0 and characters_per_second(cues[0]) <= 20.0
    assert cues[0].end <= cues[1].start - 0.08  # a gap remains before the next cue
    assert cues[1] == after


def test_speech_faster_than_anyone_reads_keeps_its_timing() -> None:
    # Two long sentences said back to back at 30 cps: nothing to take, nothing fits on two lines.
    first = Cue(
        0.0, 2.8, "Người Nhật xây cây cầu này vào cuối thế kỷ mười sáu, gần bốn trăm năm trước."
    )
    second = Cue(
        2.8, 5.4, "Người Hoa về sau dựng thêm một ngôi chùa nhỏ ở giữa cầu để thờ thần Bắc Đế."
    )
    cues = readable([first, second], "vi")
    assert _words(cues) == _words([first, second])
    # The first has no silence to take and cannot join: it stays as said. Only the last may
    # linger after the speech, where nothing follows it.
    assert (cues[0].start, cues[0].end) == (0.0, 2.8) and cues[1].start == pytest.approx(2.8)
    _readable_layout(cues)


def test_chinese_lines_hold_sixteen_characters_and_never_start_with_punctuation() -> None:
    cues = readable(
        [
            Cue(0.0, 2.0, "欢迎来到会安古城。"),
            Cue(2.3, 6.0, "这座廊桥是十七世纪由日本商人建造的，桥上还有一座小小的寺庙供奉北帝。"),  # noqa: RUF001
            Cue(6.2, 6.5, "请看。"),
        ],
        "zh",
    )
    _readable_layout(cues, width=16)
    starts = [line[0] for cue in cues for line in cue.text.split("\n")]
    assert not set(starts) & {"\uff0c", "\u3002"}  # fullwidth comma, ideographic full stop
    assert all(cue.end - cue.start >= MIN_CUE_S for cue in cues)
    assert "".join(cue.text.replace("\n", "") for cue in cues).endswith("北帝。请看。")


def test_webvtt_numbers_the_readable_cues() -> None:
    vtt = webvtt(CANTONESE, "vi")
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> ")
    assert vtt.count(" --> ") == len(readable(CANTONESE, "vi"))
