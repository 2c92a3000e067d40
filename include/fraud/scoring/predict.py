"""Scores of a feature frame: predictions, alerts and the reason codes that explain them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud.model.registry import RegisteredModel

# The score table holds three reason codes per alert (reason_1 .. reason_3).
REASON_SLOTS = 3

SCORE_COLUMNS = (
    "transaction_id",
    "tx_datetime",
    "customer_id",
    "terminal_id",
    "tx_amount",
    "score",
    "model_name",
    "model_version",
    "is_alert",
    "reason_1",
    "reason_1_contribution",
    "reason_2",
    "reason_2_contribution",
    "reason_3",
    "reason_3_contribution",
    "run_id",
)


def alert_mask(scores: np.ndarray, threshold: float | None) -> np.ndarray:
    """Payments scoring at least the threshold (none without one): a frame's own alerts, for
    callers outside the night (the night chooses its alerts per card, fraud.scoring.alerts)."""
    if threshold is None:
        return np.zeros(len(scores), dtype=bool)
    return scores >= threshold


def top_reasons(
    contributions: np.ndarray, names: list[str], count: int
) -> list[list[tuple[str, float]]]:
    """For each row, the ``count`` features with the largest positive contribution to the score."""
    per_feature = contributions[:, : len(names)]
    order = np.argsort(-per_feature, axis=1, kind="stable")[:, :count]
    reasons: list[list[tuple[str, float]]] = []
    for row, columns in zip(per_feature, order, strict=True):
        reasons.append(
            [(names[column], float(row[column])) for column in columns if row[column] > 0]
        )
    return reasons


def predict(model: RegisteredModel, frame: pd.DataFrame) -> np.ndarray:
    """Scores of a feature frame, in its row order (by the compiled model when there is one)."""
    columns = frame[model.booster.feature_name()]
    if model.predictor is not None:
        return model.predictor(columns.to_numpy(dtype=np.float64))
    return np.asarray(model.booster.predict(columns), dtype=np.float64)


def explain(
    model: RegisteredModel, frame: pd.DataFrame, count: int
) -> list[list[tuple[str, float]]]:
    """Reason codes of each row: TreeSHAP contributions (``pred_contrib``), strongest first."""
    names = model.booster.feature_name()
    contributions = np.asarray(model.booster.predict(frame[names], pred_contrib=True))
    return top_reasons(contributions, names, count)


def reason_columns(reasons: list[tuple[str, float]]) -> dict[str, object]:
    """One row's reasons as the score table's ``reason_N`` / ``reason_N_contribution`` values."""
    columns: dict[str, object] = {}
    for position in range(1, REASON_SLOTS + 1):
        name, value = reasons[position - 1] if position <= len(reasons) else (None, None)
        columns[f"reason_{position}"] = name
        columns[f"reason_{position}_contribution"] = value
    return columns


def reason_arrays(
    size: int, rows: np.ndarray, reasons: list[list[tuple[str, float]]]
) -> dict[str, np.ndarray]:
    """The ``reason_N`` / ``reason_N_contribution`` columns: reasons at ``rows``, empty elsewhere."""
    columns: dict[str, np.ndarray] = {}
    for position in range(1, REASON_SLOTS + 1):
        columns[f"reason_{position}"] = np.full(size, None, dtype=object)
        columns[f"reason_{position}_contribution"] = np.full(size, np.nan)
    for row, row_reasons in zip(rows, reasons, strict=True):
        for position, (name, value) in enumerate(row_reasons[:REASON_SLOTS], start=1):
            columns[f"reason_{position}"][row] = name
            columns[f"reason_{position}_contribution"][row] = value
    return columns


def score_frame(
    model: RegisteredModel,
    frame: pd.DataFrame,
    *,
    run_id: str,
    alert_threshold: float | None = None,
    reason_count: int = REASON_SLOTS,
) -> pd.DataFrame:
    """Score rows of the features table; with a threshold, the rows at or above it are alerts
    with reason codes (the nightly scoring passes none: its alerts are chosen per card)."""
    scores = predict(model, frame)
    alerts = alert_mask(scores, alert_threshold)
    result = pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"].to_numpy(),
            # Text passes through as it came (Arrow-backed when streamed): no Python objects.
            "tx_datetime": frame["tx_datetime"].array,
            "customer_id": frame["customer_id"].to_numpy(),
            "terminal_id": frame["terminal_id"].to_numpy(),
            "tx_amount": frame["tx_amount_exact"].array,
            "score": np.clip(scores, 0.0, 1.0),
            "model_name": model.name,
            "model_version": model.version,
            "is_alert": alerts,
        }
    )
    reasons = explain(model, frame.loc[alerts], reason_count) if alerts.any() else []
    for column, values in reason_arrays(len(frame), np.flatnonzero(alerts), reasons).items():
        result[column] = values
    result["run_id"] = run_id
    return result[list(SCORE_COLUMNS)]
