"""Inline SVG charts, drawn on the server: a page shows its figures without a script, a CDN or a chart
library, and the same markup is what a browser test and a screenshot see."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 22, 28  # the top pad holds the legend


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no value at that x (the line breaks there)


def _bounds(values: list[float], lo: float | None, hi: float | None) -> tuple[float, float]:
    low = min(values, default=0.0) if lo is None else lo
    high = max(values, default=1.0) if hi is None else hi
    if high <= low:
        high = low + 1.0
    return low, high


def _ticks(labels: Sequence[str], width: float, x_of: Callable[[int], float]) -> list[str]:
    """At most six x labels, evenly spread, so long hourly axes stay readable."""
    if not labels:
        return []
    step = max(1, len(labels) // 6)
    out = []
    for i in range(0, len(labels), step):
        x = x_of(i)
        out.append(f'<text x="{x:.1f}" y="{width:.1f}" text-anchor="middle">{escape(labels[i])}</text>')
    return out


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_min: float | None = None,
    y_max: float | None = None,
    reference: float | None = None,
    width: int = 640,
    height: int = 220,
    fmt: str = "{:.2f}",
) -> str:
    """One line per series over the x labels; points carry a tooltip with their value. `reference`
    draws a dashed horizontal line (a win share of 0.5, say)."""
    values = [v for s in series for v in s.values if v is not None]
    low, high = _bounds(values + ([reference] if reference is not None else []), y_min, y_max)
    inner_w, inner_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    n = max(len(labels), 1)

    def x_of(i: int) -> float:
        return PAD_LEFT + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y_of(v: float) -> float:
        return PAD_TOP + inner_h * (1 - (v - low) / (high - low))

    parts = _frame(title, width, height, low, high, fmt, y_of)
    if reference is not None:
        y = y_of(reference)
        parts.append(
            f'<line class="reference" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        runs: list[list[str]] = [[]]
        dots: list[str] = []
        lone: list[str] = []  # points with no neighbour to draw a line to: dots even on long axes
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
                continue
            x, y = x_of(i), y_of(v)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            label = escape(f"{s.name} {labels[i] if i < len(labels) else i}: {fmt.format(v)}")
            dot = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{label}</title></circle>'
            dots.append(dot)
            before = i > 0 and s.values[i - 1] is not None
            after = i + 1 < len(s.values) and s.values[i + 1] is not None
            if not (before or after):
                lone.append(dot)
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(run)}"/>'
                )
        parts += dots if len(s.values) <= 60 else lone
    parts += _ticks(labels, height - 8, x_of)
    parts.append(_legend([s.name for s in series], width))
    parts.append("</svg>")
    return _figure(title, parts)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    fmt: str = "{:g}",
) -> str:
    """One bar per label (clicks by rank, say), each with a tooltip."""
    low, high = _bounds([*values, 0.0], 0.0, None)
    inner_w, inner_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    n = max(len(values), 1)
    slot = inner_w / n

    def y_of(v: float) -> float:
        return PAD_TOP + inner_h * (1 - (v - low) / (high - low))

    parts = _frame(title, width, height, low, high, fmt, y_of)
    for i, v in enumerate(values):
        x, y = PAD_LEFT + slot * i + slot * 0.15, y_of(v)
        tip = escape(f"{labels[i]}: {fmt.format(v)}")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{PAD_TOP + inner_h - y:.1f}"'
            f' fill="{PALETTE[0]}"><title>{tip}</title></rect>'
        )
    parts += _ticks(labels, height - 8, lambda i: PAD_LEFT + slot * (i + 0.5))
    parts.append("</svg>")
    return _figure(title, parts)


def _figure(title: str, parts: list[str]) -> str:
    """The chart with its title shown above it (the SVG's own title is what screen readers announce)."""
    return f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{"".join(parts)}</figure>'


def _frame(
    title: str, width: int, height: int, low: float, high: float, fmt: str, y_of: Callable[[float], float]
) -> list[str]:
    head = (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )
    axis = []
    for v in (low, (low + high) / 2, high):
        y = y_of(v)
        axis.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{width - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt.format(v))}</text>'
        )
    return [head, *axis]


def _legend(names: Sequence[str], width: int) -> str:
    if len(names) < 2:
        return ""
    items = []
    for k, name in enumerate(names):
        x = PAD_LEFT + 8 + 130 * k
        color = PALETTE[k % len(PALETTE)]
        items.append(
            f'<rect x="{x}" y="2" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="11">{escape(name)}</text>'
        )
    return "".join(items) if PAD_LEFT + 130 * len(names) < width else ""
