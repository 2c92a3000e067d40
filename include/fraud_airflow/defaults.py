"""What every fraud DAG's tasks share: retries with backoff, the failure alert, the same-day sensor,
the warehouse taken from the ``fraud_warehouse`` Connection before a task runs, and the settings'
secrets handed to Airflow's log masker before a task logs anything."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.sensors.external_task import ExternalTaskSensor

from fraud_airflow.connections import use_warehouse_connection
from fraud_airflow.metrics import send_task_metrics
from fraud_airflow.notifier import FraudAlertNotifier


def mask_configured_secrets(context) -> None:
    """Register every configured secret with Airflow's masker, in the task's process and its
    supervisor: the passwords of the warehouse, MLflow and webhook URLs, the logins' passwords,
    MLflow's password and the deployment's keys and Connections (``configured_secrets``).

    Airflow masks its own connections and variables when it reads them; these arrive as plain
    environment variables, so the task's log would otherwise show them whole. Each value is
    registered in every form it can be written in (raw, percent-encoded, JSON-escaped).
    """
    from airflow.sdk.log import mask_secret

    from fraud.config import load_settings
    from fraud.masking import configured_secrets, secret_forms

    for secret in sorted(configured_secrets(load_settings())):
        for form in sorted(secret_forms(secret)):
            mask_secret(form)


def task_defaults(retries: int = 2) -> dict:
    """Retries with exponential backoff, the warehouse Connection, the failure alert and the log
    masking of every fraud DAG (a Connection that cannot be read fails the task before it runs)."""
    return {
        "owner": "fraud-ml",
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "pre_execute": use_warehouse_connection,
        "on_execute_callback": mask_configured_secrets,
        "on_failure_callback": FraudAlertNotifier(),
        # The pipeline's counts out through Airflow's metrics (fraud_airflow.metrics).
        "post_execute": send_task_metrics,
    }


def skip_for_a_chosen_day(context) -> None:
    """Skip the wait of a run triggered to rescore a chosen day (its ``date`` param): that day was
    ingested long before, by a run of another logical date."""
    from airflow.sdk.exceptions import AirflowSkipException

    use_warehouse_connection(context)
    day = (context.get("params") or {}).get("date")
    if day:
        raise AirflowSkipException(f"rescoring {day}: its ingestion is not waited for")


def same_day_sensor(
    task_id: str, external_dag_id: str, *, skip_for_chosen_day: bool = False
) -> ExternalTaskSensor:
    """Wait, in the triggerer, for the same day's run of the DAG before; fail as soon as it fails.
    With ``skip_for_chosen_day``, a run whose ``date`` param names a day skips the wait."""
    return ExternalTaskSensor(
        task_id=task_id,
        external_dag_id=external_dag_id,
        pre_execute=skip_for_a_chosen_day if skip_for_chosen_day else use_warehouse_connection,
        external_task_id=None,
        allowed_states=["success"],
        failed_states=["failed"],
        deferrable=True,
        poke_interval=5,
        timeout=int(timedelta(hours=6).total_seconds()),
    )
