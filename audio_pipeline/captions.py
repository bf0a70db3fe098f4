"""WebVTT captions from sentence or segment timings, made readable.

The rules are Netflix's timed-text guidance: at most two lines of 42 characters (16 for text
written without spaces), no cue shorter than 5/6 s, none faster than 20 characters per second
where the speech allows. A long sentence is split into balanced blocks, so that no block is a
stray tail ("sứ." alone for 0.18 s); a cue that is still too short or too fast first takes the
silence around it, then joins a neighbour if the two fit on two lines.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, replace

from audio_pipeline.languages import language

#: Readable caption lines on a phone: two lines of about 42 characters (16 for CJK).
LINE_CHARS = 42
UNSPACED_LINE_CHARS = 16
MAX_LINES = 2
#: Shortest time a cue stays on screen (20 frames at 24 fps).
MIN_CUE_S = 0.83
#: Fastest reading speed asked of a viewer, in characters (spaces included) per second.
MAX_CHARS_PER_S = 20.0
#: Two frames at 24 fps left between cues when one is stretched into the silence.
MIN_GAP_S = 0.083


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


#: Punctuation that opens: it belongs to the character after it, not the one before.
_OPENING = "「『（《“"  # noqa: RUF001 - CJK opening brackets and quotes


def _units(text: str, unspaced: bool) -> list[str]:
    """Words, or for unspaced text characters, with punctuation kept on the unit before it
    (a line never starts with a comma or a full stop)."""
    if not unspaced:
        return text.split()
    units: list[str] = []
    for ch in text:
        if ch.isspace():
            continue
        if units and unicodedata.category(ch).startswith("P") and ch not in _OPENING:
            units[-1] += ch
        else:
            units.append(ch)
    return units


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


def _width(lang: str) -> tuple[int, bool]:
    unspaced = language(lang).unspaced
    return (UNSPACED_LINE_CHARS if unspaced else LINE_CHARS), unspaced


def _blocks(units: list[str], width: int, unspaced: bool) -> list[list[str]]:
    """The fewest blocks of at most two lines each, as even in length as wrapping allows."""
    glue = "" if unspaced else " "
    total = len(glue.join(units))
    count = max(1, math.ceil(len(_lines(units, width, unspaced)) / MAX_LINES))
    while True:
        target = total / count
        blocks: list[list[str]] = [[]]
        for unit in units:
            current = blocks[-1]
            longer = len(glue.join([*current, unit]))
            # Close a block once it reached its share, unless it is the last one.
            if current and len(blocks) < count and longer > target + len(unit) / 2:
                blocks.append([unit])
            else:
                current.append(unit)
        if all(len(_lines(block, width, unspaced)) <= MAX_LINES for block in blocks):
            return blocks
        count += 1


def _balanced(units: list[str], width: int, unspaced: bool) -> list[str]:
    """One line if it fits, else the two lines closest in length (the lower one longer on a
    tie, as subtitlers shape them); greedy lines where two cannot hold the words."""
    glue = "" if unspaced else " "
    if len(glue.join(units)) <= width:
        return [glue.join(units)]
    best: tuple[int, int, list[str]] | None = None
    for cut in range(1, len(units)):
        top, bottom = glue.join(units[:cut]), glue.join(units[cut:])
        if len(top) > width or len(bottom) > width:
            continue
        score = (max(len(top), len(bottom)), len(top) - len(bottom))
        if best is None or score < best[:2]:
            best = (*score, [top, bottom])
    return best[2] if best else _lines(units, width, unspaced)


def split_cue(cue: Cue, lang: str) -> list[Cue]:
    """Split a long sentence into cues of at most two lines, timed by their share of text."""
    width, unspaced = _width(lang)
    glue = "" if unspaced else " "
    units = _units(cue.text, unspaced)
    if not units:
        return []
    blocks = _blocks(units, width, unspaced)
    texts = ["\n".join(_balanced(block, width, unspaced)) for block in blocks]
    if len(texts) == 1:
        return [Cue(cue.start, cue.end, texts[0])]
    total = sum(len(glue.join(block)) for block in blocks)
    cues: list[Cue] = []
    start = cue.start
    for block, text in zip(blocks, texts, strict=True):
        end = start + (cue.end - cue.start) * len(glue.join(block)) / total
        cues.append(Cue(round(start, 3), round(end, 3), text))
        start = end
    return cues


def _flat(text: str, unspaced: bool) -> str:
    return text.replace("\n", "" if unspaced else " ")


def characters_per_second(cue: Cue) -> float:
    """Reading speed of a cue: its characters, spaces included, over its time on screen."""
    duration = cue.end - cue.start
    chars = len(cue.text.replace("\n", " "))
    return math.inf if duration <= 0 else chars / duration


def _needs_time(cue: Cue) -> float:
    """How much longer the cue should stay to be neither too short nor too fast."""
    want = max(MIN_CUE_S, len(cue.text.replace("\n", " ")) / MAX_CHARS_PER_S)
    return max(0.0, want - (cue.end - cue.start))


def _stretch(cues: list[Cue]) -> list[Cue]:
    """Give short or fast cues the silence after them, then the silence before them."""
    out = list(cues)
    for index, cue in enumerate(out):
        missing = _needs_time(cue)
        if missing <= 0:
            continue
        limit = out[index + 1].start - MIN_GAP_S if index + 1 < len(out) else cue.end + missing
        end = max(cue.end, min(cue.end + missing, limit))
        missing -= end - cue.end
        floor = out[index - 1].end + MIN_GAP_S if index > 0 else 0.0
        start = min(cue.start, max(cue.start - missing, floor))
        out[index] = replace(cue, start=round(start, 3), end=round(end, 3))
    return out


def _join(first: Cue, second: Cue, width: int, unspaced: bool) -> Cue | None:
    """Both cues as one, if their words fit on two lines."""
    glue = "" if unspaced else " "
    text = glue.join([_flat(first.text, unspaced), _flat(second.text, unspaced)])
    lines = _balanced(_units(text, unspaced), width, unspaced)
    if len(lines) > MAX_LINES:
        return None
    return Cue(first.start, second.end, "\n".join(lines))


def readable(cues: list[Cue], lang: str) -> list[Cue]:
    """Cues a viewer can read: split to two lines, stretched into silence, short tails merged.

    A cue that is too short or too fast after taking the silence around it joins the
    neighbour that leaves the slower result (the one before first when both are equal,
    since a tail belongs to its sentence), when the two fit on two lines; where the speech
    itself is faster than 20 characters per second and nothing fits, the cue stays as timed.
    """
    width, unspaced = _width(lang)
    out = _stretch([piece for cue in cues for piece in split_cue(cue, lang)])
    changed = True
    while changed:
        changed = False
        for index, cue in enumerate(out):
            if _needs_time(cue) <= 0:
                continue
            options: list[tuple[float, int, Cue]] = []
            if index > 0 and (joined := _join(out[index - 1], cue, width, unspaced)):
                options.append((characters_per_second(joined), 0, joined))
            if index + 1 < len(out) and (joined := _join(cue, out[index + 1], width, unspaced)):
                options.append((characters_per_second(joined), 1, joined))
            if not options:
                continue
            _, side, joined = min(options, key=lambda option: (option[0], option[1]))
            first = index - 1 if side == 0 else index
            out[first : first + 2] = [joined]
            out = _stretch(out)
            changed = True
            break
    return out


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
    """A WebVTT document of readable cues (`readable`)."""
    parts = ["WEBVTT", ""]
    for number, piece in enumerate(readable(cues, lang), start=1):
        parts += [
            str(number),
            f"{_timestamp(piece.start)} --> {_timestamp(piece.end)}",
            piece.text.replace("-->", "->"),
            "",
        ]
    return "\n".join(parts)
