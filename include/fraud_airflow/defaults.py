"""What every fraud DAG's tasks share: retries with backoff, the failure alert, the same-day sensor,
and the settings' secrets handed to Airflow's log masker before a task logs anything."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.sensors.external_task import ExternalTaskSensor

from fraud_airflow.notifier import FraudAlertNotifier


def mask_configured_secrets(context) -> None:
    """Register the passwords of the configured URLs with Airflow's masker, in the task's process.

    Airflow masks its own connections and variables; the warehouse, MLflow and webhook URLs
    arrive as plain environment variables, so the task's log would otherwise show them whole.
    """
    from airflow.sdk.log import mask_secret

    from fraud.config import load_settings
    from fraud.masking import configured_secrets

    for secret in sorted(configured_secrets(load_settings())):
        mask_secret(secret)


def task_defaults(retries: int = 2) -> dict:
    """Retries with exponential backoff, the failure alert and the log masking of every fraud DAG."""
    return {
        "owner": "fraud-ml",
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "on_execute_callback": mask_configured_secrets,
        "on_failure_callback": FraudAlertNotifier(),
    }


def same_day_sensor(task_id: str, external_dag_id: str) -> ExternalTaskSensor:
    """Wait, in the triggerer, for the same day's run of the DAG before; fail as soon as it fails."""
    return ExternalTaskSensor(
        task_id=task_id,
        external_dag_id=external_dag_id,
        external_task_id=None,
        allowed_states=["success"],
        failed_states=["failed"],
        deferrable=True,
        poke_interval=5,
        timeout=int(timedelta(hours=6).total_seconds()),
    )
