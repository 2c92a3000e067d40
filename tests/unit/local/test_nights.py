"""What ``fraud up`` prints while the nights run: a line of counts, only when they change."""

from __future__ import annotations

import pytest

from fraud.local.nights import changed_line, progress_line


@pytest.mark.parametrize(
    ("counts", "expected", "line"),
    [
        (
            {"fraud_ingest": 3, "fraud_score": 2, "fraud_drift": 1},
            7,
            "fraud_ingest 3/7 nights, fraud_score 2/7, fraud_drift 1/7",
        ),
        ({"fraud_ingest": 0, "fraud_score": 0}, 1, "fraud_ingest 0/1 nights, fraud_score 0/1"),
        ({"fraud_ingest": 7}, 7, "fraud_ingest 7/7 nights"),
        ({}, 7, ""),
    ],
)
def test_progress_line(counts: dict[str, int], expected: int, line: str) -> None:
    assert progress_line(counts, expected) == line


@pytest.mark.parametrize(
    ("previous", "current", "line"),
    [
        # The first poll always says where things stand, even before any run finished.
        (None, {"fraud_ingest": 0, "fraud_score": 0}, "fraud_ingest 0/7 nights, fraud_score 0/7"),
        ({"fraud_ingest": 2, "fraud_score": 1}, {"fraud_ingest": 2, "fraud_score": 1}, None),
        (
            {"fraud_ingest": 2, "fraud_score": 1},
            {"fraud_ingest": 3, "fraud_score": 1},
            "fraud_ingest 3/7 nights, fraud_score 1/7",
        ),
        (
            {"fraud_ingest": 3, "fraud_score": 1},
            {"fraud_ingest": 3, "fraud_score": 2},
            "fraud_ingest 3/7 nights, fraud_score 2/7",
        ),
    ],
)
def test_a_line_only_when_the_counts_change(
    previous: dict[str, int] | None, current: dict[str, int], line: str | None
) -> None:
    assert changed_line(previous, current, 7) == line
