"""
### fraud_drift

Nightly, once `fraud_score` has finished the same day: computes the PSI of every model feature
and of the score against the scoring model version's training reference (fixed bins stored with
the model in MLflow), writes one row per column to `monitoring.feature_drift`, and saves an
Evidently data-drift HTML report under `FRAUD_ARTIFACT_DIR/drift/`.

When the score or a top-importance feature stays in the alert band for
`FRAUD_DRIFT_CONSECUTIVE_NIGHTS` nights and no retraining is pending, `request_retraining` opens a
request and updates the `fraud_retraining_requests` Asset, which schedules `fraud_retrain`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import CronDataIntervalTimetable, dag, task
from fraud_notifier import task_defaults

from fraud.assets import FEATURE_DRIFT, RETRAINING_REQUESTS, asset
from fraud.config import load_settings

SETTINGS = load_settings()


@dag(
    dag_id="fraud_drift",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=SETTINGS.schedule_start_datetime,
    catchup=True,
    max_active_runs=1,
    default_args=task_defaults(),
    dagrun_timeout=timedelta(hours=6),
    tags=["fraud", "monitoring", "drift"],
    doc_md=__doc__,
)
def fraud_drift():
    wait_for_scores = ExternalTaskSensor(
        task_id="wait_for_scores",
        external_dag_id="fraud_score",
        external_task_id=None,
        allowed_states=["success"],
        failed_states=["failed"],
        deferrable=True,
        poke_interval=10,
        timeout=int(timedelta(hours=6).total_seconds()),
    )

    @task(outlets=[asset(FEATURE_DRIFT)])
    def compute_drift(data_interval_start=None, data_interval_end=None, run_id=None) -> dict:
        """PSI per column and the Evidently report for the day."""
        from fraud.monitor import report_location
        from fraud.pipeline import compute_drift as compute

        outcome = compute(data_interval_start, data_interval_end, run_id)
        print(f"Evidently drift report: {report_location(outcome['report_path'])}")
        return outcome

    @task(outlets=[asset(RETRAINING_REQUESTS)])
    def request_retraining(drift: dict, *, outlet_events=None) -> dict:
        """Update the retraining Asset only for persistent drift with no retraining pending."""
        from airflow.sdk.exceptions import AirflowSkipException

        from fraud.pipeline import request_retraining as request

        opened = request(drift)
        if opened is None:
            raise AirflowSkipException("no persistent drift, or a retraining is already pending")
        outlet_events[asset(RETRAINING_REQUESTS)].extra = opened
        return opened

    wait_for_scores >> request_retraining(compute_drift())


fraud_drift()
