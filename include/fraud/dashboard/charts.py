"""The monitoring page's charts laid out: line charts with a legend, and bar charts.

Pure functions from numbers to a ``Chart``: where each grid line, point, bar and legend entry
stands, in pixels, and the texts beside them. ``templates/chart.svg.j2`` draws a chart as one
inline ``<svg role="img">`` with an ``aria-label`` and a ``<title>``, its values in a ``<title>``
per point or bar (shown on hover), and a message when it has nothing to draw. The page's
Content-Security-Policy allows no script, no ``style`` attribute and no external resource, so the
template uses SVG elements and their presentation attributes only, and escapes every text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

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


class Tick(NamedTuple):
    """A horizontal grid line at height ``y``, labelled with its value."""

    value: float
    y: float
    text: str


class Mark(NamedTuple):
    """A text at ``x`` or ``y``: an x label under the plot, a guide's label above its line."""

    position: float
    text: str


class Point(NamedTuple):
    """A value drawn at (``x``, ``y``), written to a tenth of a pixel, with its tooltip."""

    x: str
    y: str
    tooltip: str


class Bar(NamedTuple):
    """A bar from the x axis up to ``y``, with what its tooltip says."""

    x: float
    y: float
    width: float
    height: float
    tooltip: str


@dataclass(frozen=True)
class Line:
    """A series drawn: one polyline per run of present values (``x,y`` pairs), a point each."""

    name: str
    colour: str
    runs: tuple[str, ...]
    points: tuple[Point, ...]


class LegendEntry(NamedTuple):
    """A series' colour and name, its stroke starting at (``x``, ``y``)."""

    name: str
    colour: str
    x: float
    y: float


@dataclass(frozen=True)
class Chart:
    """One chart as the template draws it; ``empty`` in place of the data when there is none."""

    title: str
    height: int
    empty: str | None = None
    ticks: tuple[Tick, ...] = ()
    x_labels: tuple[Mark, ...] = ()
    guides: tuple[Mark, ...] = ()
    lines: tuple[Line, ...] = ()
    legend: tuple[LegendEntry, ...] = ()
    bars: tuple[Bar, ...] = ()
    # The frame every chart shares, for the template.
    width: ClassVar[int] = WIDTH
    left: ClassVar[int] = LEFT
    right: ClassVar[int] = WIDTH - RIGHT
    top: ClassVar[int] = TOP
    bottom: ClassVar[int] = TOP + PLOT_HEIGHT
    axis: ClassVar[str] = AXIS
    text: ClassVar[str] = TEXT
    bar: ClassVar[str] = BAR


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


def empty_chart(title: str, message: str) -> Chart:
    """The chart's frame with a message in place of the data."""
    return Chart(title, TOP + PLOT_HEIGHT // 2, empty=message)


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


def _ticks(frame: _Frame, ticks: Sequence[float]) -> tuple[Tick, ...]:
    """Horizontal grid lines with their values."""
    return tuple(Tick(tick, frame.y(tick), f"{tick:g}") for tick in ticks)


def _x_labels(frame: _Frame, labels: Sequence[str]) -> tuple[Mark, ...]:
    """The x labels that fit, each under its band."""
    return tuple(Mark(frame.x(index), labels[index]) for index in shown_labels(len(labels)))


def _legend(names: Sequence[str], top: float) -> tuple[LegendEntry, ...]:
    """The legend's entries laid out in rows that fit the chart's width, from ``top`` down."""
    entries = []
    row, x = 0, float(LEFT)
    for index, name in enumerate(names):
        width = 22 + CHARACTER_WIDTH * len(name)
        if x > LEFT and x + width > WIDTH - RIGHT:
            row, x = row + 1, float(LEFT)
        colour = PALETTE[index % len(PALETTE)]
        entries.append(LegendEntry(name, colour, x, top + row * LEGEND_ROW))
        x += width + 12
    return tuple(entries)


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


def _line(
    frame: _Frame,
    xs: Sequence[str],
    labels: Sequence[str],
    series: Series,
    colour: str,
    value_text: Callable[[float], str],
) -> Line:
    """One series: a point per value, and polylines through them, broken where one is missing.

    ``xs`` are the labels' x positions as written, computed once for all the series of a chart.
    """
    points = {
        index: Point(
            xs[index],
            f"{frame.y(value):.1f}",
            f"{series.name}, {labels[index]}: {value_text(value)}",
        )
        for index, value in enumerate(series.values)
        if value is not None
    }
    runs = tuple(
        " ".join(f"{points[index].x},{points[index].y}" for index in run)
        for run in _runs(series.values)
    )
    return Line(series.name, colour, runs, tuple(points.values()))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    empty: str = "No data for these nights yet.",
    top: float | None = None,
    guides: Sequence[Guide] = (),
    value_text: Callable[[float], str] = lambda value: f"{value:.3f}",
) -> Chart:
    """Lines over the labels, one per series, with a point per value and a legend below.

    The y axis starts at 0 and ends at ``top`` (or a round number above the largest value);
    a guide is drawn only when it lies within it.
    """
    values = [value for line in series for value in line.values if value is not None]
    if not labels or not values:
        return empty_chart(title, empty)
    ticks = nice_ticks(max(values) if top is None else top)
    frame = _Frame(len(labels), ticks[-1])
    xs = [f"{frame.x(index):.1f}" for index in range(len(labels))]
    legend = _legend([line.name for line in series], TOP + PLOT_HEIGHT + BOTTOM + 8)
    rows = len({entry.y for entry in legend}) or 1
    return Chart(
        title,
        int(TOP + PLOT_HEIGHT + BOTTOM + 8 + LEGEND_ROW * rows),
        ticks=_ticks(frame, ticks),
        x_labels=_x_labels(frame, labels),
        guides=tuple(
            Mark(frame.y(guide.value), guide.label)
            for guide in guides
            if 0 < guide.value <= frame.top
        ),
        lines=tuple(
            _line(frame, xs, labels, line, PALETTE[number % len(PALETTE)], value_text)
            for number, line in enumerate(series)
        ),
        legend=legend,
    )


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    empty: str = "No data for these nights yet.",
    value_text: Callable[[float], str] = lambda value: f"{value:,.0f}",
) -> Chart:
    """One bar per label (none where the value is missing), its value in the bar's title."""
    present = [value for value in values if value is not None]
    if not labels or not present:
        return empty_chart(title, empty)
    ticks = nice_ticks(max(present))
    frame = _Frame(len(labels), ticks[-1])
    width = max(frame.band * 0.7, 1.0)
    bars = tuple(
        Bar(
            frame.x(index) - width / 2,
            frame.y(value),
            width,
            TOP + PLOT_HEIGHT - frame.y(value),
            f"{labels[index]}: {value_text(value)}",
        )
        for index, value in enumerate(values)
        if value is not None
    )
    return Chart(
        title,
        TOP + PLOT_HEIGHT + BOTTOM,
        ticks=_ticks(frame, ticks),
        x_labels=_x_labels(frame, labels),
        bars=bars,
    )
