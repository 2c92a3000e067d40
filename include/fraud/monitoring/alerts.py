"""Alerts: every alert becomes a row of ``monitoring.alerts``, whatever channel also carries it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from html import escape

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import Settings
from fraud.links import drift_report_url
from fraud.masking import mask_passwords, mask_values
from fraud.monitoring.drift import DriftOutcome

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
