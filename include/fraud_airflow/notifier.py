"""The alert notifier: every alert lands in ``monitoring.alerts``; it also goes out by email
through the SMTP provider when ``FRAUD_ALERT_EMAIL`` is set, and to a Slack incoming webhook
when ``FRAUD_SLACK_WEBHOOK_URL`` is set."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import TYPE_CHECKING

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from fraud.config import Settings

log = logging.getLogger(__name__)
SLACK_TIMEOUT_SECONDS = 10
_SEVERITY_ICONS = {
    "info": ":information_source:",
    "warning": ":warning:",
    "critical": ":rotating_light:",
}


class FraudAlertNotifier(BaseNotifier):
    """Record a task failure (or any alert) in the warehouse, then send it on every channel."""

    template_fields = ("message",)

    def __init__(
        self,
        kind: str = "task_failure",
        message: str = "",
        severity: str = "critical",
        details: dict[str, object] | None = None,
    ):
        super().__init__()
        self.kind = kind
        self.message = message
        self.severity = severity
        self.details = details or {}

    def notify(self, context) -> None:
        """Write the alert row, then send it by email and Slack where configured."""
        from fraud.config import load_settings
        from fraud.monitoring.alerts import record_alert
        from fraud.tasks import warehouse

        task_instance = context.get("ti")
        exception = context.get("exception")
        message = self.message or (
            f"{getattr(task_instance, 'dag_id', '?')}.{getattr(task_instance, 'task_id', '?')}"
            f" failed: {str(exception).splitlines()[0] if exception else 'unknown error'}"
        )
        settings = load_settings()
        record_alert(
            warehouse(settings),
            kind=self.kind,
            severity=self.severity,
            message=message,
            dag_id=getattr(task_instance, "dag_id", None),
            task_id=getattr(task_instance, "task_id", None),
            run_id=getattr(task_instance, "run_id", None),
            details={"try_number": getattr(task_instance, "try_number", None), **self.details},
        )
        send_alert(settings, self.kind, self.severity, message, context)


def send_alert(settings: Settings, kind: str, severity: str, message: str, context) -> list[str]:
    """Send one alert on each configured channel; return the channels that took it.

    The row is already in ``monitoring.alerts``, so a channel that fails is logged, not raised:
    a mail server being down must not fail (and retry) the task that noticed the drift. Only the
    masked message leaves: an exception's text can quote a DSN with its password.
    """
    from fraud.masking import mask_passwords

    message = mask_passwords(message)
    sent = []
    if settings.alert_email:
        try:
            send_email(settings.alert_email, f"[fraud] {kind}: {message[:120]}", message, context)
            sent.append("email")
        except Exception as error:  # noqa: BLE001 - any transport failure is only logged
            log.warning(
                "alert email to %s failed: %s", settings.alert_email, mask_passwords(str(error))
            )
    if settings.slack_webhook_url:
        try:
            post_to_slack(settings.slack_webhook_url, slack_payload(kind, severity, message))
            sent.append("slack")
        except Exception as error:  # noqa: BLE001 - the webhook URL is a secret: never log it
            log.warning("alert to the Slack webhook failed: %s", type(error).__name__)
    return sent


def send_email(to: str, subject: str, message: str, context) -> None:
    """Send the alert through the SMTP provider's notifier (connection ``smtp_default``)."""
    from html import escape

    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    SmtpNotifier(to=to, subject=subject, html_content=f"<p>{escape(message)}</p>").notify(context)


def slack_payload(kind: str, severity: str, message: str) -> dict[str, str]:
    """The incoming-webhook body: one line of plain text with mrkdwn emphasis."""
    icon = _SEVERITY_ICONS.get(severity, "")
    return {"text": f"{icon} *[fraud] {severity} {kind}*: {message}".strip()}


def post_to_slack(url: str, payload: dict[str, str]) -> None:
    """POST the payload as JSON to a Slack incoming webhook; raise unless Slack accepts it."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=SLACK_TIMEOUT_SECONDS) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"Slack webhook answered HTTP {response.status}")


def notify_drift(drift: dict, context) -> str | None:
    """Raise a drift warning when a monitored column is in the alert band; return its message."""
    from fraud.config import load_settings
    from fraud.monitoring.alerts import drift_alert_message
    from fraud.monitoring.drift import DriftOutcome
    from fraud.xcom import from_xcom

    outcome = from_xcom(DriftOutcome, drift)
    message = drift_alert_message(load_settings(), outcome)
    if message is None:
        return None
    details = {
        "drift_date": outcome.drift_date,
        "model_version": outcome.model_version,
        "alert_columns": list(outcome.alerting_columns),
        "report_path": outcome.report_path,
    }
    FraudAlertNotifier(kind="drift", severity="warning", message=message, details=details).notify(
        context
    )
    return message
