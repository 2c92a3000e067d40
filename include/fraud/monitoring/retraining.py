"""Retraining requests: drift that persists, or performance under the floor, asks for a new model.

At most one request is pending per model; the retraining run that answers it closes it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.monitoring.drift import DriftOutcome
from fraud.monitoring.performance import PerformanceOutcome

# Nights of this model version, newest first, and whether a monitored column was in the alert band.
_NIGHTS_IN_ALERT_SQL = """
select drift_date, bool_or(band = 'alert' and feature = any(:monitored))
from monitoring.feature_drift
where model_name = :name and model_version = :version and drift_date <= :day
group by drift_date
order by drift_date desc
"""

# The partial unique index on pending requests keeps a second one out.
_OPEN_REQUEST_SQL = """
insert into monitoring.retraining_requests (drift_date, model_name, model_version, reason, details)
values (:day, :name, :version, :reason, cast(:details as jsonb))
on conflict (model_name) where status = 'pending' do nothing
returning request_id
"""

_COMPLETE_REQUESTS_SQL = """
update monitoring.retraining_requests
set status = 'done', completed_at = now(), completed_by_run_id = :run_id
where model_name = :name and status = 'pending'
returning reason
"""


@dataclass(frozen=True)
class RetrainingConfig:
    """The three settings the retraining requests read."""

    model_name: str
    drift_consecutive_nights: int
    psi_alert: float

    @classmethod
    def of(cls, settings: Settings) -> RetrainingConfig:
        """The retraining requests' part of the settings."""
        return cls(settings.model_name, settings.drift_consecutive_nights, settings.psi_bands.alert)


@dataclass(frozen=True)
class RetrainingRequest:
    """An opened request: the extra of the Asset event that schedules the retraining."""

    request_id: int
    drift_date: str
    reason: str


def drift_streak(engine: Engine, model_name: str, outcome: DriftOutcome) -> int:
    """Consecutive nights, ending at this one, on which a monitored column was in the alert band."""
    with engine.connect() as connection:
        nights = connection.execute(
            sa.text(_NIGHTS_IN_ALERT_SQL),
            {
                "monitored": list(outcome.monitored_columns),
                "name": model_name,
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


def drift_reason(engine: Engine, config: RetrainingConfig, outcome: DriftOutcome) -> str | None:
    """Why drift calls for retraining (alert band for K nights in a row), or None."""
    streak = drift_streak(engine, config.model_name, outcome)
    if streak < config.drift_consecutive_nights:
        return None
    return (
        f"drift: PSI in the alert band (>= {config.psi_alert}) for {streak} night(s) on "
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
    config: RetrainingConfig,
    outcome: DriftOutcome,
    performance: PerformanceOutcome | None = None,
) -> RetrainingRequest | None:
    """Open a retraining request for persistent drift or a performance drop unless one is
    pending; return it, or None."""
    reasons = [
        reason
        for reason in (
            drift_reason(engine, config, outcome),
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
            sa.text(_OPEN_REQUEST_SQL),
            {
                "day": date.fromisoformat(outcome.drift_date),
                "name": config.model_name,
                "version": outcome.model_version,
                "reason": reason,
                "details": json.dumps(details, default=str),
            },
        ).scalar()
    if request_id is None:
        return None
    return RetrainingRequest(int(request_id), outcome.drift_date, reason)


def complete_retraining_requests(engine: Engine, model_name: str, run_id: str) -> list[str]:
    """Mark pending requests as taken by this retraining run; return their reasons."""
    with engine.begin() as connection:
        reasons = connection.execute(
            sa.text(_COMPLETE_REQUESTS_SQL),
            {"run_id": run_id, "name": model_name},
        ).scalars()
        return list(reasons)
