"""Monitoring: nightly drift against the model's reference, retraining requests, alerts, status."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud import drift, registry
from fraud.config import Settings
from fraud.db import copy_frame, read_frame
from fraud.retrain import (
    DRIFT_REFERENCE,
    MONITORED_SCORE,
    NOT_MONITORED,
    REFERENCE_SAMPLE,
)

TOP_IMPORTANCE_FEATURES = 5

_SCORED_FEATURES = """
select f.*, s.score, s.model_version
from scoring.transaction_scores as s
join staging.transaction_features as f using (transaction_id)
where s.tx_datetime >= :start and s.tx_datetime < :end and s.model_name = :model_name
"""


@dataclass(frozen=True)
class DriftOutcome:
    """What one night of drift monitoring found; small enough for XCom."""

    drift_date: str
    model_version: int
    rows_compared: int
    max_psi: float
    alert_columns: tuple[str, ...]
    monitored_columns: tuple[str, ...]
    report_path: str


def record_alert(
    engine: Engine,
    *,
    kind: str,
    severity: str,
    message: str,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Append one row to ``monitoring.alerts``: every alert lands here, whatever else is sent."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "insert into monitoring.alerts (kind, severity, dag_id, task_id, run_id, message,"
                " details) values (:kind, :severity, :dag_id, :task_id, :run_id, :message,"
                " cast(:details as jsonb))"
            ),
            {
                "kind": kind,
                "severity": severity,
                "dag_id": dag_id,
                "task_id": task_id,
                "run_id": run_id,
                "message": message[:2000],
                "details": json.dumps(details or {}, default=str),
            },
        )


def nightly_drift(
    engine: Engine,
    settings: Settings,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
) -> DriftOutcome:
    """PSI of every feature and the score against the scoring model's reference; store and report."""
    with engine.connect() as connection:
        current = read_frame(
            connection,
            _SCORED_FEATURES,
            {"start": interval_start, "end": interval_end, "model_name": settings.model_name},
        )
    if current.empty:
        raise drift.DriftError(
            f"no scored rows for {interval_start:%Y-%m-%d} and model {settings.model_name!r}:"
            " run fraud_score for this date first"
        )
    version = int(current["model_version"].mode().iloc[0])
    current = current[current["model_version"] == version]
    model = registry.load_version(settings, version)
    reference = drift.DriftReference.from_json(
        registry.download_run_file(settings, model.run_id, DRIFT_REFERENCE).read_text()
    )
    # The version's own reference says which columns it monitors.
    columns = [column.column for column in reference.columns]
    results = drift.psi(reference, current[columns])
    importance = (
        pd.Series(
            model.booster.feature_importance(importance_type="gain"),
            index=model.booster.feature_name(),
        )
        .drop(list(NOT_MONITORED), errors="ignore")
        .nlargest(TOP_IMPORTANCE_FEATURES)
    )
    monitored = (MONITORED_SCORE, *importance.index)

    drift_date = interval_start.date()
    report_path = settings.artifact_dir / "drift" / f"{drift_date:%Y-%m-%d}.html"
    sample = pd.read_parquet(registry.download_run_file(settings, model.run_id, REFERENCE_SAMPLE))
    drift.write_evidently_report(sample, current[columns], columns, report_path)

    rows = pd.DataFrame(
        {
            "drift_date": drift_date,
            "model_name": settings.model_name,
            "model_version": version,
            "feature": list(results),
            "psi": [result.psi for result in results.values()],
            "band": [settings.psi_bands.band(result.psi) for result in results.values()],
            "rows_compared": [result.rows_compared for result in results.values()],
            "reference_rows": reference.n_rows,
            "report_path": str(report_path),
            "run_id": run_id,
        }
    )
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "delete from monitoring.feature_drift where drift_date = :day and model_name = :name"
            ),
            {"day": drift_date, "name": settings.model_name},
        )
        copy_frame(connection, rows, "monitoring.feature_drift")
    alert_columns = tuple(rows.loc[rows["band"] == "alert", "feature"])
    return DriftOutcome(
        drift_date=drift_date.isoformat(),
        model_version=version,
        rows_compared=len(current),
        max_psi=float(rows["psi"].max()),
        alert_columns=alert_columns,
        monitored_columns=monitored,
        report_path=str(report_path),
    )


def drift_streak(engine: Engine, settings: Settings, outcome: DriftOutcome) -> int:
    """Consecutive nights, ending at this one, on which a monitored column was in the alert band."""
    with engine.connect() as connection:
        nights = connection.execute(
            sa.text(
                "select drift_date, bool_or(band = 'alert' and feature = any(:monitored))"
                " from monitoring.feature_drift"
                " where model_name = :name and model_version = :version and drift_date <= :day"
                " group by drift_date order by drift_date desc"
            ),
            {
                "monitored": list(outcome.monitored_columns),
                "name": settings.model_name,
                "version": outcome.model_version,
                "day": date.fromisoformat(outcome.drift_date),
            },
        ).all()
    streak, expected = 0, date.fromisoformat(outcome.drift_date)
    for night, alerted in nights:
        if night != expected or not alerted:
            break
        streak += 1
        expected = date.fromordinal(expected.toordinal() - 1)
    return streak


def request_retraining(
    engine: Engine, settings: Settings, outcome: DriftOutcome
) -> dict[str, object] | None:
    """Open a retraining request when drift held for K nights and none is pending; else None."""
    streak = drift_streak(engine, settings, outcome)
    if streak < settings.drift_consecutive_nights:
        return None
    reason = (
        f"PSI in the alert band (>= {settings.psi_bands.alert}) for {streak} night(s) on "
        + ", ".join(
            column for column in outcome.monitored_columns if column in outcome.alert_columns
        )
    )
    with engine.begin() as connection:
        request_id = connection.execute(
            sa.text(
                "insert into monitoring.retraining_requests (drift_date, model_name, model_version,"
                " reason, details) values (:day, :name, :version, :reason, cast(:details as jsonb))"
                " on conflict (model_name) where status = 'pending' do nothing"
                " returning request_id"
            ),
            {
                "day": date.fromisoformat(outcome.drift_date),
                "name": settings.model_name,
                "version": outcome.model_version,
                "reason": reason,
                "details": json.dumps(asdict(outcome)),
            },
        ).scalar()
    if request_id is None:
        return None
    return {"request_id": int(request_id), "drift_date": outcome.drift_date, "reason": reason}


def complete_retraining_requests(engine: Engine, settings: Settings, run_id: str) -> list[str]:
    """Mark pending requests as taken by this retraining run; return their reasons."""
    with engine.begin() as connection:
        reasons = connection.execute(
            sa.text(
                "update monitoring.retraining_requests set status = 'done', completed_at = now(),"
                " completed_by_run_id = :run_id where model_name = :name and status = 'pending'"
                " returning reason"
            ),
            {"run_id": run_id, "name": settings.model_name},
        ).scalars()
        return list(reasons)


def report_location(path: str | Path) -> str:
    """A clickable location for a report file in logs."""
    return Path(path).resolve().as_uri()
