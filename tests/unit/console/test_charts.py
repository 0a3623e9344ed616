"""Inline SVG charts: values land where the axis says, gaps break the line, labels are escaped."""

from __future__ import annotations

import re

from app.console.charts import Series, bar_chart, line_chart


def points(svg: str) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, p.split(","))) for p in run.split()]  # type: ignore[misc]
        for run in re.findall(r'points="([^"]+)"', svg)
    ]


def test_line_chart_maps_values_to_the_frame_and_breaks_at_gaps() -> None:
    svg = line_chart(["a", "b", "c", "d"], [Series("s", [0.0, 1.0, None, 0.5])], title="t", y_min=0, y_max=1)
    runs = points(svg)
    assert len(runs) == 1  # the gap leaves one run of two points; the lone last point gets no line
    (x0, y0), (x1, y1) = runs[0]
    assert x0 < x1
    assert y0 > y1  # 0 is drawn below 1
    assert svg.count("<circle") == 3
    assert svg.startswith('<figure class="chart"><figcaption>t</figcaption><svg')
    assert svg.endswith("</svg></figure>")


def test_reference_line_and_escaped_labels() -> None:
    svg = line_chart(["<x>"], [Series("a & b", [0.5])], title="<t>", y_min=0, y_max=1, reference=0.5)
    assert 'class="reference"' in svg
    assert "<x>" not in svg
    assert "&lt;t&gt;" in svg
    assert "a &amp; b" in svg


def test_bar_chart_heights_follow_values() -> None:
    svg = bar_chart(["1", "2", "3"], [30, 15, 0], title="clicks by rank")
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert heights[0] == 2 * heights[1]
    assert heights[2] == 0


def test_a_lone_point_on_a_long_axis_still_shows() -> None:
    values: list[float | None] = [None] * 100
    values[99] = 0.7
    svg = line_chart([str(i) for i in range(100)], [Series("ctr", values)], title="t", y_min=0, y_max=1)
    assert svg.count("<circle") == 1
    assert "points=" not in svg
