"""The "save to phone" picture of a ticket: its QR code with what the ticket says, as one PNG
a tourist keeps in the photo gallery and shows at the gate with no connection.

Apple Wallet passes need a pass-type certificate signed by Apple and Google Wallet passes a
Google service account and Google's servers, so neither can be made offline by the town; a
picture works on every phone.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ticketing import qr

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
#: Debian's fonts-noto-cjk collection: Japanese, Korean, Simplified Chinese faces.
_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
_CJK_FACES = {"ja": 0, "ko": 1, "zh": 2}
WIDTH = 720
_MARGIN = 40

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(lang: str, size: int, bold: bool) -> Font:
    if lang in _CJK_FACES and _CJK.is_file():
        return ImageFont.truetype(str(_CJK), size, index=_CJK_FACES[lang])
    path = _DEJAVU / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _wrapped(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> list[str]:
    """`text` in lines no wider than `width` (by words, or by characters for CJK)."""
    units = text.split(" ") if " " in text else list(text)
    joiner = " " if " " in text else ""
    lines: list[str] = []
    line = ""
    for unit in units:
        candidate = f"{line}{joiner}{unit}" if line else unit
        if draw.textlength(candidate, font=font) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = unit
    return [*lines, line] if line else lines


def phone_png(*, code: str, lang: str, title: str, lines: list[str], serial: str) -> bytes:
    """The ticket as a portrait PNG: town, title, QR code, serial, then `lines`."""
    symbol = Image.open(io.BytesIO(qr.png(code, box_size=12))).convert("L")
    side = WIDTH - 2 * _MARGIN
    symbol = symbol.resize((side, side), Image.Resampling.NEAREST)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    heading, body, mono = _font(lang, 44, True), _font(lang, 30, False), _font("en", 48, True)
    title_lines = _wrapped(probe, title, heading, side)
    body_lines = [part for line in lines for part in _wrapped(probe, line, body, side)]
    height = _MARGIN + 40 + 56 * len(title_lines) + 16 + side + 80 + 42 * len(body_lines) + _MARGIN
    image = Image.new("L", (WIDTH, height), 255)
    draw = ImageDraw.Draw(image)
    y = _MARGIN
    draw.text((_MARGIN, y), "HỘI AN", font=_font("vi", 28, True), fill=80)
    y += 40
    for line in title_lines:
        draw.text((_MARGIN, y), line, font=heading, fill=0)
        y += 56
    y += 16
    image.paste(symbol, (_MARGIN, y))
    y += side + 12
    draw.text((WIDTH / 2, y), serial, font=mono, fill=0, anchor="ma")
    y += 68
    for line in body_lines:
        draw.text((_MARGIN, y), line, font=body, fill=0)
        y += 42
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
