"""The page's SVG charts: what each input draws, rendered and read back as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from fraud.dashboard.charts import (
    Chart,
    Guide,
    Series,
    bar_chart,
    line_chart,
    nice_ticks,
    shown_labels,
)
from fraud.dashboard.html import render_chart

SVG = "{http://www.w3.org/2000/svg}"
LABELS = ["03-01", "03-02", "03-03", "03-04"]


def parsed(chart: Chart) -> ElementTree.Element:
    """The chart as the page draws it, as an element tree: it must be well-formed XML."""
    return ElementTree.fromstring(render_chart(chart))


def found(root: ElementTree.Element, tag: str) -> list[ElementTree.Element]:
    return list(root.iter(f"{SVG}{tag}"))


def texts(root: ElementTree.Element, css_class: str) -> list[str]:
    return [node.text or "" for node in found(root, "text") if node.get("class") == css_class]


@pytest.mark.parametrize(
    ("high", "ticks"),
    [
        (1.0, (0, 0.25, 0.5, 0.75, 1.0)),
        (0.37, (0, 0.1, 0.2, 0.3, 0.4)),
        (7, (0, 2, 4, 6, 8)),
        (100, (0, 25, 50, 75, 100)),
        (1234, (0, 500, 1000, 1500)),
        (0, (0, 0.25, 0.5, 0.75, 1.0)),  # nothing above zero: a unit scale
    ],
)
def test_nice_ticks(high: float, ticks: tuple[float, ...]) -> None:
    assert nice_ticks(high) == pytest.approx(ticks)


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, ()),
        (1, (0,)),
        (4, (0, 1, 2, 3)),
        (30, (4, 9, 14, 19, 24, 29)),
        (7, (0, 2, 4, 6)),
        (12, (1, 3, 5, 7, 9, 11)),
    ],
)
def test_x_labels_are_spaced_and_the_latest_is_shown(count: int, shown: tuple[int, ...]) -> None:
    assert shown_labels(count) == shown


@pytest.mark.parametrize(
    ("series", "points", "lines"),
    [
        # (values per series) -> dots per series, polylines per series
        ([(0.1, 0.2, 0.3, 0.4)], [4], [1]),
        ([(0.1, None, 0.3, 0.4)], [3], [2]),  # a gap splits the line
        ([(None, 0.2, None, None), (0.5, 0.5, 0.5, 0.5)], [1, 4], [1, 1]),
        ([(0.1, 0.2, 0.3, 0.4)] * 6, [4] * 6, [1] * 6),
    ],
)
def test_line_chart_draws_a_dot_per_value_and_a_line_per_run(
    series: list[tuple[float | None, ...]], points: list[int], lines: list[int]
) -> None:
    chart = line_chart(
        "PSI", LABELS, [Series(f"column {n}", values) for n, values in enumerate(series)]
    )
    groups = [node for node in found(parsed(chart), "g") if node.get("class") == "series"]
    assert [group.get("data-series") for group in groups] == [
        f"column {n}" for n in range(len(series))
    ]
    assert [len(found(group, "circle")) for group in groups] == points
    assert [len(found(group, "polyline")) for group in groups] == lines


def test_line_chart_has_a_legend_entry_per_series_and_a_title() -> None:
    chart = parsed(
        line_chart(
            "Average precision",
            LABELS,
            [Series("7 days", (0.5,) * 4), Series("30 days", (0.6,) * 4)],
        )
    )
    assert (chart.get("role"), chart.get("aria-label")) == ("img", "Average precision")
    assert found(chart, "title")[0].text == "Average precision"
    legend = next(node for node in found(chart, "g") if node.get("class") == "legend")
    assert [node.text for node in found(legend, "text")] == ["7 days", "30 days"]
    assert texts(chart, "x-tick") == LABELS


@pytest.mark.parametrize(
    ("values", "top", "y_ticks"),
    [
        ((0.1, 0.2, 0.3, 0.37), None, ["0", "0.1", "0.2", "0.3", "0.4"]),
        ((0.1, 0.2, 0.3, 0.37), 1.0, ["0", "0.25", "0.5", "0.75", "1"]),
    ],
)
def test_line_chart_y_axis(
    values: tuple[float, ...], top: float | None, y_ticks: list[str]
) -> None:
    chart = parsed(line_chart("AP", LABELS, [Series("7 days", values)], top=top))
    assert texts(chart, "y-tick") == y_ticks


@pytest.mark.parametrize(
    ("guides", "drawn"),
    [
        ((Guide("warning", 0.1), Guide("alert", 0.25)), ["warning", "alert"]),
        ((Guide("warning", 0.1), Guide("alert", 5.0)), ["warning"]),  # above the axis: left out
    ],
)
def test_guides_inside_the_axis_are_drawn(guides: tuple[Guide, ...], drawn: list[str]) -> None:
    chart = parsed(
        line_chart("PSI", LABELS, [Series("score", (0.1, 0.2, 0.3, 0.2))], guides=guides)
    )
    groups = [node for node in found(chart, "g") if node.get("class") == "guide"]
    assert [found(group, "text")[0].text for group in groups] == drawn


@pytest.mark.parametrize(
    ("values", "bars", "tooltips"),
    [
        ((3, 0, 12, 7), 4, ["03-01: 3", "03-02: 0", "03-03: 12", "03-04: 7"]),
        ((None, 1500, None, 2), 2, ["03-02: 1,500", "03-04: 2"]),  # no bar for a missing night
    ],
)
def test_bar_chart_draws_a_bar_per_value(
    values: tuple[float | None, ...], bars: int, tooltips: list[str]
) -> None:
    chart = parsed(bar_chart("Alerts per night", LABELS, values))
    rectangles = found(chart, "rect")
    assert len(rectangles) == bars
    assert [found(rectangle, "title")[0].text for rectangle in rectangles] == tooltips
    heights = [float(rectangle.get("height", "0")) for rectangle in rectangles]
    present = [value for value in values if value is not None]
    assert heights.index(max(heights)) == present.index(max(present))


@pytest.mark.parametrize(
    "chart",
    [
        line_chart("AP <7 days>", [], [Series("7 days", ())]),
        line_chart("AP <7 days>", LABELS, [Series("7 days", (None,) * 4)]),
        line_chart("AP <7 days>", LABELS, []),
        bar_chart("AP <7 days>", LABELS, (None,) * 4),
        bar_chart("AP <7 days>", [], ()),
    ],
)
def test_a_chart_without_data_says_so(chart: Chart) -> None:
    root = parsed(chart)
    assert root.get("aria-label") == "AP <7 days>"
    assert texts(root, "empty") == ["No data for these nights yet."]
    assert not found(root, "circle") and not found(root, "rect") and not found(root, "polyline")


def test_every_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & "quoted"'
    chart = line_chart(hostile, [hostile, "b"], [Series(hostile, (0.1, 0.2))])
    assert "<script>" not in render_chart(chart)
    root = parsed(chart)
    assert root.get("aria-label") == hostile
    assert [node.text for node in found(root, "title")][0] == hostile
    assert hostile in [node.text for node in found(root, "text")]
    bars = render_chart(bar_chart(hostile, [hostile], (1,), empty=hostile))
    empty = render_chart(bar_chart("t", [], (), empty=hostile))
    assert "<script>" not in bars and "<script>" not in empty
