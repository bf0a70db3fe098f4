"""WebVTT captions from sentence or segment timings."""

from __future__ import annotations

from dataclasses import dataclass

from audio_pipeline.languages import language

#: Readable caption lines on a phone: two lines of about 42 characters (16 for CJK).
LINE_CHARS = 42
UNSPACED_LINE_CHARS = 16


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    text: str


def _timestamp(seconds: float) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _units(text: str, unspaced: bool) -> list[str]:
    return list(text) if unspaced else text.split()


def _lines(units: list[str], width: int, unspaced: bool) -> list[str]:
    glue = "" if unspaced else " "
    lines: list[str] = []
    current: list[str] = []
    for unit in units:
        if current and len(glue.join([*current, unit])) > width:
            lines.append(glue.join(current))
            current = []
        current.append(unit)
    if current:
        lines.append(glue.join(current))
    return lines


def split_cue(cue: Cue, lang: str) -> list[Cue]:
    """Split a long sentence into cues of at most two lines, timed by their share of text."""
    unspaced = language(lang).unspaced
    width = UNSPACED_LINE_CHARS if unspaced else LINE_CHARS
    lines = _lines(_units(cue.text, unspaced), width, unspaced)
    if len(lines) <= 2:
        return [Cue(cue.start, cue.end, "\n".join(lines))]
    blocks = ["\n".join(lines[i : i + 2]) for i in range(0, len(lines), 2)]
    total = sum(len(block) for block in blocks)
    cues: list[Cue] = []
    start = cue.start
    for block in blocks:
        end = start + (cue.end - cue.start) * len(block) / total
        cues.append(Cue(round(start, 3), round(end, 3), block))
        start = end
    return cues


def retime(sentences: list[str], segments: list[Cue]) -> list[Cue]:
    """Cues for a corrected transcript, timed on the recording's own speech.

    Staff correct Whisper's words, not its timing: the corrected sentences are laid over the
    time Whisper heard speech in (its segments, gaps between them left out), each taking a share
    of that time in proportion to its length.
    """
    spans = [(cue.start, cue.end) for cue in segments if cue.end > cue.start]
    sentences = [sentence for sentence in sentences if sentence.strip()]
    if not spans or not sentences:
        return []
    speech = sum(end - start for start, end in spans)
    total = sum(len(sentence) for sentence in sentences)

    def at(share: float) -> float:
        """The recording time at which this share of the speech has been said."""
        left = share * speech
        for start, end in spans:
            if left <= end - start:
                return start + left
            left -= end - start
        return spans[-1][1]

    cues: list[Cue] = []
    done = 0
    for sentence in sentences:
        begin, done = done, done + len(sentence)
        cues.append(Cue(round(at(begin / total), 3), round(at(done / total), 3), sentence))
    return cues


def webvtt(cues: list[Cue], lang: str) -> str:
    """A WebVTT document, long cues split for a phone screen."""
    parts = ["WEBVTT", ""]
    number = 0
    for cue in cues:
        for piece in split_cue(cue, lang):
            number += 1
            parts += [
                str(number),
                f"{_timestamp(piece.start)} --> {_timestamp(piece.end)}",
                piece.text.replace("-->", "->"),
                "",
            ]
    return "\n".join(parts)
