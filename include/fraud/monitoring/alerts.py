"""Alerts: every alert becomes a row of ``monitoring.alerts``, whatever channel also carries it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from html import escape

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.dates import utc
from fraud.links import dag_run_url, drift_report_url
from fraud.masking import mask_passwords, mask_values
from fraud.monitoring.drift import DriftOutcome


class AlertKind(StrEnum):
    """Every kind of alert the notifier sends, the ``kind`` of its ``monitoring.alerts`` row.

    The one list of them: ``docs/operations.md`` has an on-call page for each (a test checks).
    """

    # A task failed after its retries (its log linked).
    TASK_FAILURE = "task_failure"
    # fraud_ingest's quality gate stopped a night's batch (its Data Docs linked); not retried.
    QUALITY_GATE = "quality_gate"
    # A monitored column in the PSI alert band on a night (its drift report linked).
    DRIFT = "drift"
    # A day's scores were not published by their deadline (fraud_score's run linked).
    DEADLINE_MISSED = "deadline_missed"


_RECORD_ALERT_SQL = """
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
    secrets: Iterable[str] = (),
) -> None:
    """Append one row to ``monitoring.alerts``: every alert lands here, whatever else is sent.

    The message and the details are masked first, the configured ``secrets`` wherever they stand
    and every secret by its shape: a driver's error can quote a DSN or a password.
    """
    secrets = frozenset(secrets)
    with engine.begin() as connection:
        connection.execute(
            sa.text(_RECORD_ALERT_SQL),
            {
                "kind": kind,
                "severity": severity,
                "dag_id": dag_id,
                "task_id": task_id,
                "run_id": run_id,
                "message": mask_passwords(message, secrets)[:2000],
                "details": json.dumps(mask_values(details or {}, secrets), default=str),
            },
        )


def drift_alert_message(
    settings: Settings, outcome: DriftOutcome, log_url: str | None = None
) -> str | None:
    """The alert for a night on which a monitored column is in the alert band, or None.

    It links the night's report on the monitoring page and, when known, the task's log.
    """
    if not outcome.alerting_columns:
        return None
    log = f"; log: {log_url}" if log_url else ""
    return (
        f"Drift on {outcome.drift_date} ({settings.model_name} v{outcome.model_version}):"
        f" PSI >= {settings.psi_bands.alert} on {', '.join(outcome.alerting_columns)};"
        f" max PSI {outcome.max_psi:.3f} over {outcome.rows_compared} rows."
        f" Report: {drift_report_url(settings.base_url, outcome.drift_date)}{log}"
    )


def scores_due_at(day_end: datetime, deadline: timedelta) -> datetime:
    """When the scores of the day ending at ``day_end`` are due: ``deadline`` after it ends."""
    return utc(day_end) + deadline


def deadline_applies(
    day_end: datetime, deadline: timedelta, created_at: datetime, rescored_day: object = None
) -> bool:
    """Whether a run created at ``created_at`` for the day ending at ``day_end`` promises its
    scores by the deadline: not when the deadline had passed already (a catch-up, a backfill, a
    late manual run), nor for a run that rescores a chosen day (its ``date`` param) instead."""
    return not rescored_day and utc(created_at) < scores_due_at(day_end, deadline)


def deadline_message(
    base_url: str,
    dag_id: str,
    run_id: str,
    day_start: datetime,
    due_at: datetime,
    state: str | None,
) -> str:
    """The alert for a day whose scores were not published by their deadline, linking the run."""
    return (
        f"Scores of {utc(day_start):%Y-%m-%d} not published by {utc(due_at):%Y-%m-%d %H:%M} UTC:"
        f" {dag_id} run {run_id} is {state or 'unknown'}."
        f" Run: {dag_run_url(base_url, dag_id, run_id)}"
    )


def failure_message(
    dag_id: str | None, task_id: str | None, error: BaseException | None, log_url: str | None
) -> str:
    """The alert for a failed task: where, the error's first line, and a link to the task's log."""
    first_line = str(error).splitlines()[0] if error is not None and str(error) else None
    reason = first_line or (type(error).__name__ if error is not None else "unknown error")
    log = f"; log: {log_url}" if log_url else ""
    return f"{dag_id or '?'}.{task_id or '?'} failed: {reason}{log}"


_WEB_ADDRESS = re.compile(r"https?://[^\s<>\"']+")


def html_message(message: str) -> str:
    """The alert as one HTML paragraph for email: every text escaped, every http(s) link a link."""
    parts, position = [], 0
    for found in _WEB_ADDRESS.finditer(message):
        url = found.group().rstrip(".,;)")
        parts.append(escape(message[position : found.start()]))
        parts.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        position = found.start() + len(url)
    parts.append(escape(message[position:]))
    return f"<p>{''.join(parts)}</p>"


# Slack's mrkdwn reads `&`, `<` and `>` as control characters: `<!channel>` pings everyone and
# `<https://evil|Report>` shows a link whose address is hidden. Escaped, they are shown as typed.
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def slack_text(text: str) -> str:
    """A text as Slack shows it literally: ``&``, ``<`` and ``>`` escaped (no mention, no link)."""
    return text.translate(_SLACK_ESCAPES)
