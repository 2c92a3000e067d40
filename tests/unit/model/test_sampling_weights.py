"""A sample of the genuine payments, weighted, stands for the whole window.

Metrics, drift references and fitted probabilities from a weighted sample estimate those of all
the payments; with every weight 1 they are exactly the unweighted ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.window import sampling_for
from fraud.model.metrics import compute_metrics
from fraud.model.reference import build_reference
from fraud.model.train import fit_models

SHARE = 0.2


def _window(size: int = 60_000, seed: int = 3) -> pd.DataFrame:
    """Five days of payments: one in fifty a fraud, scores that separate them imperfectly."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(size) < 0.02
    score = np.clip(rng.normal(np.where(fraud, 0.6, 0.25), 0.15), 0, 1)
    return pd.DataFrame(
        {
            "transaction_id": np.arange(size),
            "tx_datetime": pd.Timestamp("2026-03-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 5 * 86_400, size), unit="s"),
            "customer_id": rng.integers(0, size // 3, size),
            "is_fraud": fraud.astype(np.int8),
            "score": score,
        }
    )


def _sample(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """As training reads a window: every fraud, and the genuine payments of a share of the cards,
    weighted by one over their chance of being read."""
    drawn = np.random.default_rng(seed).random(int(frame["customer_id"].max()) + 1) < SHARE
    kept = (frame["is_fraud"] == 1).to_numpy() | drawn[frame["customer_id"].to_numpy()]
    sample = frame[kept].copy()
    sample["weight"] = np.where(sample["is_fraud"] == 1, 1.0, 1 / SHARE)
    return sample


def test_weights_of_one_change_no_metric() -> None:
    frame = _window()
    assert compute_metrics(frame.assign(weight=1.0)) == compute_metrics(frame)


@pytest.mark.parametrize(
    ("metric", "tolerance"),
    [
        ("auc_roc", 0.01),
        ("average_precision", 0.03),
        ("brier_score", 0.003),
        ("card_precision_at_100", 0.05),
        ("recall_top_decile", 0.03),
    ],
)
def test_a_weighted_sample_estimates_the_whole_window(metric: str, tolerance: float) -> None:
    frame = _window()
    whole = compute_metrics(frame)[metric]
    estimates = [compute_metrics(_sample(frame, seed))[metric] for seed in range(5)]
    assert abs(np.mean(estimates) - whole) < tolerance


def test_an_unweighted_sample_would_not() -> None:
    """What the weights are for: a sample read as if it were the window inflates precision."""
    frame = _window()
    whole = compute_metrics(frame)["average_precision"]
    sample = _sample(frame).drop(columns="weight")
    assert compute_metrics(sample)["average_precision"] > whole + 0.1


def test_a_weighted_reference_has_the_window_s_bins_and_shares() -> None:
    frame = _window()
    whole = build_reference(frame, ["score"]).columns[0]
    sampled = build_reference(_sample(frame), ["score"]).columns[0]
    assert np.allclose(sampled.edges[1:-1], whole.edges[1:-1], atol=0.02)
    assert np.allclose(sampled.shares, whole.shares, atol=0.01)


def _features(size: int, seed: int) -> pd.DataFrame:
    """Training rows whose fraud probability depends on the amount, and a label drawn from it."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(size, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
    probability = 1 / (1 + np.exp(-(frame["tx_amount"] * 1.5 - 4.5)))
    frame["is_fraud"] = (rng.random(size) < probability).astype(np.int8)
    frame["transaction_id"] = np.arange(size)
    frame["tx_datetime"] = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 8 * 86_400, size), unit="s"
    )
    frame["customer_id"] = rng.integers(0, size // 4, size)
    return frame


def test_a_model_fitted_on_a_weighted_sample_keeps_calibrated_probabilities() -> None:
    frame = _features(40_000, seed=9)
    sample = _sample(frame, seed=1)
    weighted = fit_models(sample, seed=1, time_budget_seconds=5)
    unweighted = fit_models(sample.drop(columns="weight"), seed=1, time_budget_seconds=5)
    rate = frame["is_fraud"].mean()
    matrix = frame[list(FEATURE_COLUMNS)]
    assert abs(weighted.booster.predict(matrix).mean() - rate) < 0.25 * rate
    assert unweighted.booster.predict(matrix).mean() > 2 * rate


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (68_000, 1.0),  # the Handbook's week: under the floor, read whole
        (500_000, 1.0),  # exactly the floor
        (2_800_000, 500_000 / 2_800_000),  # 100k a day: raised to the floor
        (6_000_000, 0.1),  # the configured share reads between the floor and the cap
        (28_000_000, 2_000_000 / 28_000_000),  # 1M a day: lowered to the cap
    ],
)
def test_the_share_reads_between_the_floor_and_the_cap(rows: int, expected: float) -> None:
    sampling = sampling_for(rows, share=0.1, min_rows=500_000, max_rows=2_000_000, seed=7)
    assert sampling.genuine_fraction == pytest.approx(expected)
    assert sampling.seed == 7
    assert sampling.genuine_weight == pytest.approx(1 / expected)


def test_no_floor_keeps_the_share_and_an_empty_window_reads_whole() -> None:
    assert (
        sampling_for(68_000, share=0.1, min_rows=0, max_rows=2_000_000, seed=0).genuine_fraction
        == 0.1
    )
    assert (
        sampling_for(0, share=0.1, min_rows=500_000, max_rows=2_000_000, seed=0).genuine_fraction
        == 1.0
    )
