"""Alert selection and reason codes."""

from __future__ import annotations

import numpy as np
import pytest

from fraud.scoring.predict import alert_mask, top_reasons


@pytest.mark.parametrize(
    ("scores", "threshold", "expected"),
    [
        ([0.1, 0.9, 0.3], 0.5, [False, True, False]),
        ([0.1, 0.5, 0.3], 0.5, [False, True, False]),
        ([0.1, 0.9, 0.3], None, [False, False, False]),
        ([], 0.5, []),
    ],
)
def test_alert_mask(scores: list[float], threshold: float | None, expected: list[bool]) -> None:
    mask = alert_mask(np.array(scores, dtype=float), threshold)
    assert mask.tolist() == expected


def test_top_reasons_keep_positive_contributions_in_order() -> None:
    names = ["a", "b", "c", "d"]
    # The last column of pred_contrib is the bias term and never a reason.
    contributions = np.array([[0.1, 0.5, -0.2, 0.3, 9.0], [-0.1, -0.2, 0.05, -0.3, 9.0]])
    assert top_reasons(contributions, names, 3) == [
        [("b", 0.5), ("d", 0.3), ("a", 0.1)],
        [("c", 0.05)],
    ]
