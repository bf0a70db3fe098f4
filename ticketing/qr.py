"""QR images of ticket codes: alphanumeric mode, error correction M (version 6 for v1 codes)."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage
from qrcode.util import MODE_ALPHA_NUM, QRData


def _symbol(code: str, *, box_size: int) -> qrcode.QRCode:
    symbol = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4
    )
    # Base32 codes are all in the alphanumeric set, which packs 5.5 bits a character.
    symbol.add_data(QRData(code.encode("ascii"), mode=MODE_ALPHA_NUM))
    symbol.make(fit=True)
    return symbol


def svg(code: str) -> bytes:
    """The code as a scalable SVG (one path, no fonts or external references)."""
    image = _symbol(code, box_size=10).make_image(image_factory=SvgPathImage)
    return bytes(image.to_string(encoding="utf-8"))


def png(code: str, *, box_size: int = 8) -> bytes:
    """The code as a black-and-white PNG, `box_size` pixels a module (1-bit, a few KB)."""
    image = _symbol(code, box_size=box_size).make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
