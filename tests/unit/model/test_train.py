"""Training is reproducible: the same rows and seed give the same model, metrics and fingerprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import pandas as pd
import pytest

from fraud.features.frames import History
from fraud.model.train import (
    evaluate_models,
    fingerprint,
    fit_models,
    labelled_features,
    score_models,
    windows_before,
)
from fraud.simulation.generate import simulate
from fraud.simulation.params import SimulationParams

START = datetime(2026, 1, 1, tzinfo=UTC)
CUTOFF = START + timedelta(days=30)


@cache
def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation features of a small simulated bank, labels known by the cut-off."""
    simulation = simulate(SimulationParams(seed=8, n_customers=300, n_terminals=600, n_days=30))
    labels = simulation.labels[simulation.labels["reported_at"] < CUTOFF]
    history = History(simulation.transactions, labels)
    windows = windows_before(CUTOFF, train_days=10, validation_days=5, label_delay_days=3)
    training = labelled_features(history, windows.train_start, windows.train_end, 3)
    validation = labelled_features(history, windows.validation_start, windows.validation_end, 3)
    return training, validation


def _train_and_evaluate(seed: int) -> tuple[dict[str, dict[str, float]], np.ndarray]:
    """Fit every model on the training frame; metrics and model scores on validation."""
    training, validation = _frames()
    # A budget far above the grid's cost, so the whole grid is walked both times.
    models = fit_models(training, seed=seed, time_budget_seconds=600)
    scores = score_models(models, validation)["model"]
    return evaluate_models(models, validation), scores


def test_same_data_and_seed_give_identical_metrics() -> None:
    first_metrics, first_scores = _train_and_evaluate(seed=7)
    second_metrics, second_scores = _train_and_evaluate(seed=7)
    assert first_metrics == second_metrics
    np.testing.assert_array_equal(first_scores, second_scores)
    assert first_metrics["model"]["n_frauds"] > 0


@pytest.mark.parametrize(
    ("change", "same"),
    [
        (lambda frame, cutoff: (frame.sample(frac=1.0, random_state=1), cutoff), True),
        (lambda frame, cutoff: (frame.iloc[1:], cutoff), False),
        (lambda frame, cutoff: (frame, cutoff + timedelta(seconds=1)), False),
        (
            lambda frame, cutoff: (frame.assign(is_fraud=1 - frame["is_fraud"]), cutoff),
            False,
        ),
    ],
    ids=["row-order", "one-row-less", "later-cutoff", "other-labels"],
)
def test_fingerprint_depends_on_rows_labels_and_cutoff(change, same: bool) -> None:
    training, _ = _frames()
    original = fingerprint(training, CUTOFF)
    assert (fingerprint(*change(training, CUTOFF)) == original) is same
