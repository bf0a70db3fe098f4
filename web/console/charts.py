"""Charts drawn on the server as SVG: bars staff read at a glance, with the numbers in an
accessible table beside them (the SVG itself is one labelled image to screen readers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 240, 56, 28, 12
BAR = "#7a2e12"
AXIS = "#5b5b5b"


def _tick(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f} M"
    if value >= 1_000:
        return f"{value / 1_000:.0f} k"
    return f"{value:g}"


def bar_chart(
    rows: Sequence[dict[str, Any]], *, label: str, figure: str, title: str, chart_id: str
) -> Markup:
    """A bar per row (`row[label]` under it, `row[figure]` its height), as inline SVG."""
    values = [float(row.get(figure) or 0) for row in rows]
    top = max(values, default=0) or 1
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(len(rows), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
    ]
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{AXIS}">{_tick(top * fraction)}</text>'
        )
    every = max(1, len(rows) // 12)
    for index, (row, value) in enumerate(zip(rows, values, strict=True)):
        height = plot_h * value / top
        x = PAD_LEFT + index * step
        parts.append(
            f'<rect x="{x + step * 0.1:.1f}" y="{PAD_TOP + plot_h - height:.1f}" '
            f'width="{max(step * 0.8, 1):.1f}" height="{height:.1f}" fill="{BAR}">'
            f"<title>{escape(str(row[label]))}: {value:g}</title></rect>"
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
                f'font-size="10" fill="{AXIS}">{escape(str(row[label])[-5:])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value inside is escaped or a number
