"""Printable A5 plaques: the site's name in Vietnamese and English, the QR code to its page on
the public base URL, and "scan for the audio guide" in the main languages; black on white.

SVG for the sign maker, PDF (fpdf2, DejaVu fonts for Vietnamese and Cyrillic) for the printer,
and one PDF with every site's plaque. The QR code uses error correction Q: a plaque outdoors
still scans with a quarter of it dirty or scratched.

A PDF takes seconds to draw (every QR module a rectangle, fonts subset and embedded), so each is
drawn once per content and kept under MEDIA_DIR/plaques, named by a digest of what is on its
pages, as offline packs are: asking again costs a few queries and a file.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode
import qrcode.constants
from flask import Response, current_app, request
from fpdf import FPDF

from app.errors import ServiceUnavailable
from content.models import Site
from content.presenters import public_url
from web.messages import messages
from web.packs import write_atomically

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
#: Debian's fonts-noto-cjk: one collection holding the Japanese, Korean and Simplified Chinese
#: faces, embedded (subset) for the lines DejaVu cannot draw.
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FACES = {"ja": 0, "ko": 1, "zh": 2}  # the collection's font numbers
#: Lines printed under the code, in this order. The SVG is drawn with the viewer's fonts; the
#: PDF embeds DejaVu, and Noto CJK for ko/zh/ja (those lines are left out if it is missing).
SVG_LANGUAGES = ("vi", "en", "ko", "zh", "ja", "fr", "de", "es", "ru")
PDF_LANGUAGES = SVG_LANGUAGES

WIDTH, HEIGHT = 148.0, 210.0  # A5 portrait, millimetres
MARGIN = 10.0
QR_SIZE = 92.0  # the symbol with its quiet zone
QR_TOP = 54.0
#: Part of every kept PDF's name: raise it when the drawing code changes what a page shows.
PDF_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Plaque:
    slug: str
    name_vi: str
    name_en: str
    url: str
    updated_at: datetime


def plaque_for(site: Site) -> Plaque:
    """What goes on a site's plaque."""
    vi, en = site.text_for("vi"), site.text_for("en")
    return Plaque(
        slug=site.slug,
        name_vi=vi.name if vi else site.slug,
        name_en=en.name if en else (vi.name if vi else site.slug),
        url=public_url(f"/s/{site.slug}"),
        updated_at=site.updated_at,
    )


def qr_modules(text: str) -> list[list[bool]]:
    """The QR symbol of `text` as rows of dark (True) modules, quiet zone of four included."""
    symbol = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=4)
    symbol.add_data(text)
    symbol.make(fit=True)
    return [[bool(cell) for cell in row] for row in symbol.get_matrix()]


def _runs(row: list[bool]) -> Iterable[tuple[int, int]]:
    """(start, length) of each horizontal run of dark modules: fewer shapes to draw."""
    start = None
    for x, dark in enumerate([*row, False]):
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            yield start, x - start
            start = None


def _fit(text: str, *, width: float, largest: float) -> float:
    """A font size in millimetres at which `text` fits `width` (about 0.6 em a character)."""
    return min(largest, width / max(1, 0.6 * len(text)))


def svg(plaque: Plaque) -> bytes:
    """The plaque as an A5 SVG in millimetres (text in the viewer's sans-serif font)."""
    modules = qr_modules(plaque.url)
    cell = QR_SIZE / len(modules)
    left = (WIDTH - QR_SIZE) / 2
    path = "".join(
        f"M{x} {y}h{length}v1h-{length}z"
        for y, row in enumerate(modules)
        for x, length in _runs(row)
    )
    inner = WIDTH - 2 * MARGIN
    vi_size = _fit(plaque.name_vi, width=inner, largest=9)
    en_size = _fit(plaque.name_en, width=inner, largest=7)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}mm" height="{HEIGHT}mm" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Noto Sans, sans-serif" '
        'text-anchor="middle">',
        f"<title>{escape(plaque.name_vi)} · {escape(plaque.name_en)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<rect x="4" y="4" width="{WIDTH - 8}" height="{HEIGHT - 8}" fill="none" '
        'stroke="#000" stroke-width="0.6"/>',
        f'<text x="{WIDTH / 2}" y="20" font-size="5" letter-spacing="1">HỘI AN</text>',
        f'<text x="{WIDTH / 2}" y="34" font-size="{vi_size:.2f}" font-weight="bold" lang="vi">'
        f"{escape(plaque.name_vi)}</text>",
        f'<text x="{WIDTH / 2}" y="45" font-size="{en_size:.2f}" lang="en">'
        f"{escape(plaque.name_en)}</text>",
        f'<path transform="translate({left:.3f} {QR_TOP}) scale({cell:.5f})" d="{path}" '
        'fill="#000" shape-rendering="crispEdges"/>',
    ]
    y = QR_TOP + QR_SIZE + 6
    for lang in SVG_LANGUAGES:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{y:.1f}" font-size="3.6" lang="{lang}">'
            f"{escape(messages(lang)['scan'])}</text>"
        )
        y += 4.6
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 9}" font-size="3.4" font-family="DejaVu Sans Mono, '
        f'monospace">{escape(plaque.url)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts).encode()


def _new_pdf(updated_at: datetime) -> FPDF:
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if not (regular.is_file() and bold.is_file()):
        raise ServiceUnavailable(
            f"the plaque font is missing ({regular}); install Debian's fonts-dejavu-core",
            reason="font_missing",
        )
    pdf = FPDF(orientation="P", unit="mm", format=(WIDTH, HEIGHT))
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    if CJK_FONT.is_file():
        for lang, number in CJK_FACES.items():
            pdf.add_font(f"NotoCJK-{lang}", "", str(CJK_FONT), collection_font_number=number)
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(updated_at.astimezone(UTC) if updated_at.tzinfo else updated_at)
    pdf.set_title("Hội An plaques")
    pdf.set_creator("Hội An heritage guide service")
    return pdf


def _centred(
    pdf: FPDF, y: float, text: str, *, size: float, style: str = "", family: str = "DejaVu"
) -> None:
    pdf.set_font(family, style, size)
    while size > 6 and pdf.get_string_width(text) > WIDTH - 2 * MARGIN:
        size -= 0.5
        pdf.set_font(family, style, size)
    pdf.set_xy(MARGIN, y)
    pdf.cell(WIDTH - 2 * MARGIN, size * 0.45, text, align="C")


def _pdf_page(pdf: FPDF, plaque: Plaque) -> None:
    pdf.add_page()
    pdf.set_draw_color(0)
    pdf.set_fill_color(0)
    pdf.set_line_width(0.6)
    pdf.rect(4, 4, WIDTH - 8, HEIGHT - 8)
    _centred(pdf, 16, "HỘI AN", size=14)
    _centred(pdf, 27, plaque.name_vi, size=24, style="B")
    _centred(pdf, 39, plaque.name_en, size=18)
    modules = qr_modules(plaque.url)
    cell = QR_SIZE / len(modules)
    left = (WIDTH - QR_SIZE) / 2
    for y, row in enumerate(modules):
        for x, length in _runs(row):
            pdf.rect(left + x * cell, QR_TOP + y * cell, length * cell, cell, style="F")
    y_text = QR_TOP + QR_SIZE + 4
    for lang in PDF_LANGUAGES:
        if lang in CJK_FACES and not CJK_FONT.is_file():
            continue  # no CJK font on this machine
        family = f"NotoCJK-{lang}" if lang in CJK_FACES else "DejaVu"
        _centred(pdf, y_text, messages(lang)["scan"], size=10.5, family=family)
        y_text += 5.2
    _centred(pdf, HEIGHT - 13, plaque.url, size=9)


def pdf(plaques: list[Plaque]) -> bytes:
    """One A5 page per plaque, ready for the printer."""
    newest = max((p.updated_at for p in plaques), default=datetime(2020, 1, 1, tzinfo=UTC))
    document = _new_pdf(newest)
    for plaque in plaques:
        _pdf_page(document, plaque)
    buffer = io.BytesIO()
    document.output(buffer)
    return buffer.getvalue()


def pdf_file(plaques: list[Plaque]) -> tuple[Path, str]:
    """The PDF of these plaques, drawn now only if no PDF of the same content was kept: its
    path, and the digest that names it (a strong ETag)."""
    key = json.dumps(
        [PDF_FORMAT, CJK_FONT.is_file(), [astuple(plaque) for plaque in plaques]], default=str
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    path = Path(current_app.config["MEDIA_DIR"]) / "plaques" / f"{digest}.pdf"
    if not path.is_file():
        body = pdf(plaques)
        write_atomically(path, lambda out: out.write(body))
    return path, digest


def _disposed(response: Response, filename: str, *, download: bool) -> Response:
    disposition = "attachment" if download else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def document_response(body: bytes, mimetype: str, filename: str, *, download: bool) -> Response:
    """A plaque's SVG as an inline or downloaded file, with an ETag (the API and the console)."""
    response = _disposed(Response(body, mimetype=mimetype), filename, download=download)
    response.add_etag()
    response.make_conditional(request)
    return response


def pdf_response(plaque_list: list[Plaque], filename: str, *, download: bool) -> Response:
    """The kept PDF of these plaques as an inline or downloaded file, ETag its digest."""
    path, digest = pdf_file(plaque_list)
    response = Response(path.read_bytes(), mimetype="application/pdf")
    response.set_etag(digest)
    _disposed(response, filename, download=download).make_conditional(request)
    return response
