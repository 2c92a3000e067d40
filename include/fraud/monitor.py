"""Monitoring: nightly drift against the model's reference, performance once labels mature,
retraining requests, alerts."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud import drift, registry
from fraud.config import Settings
from fraud.db import copy_frame, read_frame
from fraud.evaluate import compute_metrics
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

# A transaction without a fraud report before the cut-off counts as genuine as of the cut-off.
_SCORES_WITH_LABELS = """
select s.transaction_id, s.tx_datetime, s.customer_id, s.model_version, s.score, s.is_alert,
       coalesce(l.is_fraud, false) as is_fraud
from scoring.transaction_scores as s
left join raw.fraud_labels as l
    on l.transaction_id = s.transaction_id and l.reported_at < :cutoff
where s.tx_datetime >= :start and s.tx_datetime < :end and s.model_name = :model_name
"""

PERFORMANCE_METRICS = ("average_precision", "card_precision_at_100", "recall_top_decile")


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

    @classmethod
    def from_dict(cls, value: dict) -> DriftOutcome:
        """Rebuild an outcome that travelled through XCom (tuples arrive as lists)."""
        return cls(
            **{
                **value,
                "alert_columns": tuple(value["alert_columns"]),
                "monitored_columns": tuple(value["monitored_columns"]),
            }
        )

    @property
    def alerting_columns(self) -> tuple[str, ...]:
        """The monitored columns (score first, then by importance) in the alert band."""
        return tuple(column for column in self.monitored_columns if column in self.alert_columns)


@dataclass(frozen=True)
class FloorBreach:
    """A day on which a version's average precision, with mature labels, fell below the floor."""

    date: str
    model_version: int
    maturity_days: int
    average_precision: float
    floor: float

    def describe(self) -> str:
        """One line for the retraining reason and the alert."""
        return (
            f"performance: average precision {self.average_precision:.3f} below the floor"
            f" {self.floor:g} for version {self.model_version} on {self.date}"
            f" ({self.maturity_days} days of labels)"
        )


@dataclass(frozen=True)
class PerformanceOutcome:
    """What one night of performance monitoring measured; small enough for XCom."""

    night: str
    measured_dates: tuple[str, ...]
    rows_written: int
    floor_breaches: tuple[FloorBreach, ...]

    @classmethod
    def from_dict(cls, value: dict) -> PerformanceOutcome:
        """Rebuild an outcome that travelled through XCom as a plain dict."""
        return cls(
            night=str(value["night"]),
            measured_dates=tuple(value["measured_dates"]),
            rows_written=int(value["rows_written"]),
            floor_breaches=tuple(FloorBreach(**item) for item in value["floor_breaches"]),
        )


@lru_cache(maxsize=4)
def _version_artifacts(
    tracking_uri: str, model_name: str, version: int
) -> tuple[registry.RegisteredModel, drift.DriftReference]:
    """A version's booster and drift reference, loaded once per process: a registered version
    never changes, and loading it is the slow part of a night."""
    settings = Settings(mlflow_tracking_uri=tracking_uri, model_name=model_name)
    model = registry.load_version(settings, version)
    reference = drift.DriftReference.from_json(
        registry.download_run_file(settings, model.run_id, DRIFT_REFERENCE).read_text()
    )
    return model, reference


@lru_cache(maxsize=4)
def _reference_sample(tracking_uri: str, model_name: str, version: int) -> pd.DataFrame:
    """A version's reference sample, which only the Evidently report needs, loaded once."""
    settings = Settings(mlflow_tracking_uri=tracking_uri, model_name=model_name)
    model, _ = _version_artifacts(tracking_uri, model_name, version)
    return pd.read_parquet(registry.download_run_file(settings, model.run_id, REFERENCE_SAMPLE))


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


def _scored_night(
    engine: Engine, settings: Settings, interval_start: datetime, interval_end: datetime
) -> tuple[int, pd.DataFrame]:
    """The night's scored rows with their features, for the version that scored most of them."""
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
    return version, current[current["model_version"] == version]


def drift_report_path(settings: Settings, drift_date: date) -> Path:
    """Where the night's Evidently report is written."""
    return settings.artifact_dir / "drift" / f"{drift_date:%Y-%m-%d}.html"


def nightly_drift_report(
    engine: Engine, settings: Settings, *, interval_start: datetime, interval_end: datetime
) -> Path:
    """The Evidently data-drift report of the night against the version's reference sample.

    It is kept apart from :func:`nightly_drift` because rendering it is the slow part of a night
    and no decision waits for it.
    """
    version, current = _scored_night(engine, settings, interval_start, interval_end)
    _, reference = _version_artifacts(settings.mlflow_tracking_uri, settings.model_name, version)
    sample = _reference_sample(settings.mlflow_tracking_uri, settings.model_name, version)
    columns = [column.column for column in reference.columns]
    path = drift_report_path(settings, interval_start.date())
    drift.write_evidently_report(sample, current[columns], columns, path)
    return path


def nightly_drift(
    engine: Engine,
    settings: Settings,
    *,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
) -> DriftOutcome:
    """PSI of every feature and the score against the scoring model's reference, stored."""
    version, current = _scored_night(engine, settings, interval_start, interval_end)
    model, reference = _version_artifacts(
        settings.mlflow_tracking_uri, settings.model_name, version
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
    report_path = drift_report_path(settings, drift_date)

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


def drift_reason(engine: Engine, settings: Settings, outcome: DriftOutcome) -> str | None:
    """Why drift calls for retraining (alert band for K nights in a row), or None."""
    streak = drift_streak(engine, settings, outcome)
    if streak < settings.drift_consecutive_nights:
        return None
    return (
        f"drift: PSI in the alert band (>= {settings.psi_bands.alert}) for {streak} night(s) on "
        + ", ".join(outcome.alerting_columns)
    )


def performance_reason(outcome: DriftOutcome, performance: PerformanceOutcome | None) -> str | None:
    """Why performance calls for retraining (tonight's scoring version below the floor), or None."""
    if performance is None:
        return None
    # An older version's weak day says nothing about the model scoring tonight.
    breaches = [
        breach
        for breach in performance.floor_breaches
        if breach.model_version == outcome.model_version
    ]
    return "; ".join(breach.describe() for breach in breaches) or None


def request_retraining(
    engine: Engine,
    settings: Settings,
    outcome: DriftOutcome,
    performance: PerformanceOutcome | None = None,
) -> dict[str, object] | None:
    """Open a retraining request for persistent drift or a performance drop unless one is
    pending; return the Asset event's extra, or None."""
    reasons = [
        reason
        for reason in (
            drift_reason(engine, settings, outcome),
            performance_reason(outcome, performance),
        )
        if reason
    ]
    if not reasons:
        return None
    reason = "; ".join(reasons)
    details = {
        "drift": asdict(outcome),
        "performance": asdict(performance) if performance else None,
    }
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
                "details": json.dumps(details, default=str),
            },
        ).scalar()
    if request_id is None:
        return None
    return {"request_id": int(request_id), "drift_date": outcome.drift_date, "reason": reason}


def drift_alert_message(settings: Settings, outcome: DriftOutcome) -> str | None:
    """The alert for a night on which a monitored column is in the alert band, or None."""
    if not outcome.alerting_columns:
        return None
    return (
        f"Drift on {outcome.drift_date} ({settings.model_name} v{outcome.model_version}):"
        f" PSI >= {settings.psi_bands.alert} on {', '.join(outcome.alerting_columns)};"
        f" max PSI {outcome.max_psi:.3f} over {outcome.rows_compared} rows."
        f" Report: {report_location(outcome.report_path)}"
    )


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def performance_rows(
    frame: pd.DataFrame, day: date, model_name: str, maturity_days: int
) -> pd.DataFrame:
    """Metrics of one day's scored and labelled transactions, one row per model version."""
    rows = []
    for version, scored in frame.groupby("model_version", sort=True):
        metrics = compute_metrics(scored)
        alerts = scored.loc[scored["is_alert"].astype(bool), "is_fraud"]
        rows.append(
            {
                "date": day,
                "model_name": model_name,
                "model_version": int(version),
                "maturity_days": maturity_days,
                "transactions": len(scored),
                "frauds_known": int(scored["is_fraud"].sum()),
                **{name: _none_if_nan(metrics[name]) for name in PERFORMANCE_METRICS},
                "alert_precision": float(alerts.mean()) if len(alerts) else None,
            }
        )
    return pd.DataFrame(rows)


def _labelled_scores(
    engine: Engine, settings: Settings, day: date, cutoff: datetime
) -> pd.DataFrame:
    """The day's scores with the labels reported before ``cutoff``."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=cutoff.tzinfo)
    with engine.connect() as connection:
        frame = read_frame(
            connection,
            _SCORES_WITH_LABELS,
            {
                "start": start,
                "end": start + timedelta(days=1),
                "cutoff": cutoff,
                "model_name": settings.model_name,
            },
        )
    frame["is_fraud"] = frame["is_fraud"].astype(np.int8)
    return frame


def floor_breaches(rows: pd.DataFrame, settings: Settings) -> tuple[FloorBreach, ...]:
    """Rows at the largest maturity whose average precision fell below the configured floor."""
    floor = settings.performance_floor_average_precision
    if rows.empty:
        return ()
    mature = rows[
        (rows["maturity_days"] == max(settings.performance_maturity_days))
        & (rows["average_precision"].astype(float) < floor)
    ]
    return tuple(
        FloorBreach(
            date=row.date.isoformat(),
            model_version=int(row.model_version),
            maturity_days=int(row.maturity_days),
            average_precision=float(row.average_precision),
            floor=floor,
        )
        for row in mature.itertuples(index=False)
    )


def nightly_performance(
    engine: Engine, settings: Settings, *, interval_start: datetime, interval_end: datetime
) -> PerformanceOutcome:
    """Measure each day exactly one configured maturity old, with the labels reported before
    the interval's end; replace those days' rows."""
    night = interval_start.date()
    measured: list[pd.DataFrame] = []
    for maturity in sorted(set(settings.performance_maturity_days)):
        day = night - timedelta(days=maturity)
        rows = performance_rows(
            _labelled_scores(engine, settings, day, interval_end),
            day,
            settings.model_name,
            maturity,
        )
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "delete from monitoring.model_performance where date = :day"
                    " and model_name = :name and maturity_days = :maturity"
                ),
                {"day": day, "name": settings.model_name, "maturity": maturity},
            )
            copy_frame(connection, rows, "monitoring.model_performance")
        measured.append(rows)
    written = pd.concat(measured, ignore_index=True)
    return PerformanceOutcome(
        night=night.isoformat(),
        measured_dates=tuple(sorted({day.isoformat() for day in written.get("date", [])})),
        rows_written=len(written),
        floor_breaches=floor_breaches(written, settings),
    )


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
