"""The monitoring page's charts as inline SVG: line charts with a legend, and bar charts.

Pure functions from numbers to markup. The page's Content-Security-Policy allows no script, no
``style`` attribute and no external resource, so a chart is drawn with SVG elements and their
presentation attributes only; every text in it is escaped. Each chart is one
``<svg role="img">`` with an ``aria-label`` and a ``<title>``, its values in a ``<title>`` per point
or bar (shown on hover), and says so when it has nothing to draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 560
PLOT_HEIGHT = 170
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 28, 24  # margins around the plot area, in pixels
LEGEND_ROW = 16
# Distinct on white and for the common colour-vision deficiencies (Okabe and Ito's palette).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000")
AXIS = "#a0aec0"
TEXT = "#4a5568"
BAR = "#4a90c2"
MOST_X_LABELS = 6
CHARACTER_WIDTH = 6.5  # of an 11 px sans-serif character, to lay the legend out


@dataclass(frozen=True)
class Series:
    """One line: a name for the legend and one value per x label (``None`` leaves a gap)."""

    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Guide:
    """A dashed horizontal line at ``value``, such as a PSI band's lower edge."""

    label: str
    value: float


def nice_ticks(high: float, most: int = 5) -> tuple[float, ...]:
    """Round ticks from 0 up to at least ``high``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not math.isfinite(high) or high <= 0:
        high = 1.0
    raw = high / (most - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 2.5, 5, 10) if factor * power >= raw)
    count = math.ceil(high / step - 1e-9)
    return tuple(round(index * step, 10) for index in range(count + 1))


def shown_labels(count: int, most: int = MOST_X_LABELS) -> tuple[int, ...]:
    """The x positions that get a label: evenly spaced, the latest always among them."""
    if count <= 0:
        return ()
    every = max(1, math.ceil(count / most))
    return tuple(index for index in range(count) if (count - 1 - index) % every == 0)


def _tick_text(value: float) -> str:
    return f"{value:g}"


def _open(title: str, height: int) -> str:
    label = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{label}"'
        f' width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}"'
        f' font-family="system-ui, sans-serif" font-size="11"><title>{label}</title>'
        f'<text class="chart-title" x="{LEFT}" y="14" fill="{TEXT}" font-weight="600">{label}</text>'
    )


def empty_chart(title: str, message: str) -> str:
    """The chart's frame with a message in place of the data."""
    height = TOP + PLOT_HEIGHT // 2
    return (
        f"{_open(title, height)}"
        f'<text class="empty" x="{LEFT}" y="{TOP + 24}" fill="{TEXT}">{escape(message)}</text>'
        "</svg>"
    )


@dataclass(frozen=True)
class _Frame:
    """The plot area: x bands, one per label, and a y scale from 0 to the top tick."""

    count: int
    top: float

    @property
    def band(self) -> float:
        return (WIDTH - LEFT - RIGHT) / self.count

    def x(self, index: int) -> float:
        return LEFT + (index + 0.5) * self.band

    def y(self, value: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - min(max(value, 0.0), self.top) / self.top)


def _axes(frame: _Frame, ticks: Sequence[float], labels: Sequence[str]) -> str:
    """Horizontal grid lines with their values, and the x labels that fit."""
    bottom = TOP + PLOT_HEIGHT
    parts = ['<g class="axes">']
    for tick in ticks:
        y = frame.y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{AXIS}"'
            f' stroke-width="{1 if tick == 0 else 0.5}"/>'
            f'<text class="y-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end"'
            f' fill="{TEXT}">{_tick_text(tick)}</text>'
        )
    for index in shown_labels(len(labels)):
        parts.append(
            f'<text class="x-tick" x="{frame.x(index):.1f}" y="{bottom + 15}"'
            f' text-anchor="middle" fill="{TEXT}">{escape(labels[index])}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _legend_rows(names: Sequence[str]) -> list[list[tuple[int, str, float]]]:
    """The legend's entries (index, name, x) laid out in rows that fit the chart's width."""
    rows: list[list[tuple[int, str, float]]] = [[]]
    x = float(LEFT)
    for index, name in enumerate(names):
        width = 22 + CHARACTER_WIDTH * len(name)
        if rows[-1] and x + width > WIDTH - RIGHT:
            rows.append([])
            x = float(LEFT)
        rows[-1].append((index, name, x))
        x += width + 12
    return rows


def _legend(names: Sequence[str], top: float) -> str:
    parts = ['<g class="legend">']
    for row_number, row in enumerate(_legend_rows(names)):
        y = top + row_number * LEGEND_ROW
        for index, name, x in row:
            colour = PALETTE[index % len(PALETTE)]
            parts.append(
                f'<line x1="{x:.1f}" x2="{x + 16:.1f}" y1="{y - 4:.1f}" y2="{y - 4:.1f}"'
                f' stroke="{colour}" stroke-width="2"/>'
                f'<text x="{x + 20:.1f}" y="{y:.1f}" fill="{TEXT}">{escape(name)}</text>'
            )
    parts.append("</g>")
    return "".join(parts)


def _runs(values: Sequence[float | None]) -> list[list[int]]:
    """The indices of the values, split into runs of consecutive values that are present."""
    runs: list[list[int]] = []
    for index, value in enumerate(values):
        if value is None:
            continue
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    empty: str = "No data for these nights yet.",
    top: float | None = None,
    guides: Sequence[Guide] = (),
    value_text: Callable[[float], str] = lambda value: f"{value:.3f}",
) -> str:
    """Lines over the labels, one per series, with a dot per value and a legend below.

    The y axis starts at 0 and ends at ``top`` (or a round number above the largest value);
    a guide is drawn only when it lies within it.
    """
    values = [value for line in series for value in line.values if value is not None]
    if not labels or not values:
        return empty_chart(title, empty)
    ticks = nice_ticks(max(values) if top is None else top)
    frame = _Frame(len(labels), ticks[-1])
    legend_top = TOP + PLOT_HEIGHT + BOTTOM + 8
    height = int(legend_top + LEGEND_ROW * len(_legend_rows([line.name for line in series])))
    parts = [_open(title, height), _axes(frame, ticks, labels)]
    for guide in guides:
        if 0 < guide.value <= frame.top:
            y = frame.y(guide.value)
            parts.append(
                f'<g class="guide"><line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}"'
                f' y2="{y:.1f}" stroke="#c53030" stroke-dasharray="4 3"/>'
                f'<text x="{LEFT + 4}" y="{y - 3:.1f}" fill="#c53030">'
                f"{escape(guide.label)}</text></g>"
            )
    for number, line in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        parts.append(f'<g class="series" data-series="{escape(line.name)}">')
        for run in _runs(line.values):
            points = " ".join(
                f"{frame.x(index):.1f},{frame.y(line.values[index] or 0.0):.1f}" for index in run
            )
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
            )
        for index, value in enumerate(line.values):
            if value is not None:
                parts.append(
                    f'<circle cx="{frame.x(index):.1f}" cy="{frame.y(value):.1f}" r="2.5"'
                    f' fill="{colour}"><title>{escape(line.name)}, {escape(labels[index])}:'
                    f" {escape(value_text(value))}</title></circle>"
                )
        parts.append("</g>")
    parts.append(_legend([line.name for line in series], legend_top))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    empty: str = "No data for these nights yet.",
    value_text: Callable[[float], str] = lambda value: f"{value:,.0f}",
) -> str:
    """One bar per label (none where the value is missing), its value in the bar's title."""
    present = [value for value in values if value is not None]
    if not labels or not present:
        return empty_chart(title, empty)
    ticks = nice_ticks(max(present))
    frame = _Frame(len(labels), ticks[-1])
    height = TOP + PLOT_HEIGHT + BOTTOM
    parts = [_open(title, height), _axes(frame, ticks, labels), '<g class="bars">']
    width = max(frame.band * 0.7, 1.0)
    for index, value in enumerate(values):
        if value is None:
            continue
        y = frame.y(value)
        parts.append(
            f'<rect x="{frame.x(index) - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}"'
            f' height="{TOP + PLOT_HEIGHT - y:.1f}" fill="{BAR}">'
            f"<title>{escape(labels[index])}: {escape(value_text(value))}</title></rect>"
        )
    parts.append("</g></svg>")
    return "".join(parts)
