"""Model quality metrics: threshold-free ranking scores and the investigators' card precision."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

_TOP_DECILE = 0.1


def _daily_card_precision(day: pd.DataFrame, k: int, score_column: str) -> tuple[float, set[int]]:
    """Precision of the day's top k cards and the fraudulent cards among them."""
    cards = (
        day.groupby("customer_id")
        .agg(score=(score_column, "max"), is_fraud=("is_fraud", "max"))
        .sort_values("score", ascending=False, kind="stable")
    )
    top = cards.head(k)
    detected = set(top.index[top["is_fraud"].astype(bool)])
    return len(detected) / k, detected


def card_precision_at_k(frame: pd.DataFrame, k: int = 100, score_column: str = "score") -> float:
    """The Handbook's CP@k: daily precision of the top k cards, detected cards dropped later."""
    if frame.empty:
        return float("nan")
    day = pd.to_datetime(frame["tx_datetime"], utc=True).dt.floor("D")
    detected: set[int] = set()
    precisions = []
    for _, transactions in frame.groupby(day, sort=True):
        remaining = transactions[~transactions["customer_id"].isin(detected)]
        precision, found = _daily_card_precision(remaining, k, score_column)
        precisions.append(precision)
        detected |= found
    return float(np.mean(precisions))


def recall_top_decile(y_true: np.ndarray, score: np.ndarray) -> float:
    """Share of all frauds found among the 10% highest scores (ties kept in input order)."""
    y_true = np.asarray(y_true).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    if y_true.sum() == 0:
        return float("nan")
    n_top = math.ceil(len(score) * _TOP_DECILE)
    top = np.argsort(-score, kind="stable")[:n_top]
    return float(y_true[top].sum() / y_true.sum())


def _ranking_metric(
    metric: Callable[[np.ndarray, np.ndarray], float], y_true: np.ndarray, score: np.ndarray
) -> float:
    """AUC or AP, NaN when only one class is present and the metric is undefined."""
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(metric(y_true, score))


def compute_metrics(frame: pd.DataFrame, score_column: str = "score") -> dict[str, float]:
    """Every metric the promotion gate and the monitoring read, for one scored window."""
    y_true = frame["is_fraud"].to_numpy().astype(np.int64)
    score = frame[score_column].to_numpy(dtype=np.float64)
    return {
        "auc_roc": _ranking_metric(roc_auc_score, y_true, score),
        "average_precision": _ranking_metric(average_precision_score, y_true, score),
        "card_precision_at_100": card_precision_at_k(frame, 100, score_column),
        "recall_top_decile": recall_top_decile(y_true, score),
        "brier_score": (
            float(brier_score_loss(y_true, score, labels=[0, 1])) if len(y_true) else float("nan")
        ),
        "n_transactions": float(len(frame)),
        "n_frauds": float(y_true.sum()),
    }
