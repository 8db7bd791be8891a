"""Bar charts for the reports page, laid out here and drawn by the template as inline SVG.

The geometry is computed on the server so the page needs no script, and the colours come from
CSS classes (series-1, series-2 …) because the Content-Security-Policy forbids style attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# The drawing area in SVG units; the SVG scales to the width of the page.
WIDTH, HEIGHT = 480, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 6, 10, 26


@dataclass
class Series:
    """One kind of bar: its CSS class, its label and a value per period (None: no bar)."""

    css: str
    label: str
    values: list[float | None]


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass
class Chart:
    """What the template needs to draw one chart and its legend."""

    id: str
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, label) of grid lines
    labels: list[tuple[float, str]] = field(default_factory=list)  # (x, label) under the bars
    legend: list[Series] = field(default_factory=list)
    baseline_y: float = HEIGHT - BOTTOM
    left: int = LEFT
    right: int = WIDTH - RIGHT


def _nice_top(value: float) -> tuple[float, float]:
    """A round top for the axis at or above value, and the step between its four grid lines."""
    for exponent in range(0, 12):
        for factor in (1, 2, 2.5, 5):
            step = factor * 10**exponent
            if step == int(step) and step * 4 >= value:
                return step * 4, step
    return value, value / 4  # pragma: no cover


def bar_chart(
    chart_id: str,
    title: str,
    periods: list[str],
    series: list[Series],
    *,
    stacked: bool = False,
    top: float | None = None,
    percent: bool = False,
) -> Chart:
    """Grouped (or stacked) bars per period, a value axis with four grid lines, and labels."""
    chart = Chart(id=chart_id, title=title, legend=series)
    plot_height = HEIGHT - TOP - BOTTOM
    if stacked:
        highest = max(
            (sum(s.values[i] or 0 for s in series) for i in range(len(periods))), default=0
        )
    else:
        highest = max((v or 0 for s in series for v in s.values), default=0)
    axis_top, step = (top, top / 4) if top is not None else _nice_top(highest)
    for n in range(5):
        value = step * n
        y = round(HEIGHT - BOTTOM - plot_height * value / axis_top, 1)
        text = f"{value:g} %" if percent else f"{value:g}"
        chart.ticks.append((y, text))

    slot = (chart.right - LEFT) / max(len(periods), 1)
    gap = slot * 0.2
    per_bar = (slot - gap) if stacked else (slot - gap) / max(len(series), 1)
    # Skip labels rather than let them overlap: about 7 units a character at 12 px.
    widest = max((len(p) for p in periods), default=1) * 7 + 8
    label_every = max(1, math.ceil(len(periods) * widest / (chart.right - LEFT)))
    for index, period in enumerate(periods):
        x0 = LEFT + index * slot + gap / 2
        if index % label_every == 0:
            chart.labels.append((round(x0 + (slot - gap) / 2, 1), period))
        stacked_height = 0.0
        for number, item in enumerate(series):
            value = item.values[index]
            if value is None:
                continue
            height = plot_height * value / axis_top
            if stacked:
                x = x0
                y = HEIGHT - BOTTOM - stacked_height - height
                stacked_height += height
            else:
                x = x0 + number * per_bar
                y = HEIGHT - BOTTOM - height
            shown = f"{value:.0f} %" if percent else f"{value:g}"
            chart.bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(y, 1),
                    width=round(max(per_bar - 1, 1), 1),
                    height=round(height, 1),
                    css=item.css,
                    title=f"{period} · {item.label}: {shown}",
                )
            )
    return chart
