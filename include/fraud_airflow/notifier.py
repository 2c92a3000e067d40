"""The alert notifier: every alert lands in ``monitoring.alerts``; it also goes out by email
through the SMTP provider when ``FRAUD_ALERT_EMAIL`` is set, and to a Slack incoming webhook
through the Slack provider's notifier when the ``fraud_slack`` Connection is defined."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from fraud_airflow.connections import SLACK_CONN_ID, connection_defined

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
        """Write the alert row, then send it by email and Slack where configured.

        A failure caused by the quality gate stopping a batch is a ``quality_gate`` alert with the
        Data Docs linked, not a ``task_failure``: its on-call page differs (docs/operations.md).
        """
        from fraud.config import load_settings
        from fraud.links import data_docs_url
        from fraud.monitoring.alerts import AlertKind, failure_message

        task_instance = context.get("ti")
        settings = load_settings()
        log_url = task_log_link(settings, task_instance)
        error = context.get("exception")
        kind = self.kind
        details: dict[str, object] = {
            "try_number": getattr(task_instance, "try_number", None),
            "log_url": log_url,
        }
        if kind == AlertKind.TASK_FAILURE and stopped_by_the_gate(error):
            kind = AlertKind.QUALITY_GATE
            details["data_docs_url"] = data_docs_url(settings.base_url)
        message = self.message or failure_message(
            getattr(task_instance, "dag_id", None),
            getattr(task_instance, "task_id", None),
            error,
            log_url,
        )
        raise_alert(
            settings,
            kind,
            self.severity,
            message,
            context,
            dag_id=getattr(task_instance, "dag_id", None),
            task_id=getattr(task_instance, "task_id", None),
            run_id=getattr(task_instance, "run_id", None),
            details={**details, **self.details},
        )


def stopped_by_the_gate(error: BaseException | None) -> bool:
    """Whether the error, or one it was raised from, is the quality gate failing a batch."""
    from fraud.tasks import FailedBatch

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, FailedBatch):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def raise_alert(
    settings: Settings,
    kind: str,
    severity: str,
    message: str,
    context,
    *,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    details: dict[str, object] | None = None,
) -> list[str]:
    """Every alert's one path: its row in ``monitoring.alerts`` first, then email and Slack where
    configured; return the channels that took it."""
    from fraud.db import warehouse_engine
    from fraud.masking import configured_secrets
    from fraud.monitoring.alerts import record_alert

    record_alert(
        warehouse_engine(settings.require_database_url()),
        kind=kind,
        severity=severity,
        message=message,
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        details=details,
        secrets=configured_secrets(settings),
    )
    return send_alert(settings, kind, severity, message, context)


def task_log_link(settings: Settings, task_instance) -> str | None:
    """The Airflow UI's log of the task instance, under the configured base URL; None without one."""
    from fraud.links import task_log_url

    dag_id, run_id, task_id = (
        getattr(task_instance, name, None) for name in ("dag_id", "run_id", "task_id")
    )
    if not (isinstance(dag_id, str) and isinstance(run_id, str) and isinstance(task_id, str)):
        return None
    map_index, try_number = (
        getattr(task_instance, name, None) for name in ("map_index", "try_number")
    )
    return task_log_url(
        settings.base_url,
        dag_id,
        run_id,
        task_id,
        map_index=map_index if isinstance(map_index, int) else None,
        try_number=try_number if isinstance(try_number, int) else None,
    )


def send_alert(settings: Settings, kind: str, severity: str, message: str, context) -> list[str]:
    """Send one alert on each configured channel; return the channels that took it.

    The row is already in ``monitoring.alerts``, so a channel that fails is logged, not raised:
    a mail server being down must not fail (and retry) the task that noticed the drift. Only the
    masked message leaves (the configured secrets' values and every secret by its shape): an
    exception's text can quote a DSN with its password.
    """
    from fraud.masking import configured_secrets, mask_passwords

    secrets = configured_secrets(settings)
    message = mask_passwords(message, secrets)
    sent = []
    if settings.alert_email:
        # One line: a line break in the subject would start a header of its own.
        subject = f"[fraud] {kind}: {' '.join(message.split())[:120]}"
        try:
            send_email(settings.alert_email, subject, message, context)
            sent.append("email")
        except Exception as error:  # noqa: BLE001 - any transport failure is only logged
            log.warning(
                "alert email to %s failed: %s",
                settings.alert_email,
                mask_passwords(str(error), secrets),
            )
    try:
        if connection_defined(SLACK_CONN_ID):
            send_to_slack(slack_payload(kind, severity, message)["text"], context)
            sent.append("slack")
    except Exception as error:  # noqa: BLE001 - the webhook URL is a secret: never log it
        log.warning("alert to the Slack webhook failed: %s", type(error).__name__)
    return sent


def send_email(to: str, subject: str, message: str, context) -> None:
    """Send the alert through the SMTP provider's notifier (connection ``smtp_default``)."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from fraud.monitoring.alerts import html_message

    SmtpNotifier(to=to, subject=subject, html_content=html_message(message)).notify(context)


def slack_payload(kind: str, severity: str, message: str) -> dict[str, str]:
    """The incoming-webhook body: one line of plain text with mrkdwn emphasis, every text escaped
    so that a message cannot mention a channel or disguise a link."""
    from fraud.monitoring.alerts import slack_text

    icon = _SEVERITY_ICONS.get(severity, "")
    return {
        "text": f"{icon} *[fraud] {slack_text(severity)} {slack_text(kind)}*: {slack_text(message)}".strip()
    }


def send_to_slack(text: str, context) -> None:
    """Post the text through the Slack provider's webhook notifier and the ``fraud_slack``
    Connection (its password: the webhook URL or token); raise unless Slack accepts it."""
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    notifier = SlackWebhookNotifier(
        slack_webhook_conn_id=SLACK_CONN_ID, text=text, timeout=SLACK_TIMEOUT_SECONDS
    )
    notifier.notify(context)


def notify_drift(drift: Mapping[str, Any], context) -> str | None:
    """Raise a drift warning when a monitored column is in the alert band; return its message."""
    from fraud.config import load_settings
    from fraud.links import drift_report_url
    from fraud.monitoring.alerts import AlertKind, drift_alert_message
    from fraud.monitoring.drift import DriftOutcome
    from fraud.xcom import from_xcom

    outcome = from_xcom(DriftOutcome, drift)
    settings = load_settings()
    log_url = task_log_link(settings, context.get("ti"))
    message = drift_alert_message(settings, outcome, log_url)
    if message is None:
        return None
    details = {
        "drift_date": outcome.drift_date,
        "model_version": outcome.model_version,
        "alert_columns": list(outcome.alerting_columns),
        "report_url": drift_report_url(settings.base_url, outcome.drift_date),
    }
    FraudAlertNotifier(
        kind=AlertKind.DRIFT, severity="warning", message=message, details=details
    ).notify(context)
    return message
