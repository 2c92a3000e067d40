"""Alerts: every alert becomes a row of ``monitoring.alerts``, whatever channel also carries it."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.masking import mask_passwords, mask_values
from fraud.monitoring.drift import DriftOutcome

_RECORD_ALERT = """
insert into monitoring.alerts (kind, severity, dag_id, task_id, run_id, message, details)
values (:kind, :severity, :dag_id, :task_id, :run_id, :message, cast(:details as jsonb))
"""


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
    """Append one row to ``monitoring.alerts``: every alert lands here, whatever else is sent.

    The message and the details are masked first: a driver's error can quote a DSN.
    """
    with engine.begin() as connection:
        connection.execute(
            sa.text(_RECORD_ALERT),
            {
                "kind": kind,
                "severity": severity,
                "dag_id": dag_id,
                "task_id": task_id,
                "run_id": run_id,
                "message": mask_passwords(message)[:2000],
                "details": json.dumps(mask_values(details or {}), default=str),
            },
        )


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


def report_location(path: str | Path) -> str:
    """A clickable location for a report file in logs."""
    return Path(path).resolve().as_uri()
