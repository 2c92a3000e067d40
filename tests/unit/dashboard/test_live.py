"""The live model's nights: the window, performance by the night that measured it, the drifted."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fraud.dashboard.live import Trend, aligned, performance_trends, psi_trends, window

TODAY = date(2026, 3, 21)
NIGHTS = window(TODAY, nights=4)  # 03-17 .. 03-20


def test_the_window_is_the_nights_before_today_oldest_first() -> None:
    assert window(TODAY, nights=3) == (date(2026, 3, 18), date(2026, 3, 19), date(2026, 3, 20))
    assert len(window(TODAY)) == 30 and window(TODAY)[-1] == TODAY - timedelta(days=1)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, (None, None, None, None)),
        ({date(2026, 3, 18): 2.0, date(2026, 3, 20): 5.0}, (None, 2.0, None, 5.0)),
        ({date(2026, 3, 1): 9.0}, (None, None, None, None)),  # outside the window: dropped
    ],
)
def test_aligned(values: dict[date, float], expected: tuple[float | None, ...]) -> None:
    assert aligned(NIGHTS, values) == expected


def rounded(trends: tuple[Trend, ...]) -> list[list[float | None]]:
    return [
        [None if value is None else round(value, 9) for value in trend.values] for trend in trends
    ]


def measured(night: int, maturity: int, ap: float | None, precision: float | None) -> dict:
    """A row of analytics.model_performance_matured measured on the n-th night of NIGHTS; its
    card precision is half its alert precision."""
    return {
        "measured_on": NIGHTS[night],
        "maturity_days": maturity,
        "average_precision": ap,
        "alert_precision": precision,
        "card_precision_at_100": None if precision is None else precision / 2,
    }


@pytest.mark.parametrize(
    ("rows", "average_precision", "alert_precision"),
    [
        ([], {7: [None] * 4, 30: [None] * 4}, {7: [None] * 4, 30: [None] * 4}),
        (
            [measured(0, 7, 0.6, 0.2), measured(3, 7, 0.5, None), measured(3, 30, 0.7, 0.3)],
            {7: [0.6, None, None, 0.5], 30: [None, None, None, 0.7]},
            {7: [0.2, None, None, None], 30: [None, None, None, 0.3]},
        ),
        # A night whose day two versions scored: their mean.
        (
            [measured(1, 7, 0.4, 0.1), measured(1, 7, 0.6, 0.3)],
            {7: [None, 0.5, None, None], 30: [None] * 4},
            {7: [None, 0.2, None, None], 30: [None] * 4},
        ),
    ],
)
def test_performance_by_the_night_that_measured_it(
    rows: list[dict],
    average_precision: dict[int, list[float | None]],
    alert_precision: dict[int, list[float | None]],
) -> None:
    ap, precision, cards = performance_trends(rows, NIGHTS, (30, 7))
    assert [trend.name for trend in ap] == ["7 days of labels", "30 days of labels"]
    assert [trend.name for trend in cards] == ["7 days of labels", "30 days of labels"]
    assert rounded(ap) == list(average_precision.values())
    assert rounded(precision) == list(alert_precision.values())
    assert rounded(cards) == [
        [None if value is None else round(value / 2, 9) for value in values]
        for values in alert_precision.values()
    ]


def drift(psi: dict[str, tuple[float, ...]]) -> list[dict]:
    """PSI rows, one per column and night of NIGHTS."""
    return [
        {"drift_date": night, "feature": column, "psi": value}
        for column, values in psi.items()
        for night, value in zip(NIGHTS, values, strict=False)
    ]


@pytest.mark.parametrize(
    ("psi", "columns"),
    [
        ({}, []),
        ({"tx_amount": (0.1,)}, ["tx_amount"]),
        (
            {
                "a": (0.01, 0.02),
                "b": (0.5, 0.0),  # drifted once, strongly: counts by its largest PSI
                "c": (0.03, 0.03),
                "d": (0.2, 0.2),
                "e": (0.04, 0.04),
                "f": (0.05, 0.06),
                "score": (0.001, 0.002),
            },
            ["score", "b", "d", "f", "e", "c"],
        ),
    ],
)
def test_the_score_then_the_five_most_drifted(
    psi: dict[str, tuple[float, ...]], columns: list[str]
) -> None:
    trends = psi_trends(drift(psi), NIGHTS)
    assert [trend.name for trend in trends] == columns
    for trend in trends:
        values = psi[trend.name]
        assert trend.values == (*values, *([None] * (len(NIGHTS) - len(values))))
