"""The curves a training run plots, each weighted by the rows' sampling weights.

A sampled genuine payment stands for 1/share payments of the window, so every curve counts it
that many times: the curves estimate what the whole window would draw, as the metrics do.
Every function takes the arrays already in memory (labels, scores, weights), never a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Curve:
    """Points of a curve, x and y of equal length."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Calibration:
    """Reliability diagram: per non-empty score bin, the mean score, the observed fraud rate
    and the weight of payments it holds."""

    mean_score: np.ndarray
    fraud_rate: np.ndarray
    weight: np.ndarray


@dataclass(frozen=True)
class ScoreHistograms:
    """Each class's share of its (weighted) payments in each score bin of ``edges``."""

    edges: np.ndarray
    genuine: np.ndarray
    fraud: np.ndarray


@dataclass(frozen=True)
class AlertsCurve:
    """Precision and recall of the day's top k alerts, for k = 1 … K, averaged over days."""

    alerts: np.ndarray
    precision: np.ndarray
    recall: np.ndarray


def roc_points(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> Curve:
    """False-positive rate (x) against true-positive rate (y), weighted."""
    from sklearn.metrics import roc_curve

    false_positive, true_positive, _ = roc_curve(labels, scores, sample_weight=weights)
    return Curve(false_positive, true_positive)


def precision_recall_points(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> Curve:
    """Recall (x) against precision (y), weighted, from the highest threshold down."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(
        labels, scores, sample_weight=weights, drop_intermediate=True
    )
    return Curve(recall[::-1], precision[::-1])


def _bin_of(scores: np.ndarray, bins: int) -> np.ndarray:
    """Index of each score's bin among ``bins`` bins of equal width on [0, 1], each [a, b),
    the last one closed."""
    return np.clip((np.asarray(scores, dtype=np.float64) * bins).astype(np.int64), 0, bins - 1)


def calibration_bins(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, bins: int = 10
) -> Calibration:
    """Mean score against observed fraud rate in bins of equal width, weighted.

    scikit-learn's ``calibration_curve`` takes no sample weights; this is its uniform strategy
    with each payment counted by its weight.
    """
    scores = np.asarray(scores, dtype=np.float64)
    index = _bin_of(scores, bins)
    weights = np.asarray(weights, dtype=np.float64)
    total = np.bincount(index, weights=weights, minlength=bins)
    score_sum = np.bincount(index, weights=weights * scores, minlength=bins)
    fraud_sum = np.bincount(index, weights=weights * np.asarray(labels, bool), minlength=bins)
    kept = total > 0
    return Calibration(
        mean_score=score_sum[kept] / total[kept],
        fraud_rate=fraud_sum[kept] / total[kept],
        weight=total[kept],
    )


def score_histograms(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, bins: int = 50
) -> ScoreHistograms:
    """Each class's weighted share of payments per score bin of equal width on [0, 1]: the two
    classes on one scale however rare frauds are."""
    index = _bin_of(scores, bins)
    fraud = np.asarray(labels, bool)
    weights = np.asarray(weights, dtype=np.float64)
    shares = []
    for rows in (~fraud, fraud):
        counts = np.bincount(index[rows], weights=weights[rows], minlength=bins)
        total = counts.sum()
        shares.append(counts / total if total > 0 else counts)
    return ScoreHistograms(np.linspace(0.0, 1.0, bins + 1), shares[0], shares[1])


def _day_top_k(
    labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, alerts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One day's precision and recall of its top k payments by score, for each k of ``alerts``.

    The top k are the highest scores up to a weight of k (a sampled payment fills up to its
    weight of alerts), ties in input order, as card precision ranks cards.
    """
    order = np.argsort(-scores, kind="stable")
    weight, fraud = weights[order], labels[order].astype(bool)
    before = np.cumsum(weight) - weight
    top = before < alerts[-1]  # only these rows can be among the top K
    taken = np.clip(alerts[:, None] - before[None, top], 0.0, weight[None, top])
    caught = taken[:, fraud[top]].sum(axis=1)
    frauds = weight[fraud].sum()
    recall = caught / frauds if frauds > 0 else np.full(len(alerts), np.nan)
    return caught / taken.sum(axis=1), recall


def alerts_curve(
    days: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    max_alerts: int,
) -> AlertsCurve:
    """Precision and recall if each day raised its k highest-scoring payments as alerts, for
    k = 1 … ``max_alerts``: the mean over days, recall over the days that hold a fraud."""
    alerts = np.arange(1, max_alerts + 1, dtype=np.float64)
    nothing = np.full(max_alerts, np.nan)
    if len(scores) == 0:
        return AlertsCurve(alerts, nothing, nothing)
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    precisions, recalls = [], []
    for day in np.unique(days):
        rows = days == day
        precision, recall = _day_top_k(labels[rows], scores[rows], weights[rows], alerts)
        precisions.append(precision)
        recalls.append(recall)
    with_fraud = [recall for recall in recalls if not np.isnan(recall[0])]
    return AlertsCurve(
        alerts,
        np.mean(precisions, axis=0),
        np.mean(with_fraud, axis=0) if with_fraud else nothing,
    )
