"""Airflow notifier for the fraud DAGs: every alert lands in ``monitoring.alerts``; when an
address is configured (``FRAUD_ALERT_EMAIL``) it also goes out through the SMTP provider."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import BaseNotifier


class FraudAlertNotifier(BaseNotifier):
    """Record a task failure (or any alert) in the warehouse, then forward it by email."""

    template_fields = ("message",)

    def __init__(self, kind: str = "task_failure", message: str = "", severity: str = "critical"):
        super().__init__()
        self.kind = kind
        self.message = message
        self.severity = severity

    def notify(self, context) -> None:
        """Write the alert row, then send the email if one is configured."""
        from fraud.config import load_settings
        from fraud.monitor import record_alert
        from fraud.pipeline import warehouse

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
            details={"try_number": getattr(task_instance, "try_number", None)},
        )
        if settings.alert_email:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            SmtpNotifier(
                to=settings.alert_email,
                subject=f"[fraud] {self.kind}: {message[:120]}",
                html_content=f"<p>{message}</p>",
            ).notify(context)


def task_defaults(retries: int = 2) -> dict:
    """Retries with exponential backoff and the failure alert, shared by every fraud DAG."""
    return {
        "owner": "fraud-ml",
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": FraudAlertNotifier(),
    }
