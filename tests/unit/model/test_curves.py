"""The plotted curves on hand-computed tiny cases: every row counts as many times as it weighs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from fraud.model.curves import (
    alerts_curve,
    calibration_bins,
    precision_recall_points,
    roc_points,
    score_histograms,
)

NAN = float("nan")


def _arrays(*values: list[float]) -> list[np.ndarray]:
    return [np.asarray(value, dtype=np.float64) for value in values]


@pytest.mark.parametrize(
    ("labels", "scores", "weights", "x", "y"),
    [
        pytest.param(
            # A genuine payment weighing 3 below every other: it moves the last step only.
            [0, 1, 0, 1],
            [0.1, 0.9, 0.8, 0.2],
            [3, 1, 1, 1],
            [0, 0, 0.25, 0.25, 1],
            [0, 0.5, 0.5, 1, 1],
            id="heavy-genuine-at-the-bottom",
        ),
        pytest.param(
            [0, 1, 0, 1],
            [0.1, 0.9, 0.8, 0.2],
            [1, 1, 1, 1],
            [0, 0, 0.5, 0.5, 1],
            [0, 0.5, 0.5, 1, 1],
            id="unweighted",
        ),
    ],
)
def test_roc_points_count_each_payment_by_its_weight(labels, scores, weights, x, y) -> None:
    curve = roc_points(*_arrays(labels, scores, weights))
    np.testing.assert_allclose(curve.x, x)
    np.testing.assert_allclose(curve.y, y)


def test_precision_recall_points_run_from_no_recall_up() -> None:
    # Thresholds 0.9, 0.8, 0.7, 0.1: the genuine payment at 0.8 weighs 2, the one at 0.1 weighs 4.
    curve = precision_recall_points(*_arrays([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], [1, 2, 1, 4]))
    np.testing.assert_allclose(curve.x, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(curve.y, [1, 1, 1 / 3, 1 / 2, 2 / 8])


@pytest.mark.parametrize("curve", [roc_points, precision_recall_points], ids=["roc", "pr"])
def test_a_weight_of_two_draws_what_a_duplicated_row_draws(curve) -> None:
    labels, scores, weights = _arrays([0, 1, 0, 1, 0], [0.3, 0.7, 0.6, 0.2, 0.9], [1, 1, 2, 1, 1])
    weighted = curve(labels, scores, weights)
    duplicated = curve(np.r_[labels, 0.0], np.r_[scores, 0.6], np.ones(6))
    np.testing.assert_allclose(weighted.x, duplicated.x)
    np.testing.assert_allclose(weighted.y, duplicated.y)


@pytest.mark.parametrize(
    ("labels", "scores", "weights", "mean_score", "fraud_rate", "weight"),
    [
        pytest.param(
            [0, 1, 0, 1],
            [0.05, 0.15, 0.12, 0.95],
            [10, 1, 2, 1],
            [0.05, (0.15 + 2 * 0.12) / 3, 0.95],
            [0, 1 / 3, 1],
            [10, 3, 1],
            id="weighted-bins-empty-ones-dropped",
        ),
        pytest.param(
            # Bins are [a, b): 0.1 opens the second bin; 1.0 closes the last.
            [1, 0, 1],
            [0.1, 0.0, 1.0],
            [1, 4, 1],
            [0.0, 0.1, 1.0],
            [0, 1, 1],
            [4, 1, 1],
            id="bin-edges",
        ),
    ],
)
def test_calibration_bins_weigh_each_payment(
    labels, scores, weights, mean_score, fraud_rate, weight
) -> None:
    calibration = calibration_bins(*_arrays(labels, scores, weights))
    np.testing.assert_allclose(calibration.mean_score, mean_score)
    np.testing.assert_allclose(calibration.fraud_rate, fraud_rate)
    np.testing.assert_allclose(calibration.weight, weight)


def test_calibration_bins_of_unit_weights_are_scikit_learns() -> None:
    generator = np.random.default_rng(3)
    scores = generator.random(500)
    labels = (generator.random(500) < scores).astype(np.int8)
    observed, predicted = calibration_curve(labels, scores, n_bins=10)
    calibration = calibration_bins(labels, scores, np.ones(500))
    np.testing.assert_allclose(calibration.mean_score, predicted)
    np.testing.assert_allclose(calibration.fraud_rate, observed)


@pytest.mark.parametrize(
    ("labels", "scores", "weights", "genuine", "fraud"),
    [
        pytest.param([0, 0, 1], [0.01, 0.5, 0.99], [3, 1, 1], [0.75, 0.25], [0, 1], id="weighted"),
        pytest.param([0, 0], [0.2, 0.7], [1, 1], [0.5, 0.5], [0, 0], id="no-fraud"),
    ],
)
def test_score_histograms_are_each_class_share_per_bin(
    labels, scores, weights, genuine, fraud
) -> None:
    histograms = score_histograms(*_arrays(labels, scores, weights), bins=2)
    np.testing.assert_allclose(histograms.edges, [0, 0.5, 1])
    np.testing.assert_allclose(histograms.genuine, genuine)
    np.testing.assert_allclose(histograms.fraud, fraud)


DAY_1, DAY_2 = np.datetime64("2026-01-01"), np.datetime64("2026-01-02")


@pytest.mark.parametrize(
    ("days", "labels", "scores", "weights", "max_alerts", "precision", "recall"),
    [
        pytest.param(
            [DAY_1] * 4,
            [1, 0, 1, 0],
            [0.9, 0.8, 0.7, 0.1],
            [1, 1, 1, 1],
            3,
            [1, 1 / 2, 2 / 3],
            [1 / 2, 1 / 2, 1],
            id="one-day",
        ),
        pytest.param(
            # A sampled genuine payment standing for 5 fills five alerts on its own.
            [DAY_1] * 2,
            [0, 1],
            [0.9, 0.5],
            [5, 1],
            6,
            [0, 0, 0, 0, 0, 1 / 6],
            [0, 0, 0, 0, 0, 1],
            id="weighted-genuine-fills-alerts",
        ),
        pytest.param(
            # Day 2 holds no fraud: it counts for precision, not for recall.
            [DAY_1, DAY_2],
            [1, 0],
            [0.9, 0.9],
            [1, 1],
            1,
            [(1 + 0) / 2],
            [1],
            id="recall-over-days-with-a-fraud",
        ),
        pytest.param(
            # One payment that day: a second alert has nothing left to raise.
            [DAY_1],
            [1],
            [0.3],
            [1],
            2,
            [1, 1],
            [1, 1],
            id="fewer-payments-than-alerts",
        ),
        pytest.param(
            [DAY_1, DAY_1],
            [0, 0],
            [0.3, 0.2],
            [1, 1],
            1,
            [0],
            [NAN],
            id="no-fraud-at-all",
        ),
    ],
)
def test_alerts_curve_averages_each_days_top_k(
    days, labels, scores, weights, max_alerts, precision, recall
) -> None:
    curve = alerts_curve(np.asarray(days), *_arrays(labels, scores, weights), max_alerts)
    np.testing.assert_array_equal(curve.alerts, np.arange(1, max_alerts + 1))
    np.testing.assert_allclose(curve.precision, precision)
    np.testing.assert_allclose(curve.recall, recall)
