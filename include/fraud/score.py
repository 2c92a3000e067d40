"""Batch scoring of one interval: stream features, predict, pick alerts, explain them, swap atomically."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.db import copy_frame, read_frame
from fraud.registry import RegisteredModel

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

_FEATURES_OF_INTERVAL = """
select f.*, t.tx_amount::text as tx_amount_exact
from staging.transaction_features as f
join staging.transactions as t using (transaction_id)
where f.tx_datetime >= :start and f.tx_datetime < :end
order by f.transaction_id
"""


@dataclass(frozen=True)
class ScoreOutcome:
    """Counts for the run ledger and XCom."""

    scored_count: int
    alert_count: int
    model_version: int


def alert_mask(scores: np.ndarray, threshold: float, top_k: int) -> np.ndarray:
    """Alert when the score reaches the threshold or is among the ``top_k`` highest of the batch."""
    mask = scores >= threshold
    if top_k > 0 and len(scores):
        top = np.argsort(-scores, kind="stable")[:top_k]
        mask[top] = True
    return mask


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
    """Scores of a feature frame, in its row order."""
    return model.booster.predict(frame[model.booster.feature_name()])


def score_frame(
    model: RegisteredModel,
    frame: pd.DataFrame,
    *,
    run_id: str,
    alert_threshold: float,
    alert_top_k: int,
    reason_count: int = 3,
) -> pd.DataFrame:
    """Score rows of the features table and attach alerts and reason codes (alerts only)."""
    scores = predict(model, frame)
    alerts = alert_mask(scores, alert_threshold, alert_top_k)
    result = pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"].to_numpy(),
            "tx_datetime": frame["tx_datetime"].to_numpy(),
            "customer_id": frame["customer_id"].to_numpy(),
            "terminal_id": frame["terminal_id"].to_numpy(),
            "tx_amount": frame["tx_amount_exact"].to_numpy(),
            "score": np.clip(scores, 0.0, 1.0),
            "model_name": model.name,
            "model_version": model.version,
            "is_alert": alerts,
        }
    )
    for position in range(1, 4):
        result[f"reason_{position}"] = None
        result[f"reason_{position}_contribution"] = np.nan
    if alerts.any():
        contributions = model.booster.predict(
            frame.loc[alerts, model.booster.feature_name()], pred_contrib=True
        )
        reasons = top_reasons(contributions, model.booster.feature_name(), reason_count)
        alert_rows = np.flatnonzero(alerts)
        for row, row_reasons in zip(alert_rows, reasons, strict=True):
            for position, (name, value) in enumerate(row_reasons[:3], start=1):
                result.iat[row, result.columns.get_loc(f"reason_{position}")] = name
                result.iat[row, result.columns.get_loc(f"reason_{position}_contribution")] = value
    result["run_id"] = run_id
    return result[list(SCORE_COLUMNS)]


def score_interval(
    engine: Engine,
    model: RegisteredModel,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    alert_threshold: float,
    alert_top_k: int,
) -> ScoreOutcome:
    """Score the interval's validated rows and replace the interval's scores in one transaction."""
    with engine.connect() as connection:
        frame = read_frame(
            connection, _FEATURES_OF_INTERVAL, {"start": interval_start, "end": interval_end}
        )
    scored = score_frame(
        model,
        frame,
        run_id=run_id,
        alert_threshold=alert_threshold,
        alert_top_k=alert_top_k,
    )
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "delete from scoring.transaction_scores"
                " where tx_datetime >= :start and tx_datetime < :end"
            ),
            {"start": interval_start, "end": interval_end},
        )
        copy_frame(connection, scored, "scoring.transaction_scores")
    return ScoreOutcome(
        scored_count=len(scored),
        alert_count=int(scored["is_alert"].sum()),
        model_version=model.version,
    )
