"""Metrics on hand-computed tiny cases: card precision top-k, top-decile recall, AUC bounds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fraud.model.metrics import (
    card_precision_at_k,
    compute_metrics,
    ranking_metrics,
    recall_top_decile,
)


def _scored(rows: list[tuple[str, int, int, float]]) -> pd.DataFrame:
    """A scored frame from (tx_datetime, customer_id, is_fraud, score) tuples."""
    frame = pd.DataFrame(rows, columns=["tx_datetime", "customer_id", "is_fraud", "score"])
    frame["tx_datetime"] = pd.to_datetime(frame["tx_datetime"], utc=True, format="ISO8601")
    return frame


@pytest.mark.parametrize(
    ("rows", "k", "expected"),
    [
        pytest.param(
            # Card 1's best score (0.9) ranks it first; its fraud is on another transaction.
            [
                ("2026-01-01 10:00", 1, 0, 0.9),
                ("2026-01-01 11:00", 1, 1, 0.1),
                ("2026-01-01 12:00", 2, 0, 0.8),
                ("2026-01-01 13:00", 3, 1, 0.7),
            ],
            2,
            1 / 2,
            id="card-max-score-and-any-fraud",
        ),
        pytest.param(
            # Day 1: card 1 detected (1/1). Day 2: card 1 is dropped, card 2 is genuine (0/1).
            [
                ("2026-01-01 23:59", 1, 1, 0.9),
                ("2026-01-01 08:00", 2, 0, 0.5),
                ("2026-01-02 00:01", 1, 1, 0.95),
                ("2026-01-02 09:00", 2, 0, 0.6),
                ("2026-01-02 10:00", 3, 1, 0.5),
            ],
            1,
            (1 + 0) / 2,
            id="detected-card-dropped-next-day",
        ),
        pytest.param(
            # Card 1 was in the top k on day 1 but genuine, so it stays in day 2's ranking.
            [
                ("2026-01-01 10:00", 1, 0, 0.9),
                ("2026-01-02 10:00", 1, 1, 0.9),
                ("2026-01-02 11:00", 2, 1, 0.1),
            ],
            1,
            (0 + 1) / 2,
            id="genuine-top-card-not-dropped",
        ),
        pytest.param(
            # Fewer cards than k: the precision is still divided by k.
            [
                ("2026-01-01 10:00", 1, 1, 0.9),
                ("2026-01-01 11:00", 2, 0, 0.8),
                ("2026-01-01 12:00", 3, 1, 0.7),
            ],
            5,
            2 / 5,
            id="k-larger-than-the-cards",
        ),
    ],
)
def test_card_precision_at_k(
    rows: list[tuple[str, int, int, float]], k: int, expected: float
) -> None:
    assert card_precision_at_k(_scored(rows), k) == pytest.approx(expected)


def _known(rows: list[tuple[str, int, int, float, bool]]) -> pd.DataFrame:
    """A scored frame from (tx_datetime, customer_id, is_fraud, score, card_known) tuples."""
    frame = _scored([row[:4] for row in rows])
    frame["card_known"] = [row[4] for row in rows]
    return frame


@pytest.mark.parametrize(
    ("rows", "k", "expected"),
    [
        pytest.param(
            # Card 1, known and fraudulent, has the top score: left out, genuine card 3 is first.
            [
                ("2026-01-01 10:00", 1, 1, 0.9, True),
                ("2026-01-01 11:00", 2, 1, 0.5, False),
                ("2026-01-01 12:00", 3, 0, 0.6, False),
            ],
            1,
            0 / 1,
            id="known-top-card-skipped",
        ),
        pytest.param(
            # Card 1 is left out, so fraudulent card 3 enters the top 2 beside card 2.
            [
                ("2026-01-01 10:00", 1, 0, 0.9, True),
                ("2026-01-01 11:00", 2, 0, 0.8, False),
                ("2026-01-01 12:00", 3, 1, 0.7, False),
            ],
            2,
            1 / 2,
            id="next-card-enters-the-top-k",
        ),
        pytest.param(
            # Card 1 is known on day 2 only: found on day 1 (1/1); day 2 ranks card 2 (0/1).
            [
                ("2026-01-01 10:00", 2, 0, 0.1, False),
                ("2026-01-01 11:00", 1, 1, 0.9, False),
                ("2026-01-02 10:00", 1, 1, 0.9, True),
                ("2026-01-02 11:00", 2, 0, 0.5, False),
            ],
            1,
            (1 + 0) / 2,
            id="known-on-its-own-day-only",
        ),
        pytest.param(
            # A day whose every card is known is no day of the mean: day 2 alone, 1/1.
            [
                ("2026-01-01 10:00", 1, 1, 0.9, True),
                ("2026-01-02 10:00", 2, 1, 0.9, False),
            ],
            1,
            1 / 1,
            id="a-day-of-known-cards-only-drops-out",
        ),
    ],
)
def test_card_precision_leaves_known_cards_out(
    rows: list[tuple[str, int, int, float, bool]], k: int, expected: float
) -> None:
    assert card_precision_at_k(_known(rows), k) == pytest.approx(expected)


def test_card_precision_of_known_cards_only_is_nan() -> None:
    assert math.isnan(card_precision_at_k(_known([("2026-01-01 10:00", 1, 1, 0.9, True)]), 1))


def test_card_precision_with_known_cards_equals_the_frame_without_them() -> None:
    # As the evaluation protocol computes it: the known rows dropped from the frame.
    rng = np.random.default_rng(3)
    n = 2_000
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 300, n),
            "score": rng.random(n),
            "is_fraud": (rng.random(n) < 0.1).astype(np.int8),
            "tx_datetime": pd.to_datetime(
                1_700_000_000_000_000 + rng.integers(0, 5 * 86_400_000_000, n), unit="us", utc=True
            ),
            "card_known": rng.random(n) < 0.2,
        }
    )
    dropped = frame[~frame["card_known"]].drop(columns="card_known")
    for k in (1, 10, 100):
        assert card_precision_at_k(frame, k) == card_precision_at_k(dropped, k)
    assert card_precision_at_k(frame.assign(card_known=False), 10) == card_precision_at_k(
        frame.drop(columns="card_known"), 10
    )


def test_only_card_precision_leaves_known_cards_out() -> None:
    frame = _window("perfect")
    known = frame.assign(card_known=frame["customer_id"] == 1)  # card 1 holds a fraud
    metrics, without = compute_metrics(frame), compute_metrics(known)
    assert {name for name in metrics if metrics[name] != without[name]} == {"card_precision_at_100"}
    assert ranking_metrics(known) == {
        name: without[name]
        for name in ("average_precision", "card_precision_at_100", "recall_top_decile")
    }


def test_card_precision_days_are_utc_days() -> None:
    # 23:30 at UTC-05:00 is 04:30 UTC the next day: two days, each with its own top card.
    frame = _scored([("2026-01-01 20:00", 1, 1, 0.9), ("2026-01-01 23:30-05:00", 2, 0, 0.8)])
    assert card_precision_at_k(frame, 1) == pytest.approx((1 + 0) / 2)


@pytest.mark.parametrize(
    ("fraud_ranks", "n", "expected"),
    [
        ([0, 1], 20, 1.0),  # both frauds in the top 2 of 20
        ([0, 4, 7], 20, 1 / 3),  # top 2 of 20 hold one of three frauds
        ([1, 2], 11, 1 / 2),  # the top decile of 11 rows is 2 rows
        ([19], 20, 0.0),
    ],
)
def test_recall_top_decile(fraud_ranks: list[int], n: int, expected: float) -> None:
    score = np.linspace(1.0, 0.0, n)  # rank 0 is the highest score
    y_true = np.zeros(n, dtype=int)
    y_true[fraud_ranks] = 1
    order = np.random.default_rng(0).permutation(n)  # input order must not matter
    assert recall_top_decile(y_true[order], score[order]) == pytest.approx(expected)


def test_recall_top_decile_without_frauds_is_nan() -> None:
    assert math.isnan(recall_top_decile(np.zeros(10), np.linspace(0, 1, 10)))


def _window(score_of: str) -> pd.DataFrame:
    """Four days of two frauds and six genuine transactions, scored perfectly or inversely."""
    is_fraud = np.array([1, 0, 0, 1, 0, 0, 0, 0])
    score = {"perfect": 0.1 + 0.8 * is_fraud, "inverted": 0.9 - 0.8 * is_fraud}[score_of]
    return pd.DataFrame(
        {
            "tx_datetime": pd.date_range("2026-01-01", periods=8, freq="12h", tz="UTC"),
            "customer_id": [1, 2, 3, 4, 1, 2, 3, 4],
            "is_fraud": is_fraud,
            "score": score,
        }
    )


@pytest.mark.parametrize(
    ("score_of", "auc_roc", "average_precision"),
    # Inverted: the six genuine rows tie above the two frauds, so AP is the base rate 2/8.
    [("perfect", 1.0, 1.0), ("inverted", 0.0, 2 / 8)],
)
def test_compute_metrics_bounds(score_of: str, auc_roc: float, average_precision: float) -> None:
    metrics = compute_metrics(_window(score_of))
    assert metrics["auc_roc"] == pytest.approx(auc_roc)
    assert metrics["average_precision"] == pytest.approx(average_precision)
    assert (metrics["n_transactions"], metrics["n_frauds"]) == (8.0, 2.0)


def test_compute_metrics_brier_score_by_hand() -> None:
    # Perfect ranking, but each score is 0.1 away from its label.
    assert compute_metrics(_window("perfect"))["brier_score"] == pytest.approx(0.01)


def test_compute_metrics_reads_the_named_score_column() -> None:
    frame = _window("inverted").rename(columns={"score": "challenger"})
    frame["score"] = 1.0 - frame["challenger"]
    assert compute_metrics(frame, "challenger")["auc_roc"] == pytest.approx(0.0)


def test_compute_metrics_one_class_is_nan_not_an_error() -> None:
    frame = _window("perfect").assign(is_fraud=0)
    metrics = compute_metrics(frame)
    assert math.isnan(metrics["auc_roc"]) and math.isnan(metrics["average_precision"])
    assert metrics["n_frauds"] == 0.0
    assert set(metrics) == {
        "auc_roc",
        "average_precision",
        "card_precision_at_100",
        "recall_top_decile",
        "brier_score",
        "n_transactions",
        "n_frauds",
    }


def _card_precision_by_groupby(frame: pd.DataFrame, k: int) -> float:
    """CP@k the plain pandas way: per UTC day, each remaining card's highest score, fraud flag
    and least weight; the best cards up to a weight of k (ties by card id); found cards dropped
    from later days."""
    frame = frame.assign(_weight=frame["weight"] if "weight" in frame else 1.0)
    day = pd.to_datetime(frame["tx_datetime"], utc=True).dt.floor("D")
    detected: set[int] = set()
    precisions = []
    for _, transactions in frame.groupby(day, sort=True):
        remaining = transactions[~transactions["customer_id"].isin(detected)]
        cards = (
            remaining.groupby("customer_id")
            .agg(score=("score", "max"), is_fraud=("is_fraud", "max"), weight=("_weight", "min"))
            .sort_values("score", ascending=False, kind="stable")
        )
        weight = cards["weight"].to_numpy()
        taken = np.clip(k - (np.cumsum(weight) - weight), 0.0, weight)
        fraud = cards["is_fraud"].to_numpy().astype(bool)
        detected |= set(cards.index[fraud & (taken > 0)])
        precisions.append(float(np.sum(taken[fraud]) / k))
    return float(np.mean(precisions))


@pytest.mark.parametrize("seed", range(12))
def test_card_precision_matches_the_plain_groupby_with_ties_weights_and_days(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3_000))
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(0, max(1, n // 8), n),
            # Few decimals, so that many cards tie on their highest score.
            "score": np.round(rng.random(n), int(rng.integers(1, 4))),
            "is_fraud": (rng.random(n) < 0.1).astype(np.int8),
            "tx_datetime": pd.to_datetime(
                1_700_000_000_000_000 + rng.integers(0, 9 * 86_400_000_000, n), unit="us", utc=True
            ),
        }
    )
    if seed % 2:
        frame["weight"] = np.where(frame["is_fraud"] == 1, 1.0, 1 / 0.3)
    for k in (1, 5, 100):
        assert card_precision_at_k(frame, k) == _card_precision_by_groupby(frame, k)


def test_a_day_whose_cards_were_all_caught_before_counts_as_finding_nothing() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "tx_datetime": pd.to_datetime(["2026-01-01 10:00", "2026-01-02 10:00"], utc=True),
            "is_fraud": [1, 1],
            "score": [0.9, 0.9],
        }
    )
    # Day 1: one fraudulent card of one reviewed (k=1); day 2: only that caught card, left out.
    assert card_precision_at_k(frame, k=1) == pytest.approx((1.0 + 0.0) / 2)
