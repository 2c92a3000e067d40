"""Model quality metrics: threshold-free ranking scores and the investigators' card precision.

CP@100 counts only what an investigator newly finds: a frame's rows marked ``card_known`` (the
card had a fraud reported before the row's day began) are left out of it, as the evaluation
protocol leaves them out of its test set. The promotion gate and the nightly monitoring mark
their rows from the frauds of the last :data:`KNOWN_CARD_LOOKBACK_DAYS` days.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

_TOP_DECILE = 0.1
# How far back a reported fraud makes a card known: the frauds on its payments of the last 30
# days. The Handbook's protocol reaches back to the start of training (two to three weeks before
# a test day), a simulated card stays compromised 14 days and its frauds are reported within
# about a week; the read stays bounded by the frauds of 30 days, about 1% of their payments.
KNOWN_CARD_LOOKBACK_DAYS = 30


def _weights(frame: pd.DataFrame) -> np.ndarray:
    """Each row's weight: how many payments of the whole window it stands for (1 unsampled)."""
    if "weight" in frame:
        return frame["weight"].to_numpy(dtype=np.float64)
    return np.ones(len(frame))


def _daily_card_precision(
    customers: np.ndarray, scores: np.ndarray, frauds: np.ndarray, weights: np.ndarray, k: int
) -> tuple[float, set[int]]:
    """Precision of the day's top k cards and the fraudulent cards among them.

    A card scores its highest score and weighs as its least-weighted row: a card with a fraud is
    always read (weight 1), a genuine card read in a sample stands for 1/share cards. The top k
    are the highest-scoring cards up to a weight of k, ties in the order of the card ids.
    Computed on arrays (sorted runs of each card), since a day holds millions of payments.
    """
    order = np.argsort(customers, kind="stable")
    sorted_customers = customers[order]
    starts = np.flatnonzero(np.r_[True, sorted_customers[1:] != sorted_customers[:-1]])
    card_ids = sorted_customers[starts]
    card_scores = np.maximum.reduceat(scores[order], starts)
    card_frauds = np.maximum.reduceat(frauds[order], starts).astype(bool)
    card_weights = np.minimum.reduceat(weights[order], starts)
    ranked = np.argsort(-card_scores, kind="stable")
    weight = card_weights[ranked]
    taken = np.clip(k - (np.cumsum(weight) - weight), 0.0, weight)
    fraud = card_frauds[ranked]
    detected = {int(card) for card in card_ids[ranked][fraud & (taken > 0)]}
    return float(np.sum(taken[fraud]) / k), detected


def card_precision_at_k(frame: pd.DataFrame, k: int = 100, score_column: str = "score") -> float:
    """The Handbook's CP@k: daily precision of the top k cards, detected cards dropped later.

    Rows whose optional boolean ``card_known`` column is true are left out: their card had a
    fraud reported before the row's day began, so it is blocked already and finding it again is
    no detection. Without the column every row counts. Only CP@k leaves them out: AUC, AP, the
    Brier score and the top-decile recall measure payments, CP@k what an investigator newly finds.
    """
    if frame.empty:
        return float("nan")
    customers = frame["customer_id"].to_numpy(dtype=np.int64)
    scores = frame[score_column].to_numpy(dtype=np.float64)
    frauds = frame["is_fraud"].to_numpy().astype(np.int8)
    weights = _weights(frame)
    day = pd.to_datetime(frame["tx_datetime"], utc=True).dt.tz_convert(None)
    days = day.to_numpy().astype("datetime64[D]")
    if "card_known" in frame:
        new = ~frame["card_known"].to_numpy(dtype=bool)
        if not new.any():
            return float("nan")
        customers, scores, frauds, weights, days = (
            values[new] for values in (customers, scores, frauds, weights, days)
        )
    detected: set[int] = set()
    precisions = []
    for value in np.sort(pd.unique(days)):
        rows = days == value
        if detected:
            rows &= ~np.isin(customers, np.fromiter(detected, dtype=np.int64))
        if not rows.any():
            # Every card of the day was caught before: the day's reviews find nothing new.
            precisions.append(0.0)
            continue
        precision, found = _daily_card_precision(
            customers[rows], scores[rows], frauds[rows], weights[rows], k
        )
        precisions.append(precision)
        detected |= found
    return float(np.mean(precisions))


def recall_top_decile(
    y_true: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None
) -> float:
    """Share of all frauds found among the 10% highest scores (ties kept in input order)."""
    y_true = np.asarray(y_true).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    weight = np.ones(len(score)) if weight is None else np.asarray(weight, dtype=np.float64)
    if y_true.sum() == 0:
        return float("nan")
    order = np.argsort(-score, kind="stable")
    # The top decile by weight: rows whose preceding weight is under a tenth of the total.
    before = np.cumsum(weight[order]) - weight[order]
    top = order[before < math.ceil(weight.sum() * _TOP_DECILE)]
    return float(np.sum(weight[top] * y_true[top]) / np.sum(weight * y_true))


def _ranking_metric(
    metric: Callable[..., float], y_true: np.ndarray, score: np.ndarray, weight: np.ndarray
) -> float:
    """AUC or AP, NaN when only one class is present and the metric is undefined."""
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(metric(y_true, score, sample_weight=weight))


def ranking_metrics(frame: pd.DataFrame, score_column: str = "score") -> dict[str, float]:
    """The metrics the nightly performance monitoring stores: AP, CP@100 and top-decile recall,
    computed as :func:`compute_metrics` computes them (CP@100 without the ``card_known`` rows)."""
    y_true = frame["is_fraud"].to_numpy().astype(np.int64)
    score = frame[score_column].to_numpy(dtype=np.float64)
    weight = _weights(frame)
    return {
        "average_precision": _ranking_metric(average_precision_score, y_true, score, weight),
        "card_precision_at_100": card_precision_at_k(frame, 100, score_column),
        "recall_top_decile": recall_top_decile(y_true, score, weight),
    }


def compute_metrics(frame: pd.DataFrame, score_column: str = "score") -> dict[str, float]:
    """Every metric the promotion gate and the monitoring read, for one scored window.

    Rows weigh what their ``weight`` column says (a sample's rows stand for the payments left
    out), so the figures estimate the whole window's. Every row counts in every metric but
    CP@100, which leaves out the rows marked ``card_known`` (:func:`card_precision_at_k`).
    """
    y_true = frame["is_fraud"].to_numpy().astype(np.int64)
    score = frame[score_column].to_numpy(dtype=np.float64)
    weight = _weights(frame)
    return {
        "auc_roc": _ranking_metric(roc_auc_score, y_true, score, weight),
        **ranking_metrics(frame, score_column),
        "brier_score": (
            float(brier_score_loss(y_true, score, sample_weight=weight, labels=[0, 1]))
            if len(y_true)
            else float("nan")
        ),
        "n_transactions": float(len(frame)),
        "n_frauds": float(y_true.sum()),
    }
