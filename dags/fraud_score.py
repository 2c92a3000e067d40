"""
### fraud_score

Nightly, once `fraud_ingest` has finished the same day: loads the registry's champion
(`models:/<FRAUD_MODEL_NAME>@champion`) and scores every validated transaction of the day into
`scoring.transaction_scores`, with the model version on each row. Rows scoring above
`FRAUD_ALERT_THRESHOLD`, or among the day's top `FRAUD_ALERT_TOP_K`, are alerts and carry their
three strongest reason codes. The day's scores are replaced in one transaction.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import CronDataIntervalTimetable, dag, task
from fraud_notifier import task_defaults

from fraud.assets import TRANSACTION_SCORES, asset
from fraud.config import load_settings

SETTINGS = load_settings()


@dag(
    dag_id="fraud_score",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=SETTINGS.schedule_start_datetime,
    catchup=True,
    max_active_runs=2,
    default_args=task_defaults(),
    dagrun_timeout=timedelta(hours=6),
    tags=["fraud", "scoring"],
    doc_md=__doc__,
)
def fraud_score():
    wait_for_ingest = ExternalTaskSensor(
        task_id="wait_for_ingest",
        external_dag_id="fraud_ingest",
        external_task_id=None,
        allowed_states=["success"],
        failed_states=["failed"],
        deferrable=True,
        poke_interval=5,
        timeout=int(timedelta(hours=6).total_seconds()),
    )

    @task(outlets=[asset(TRANSACTION_SCORES)])
    def score_batch(data_interval_start=None, data_interval_end=None, run_id=None) -> dict:
        """Score the day with the champion; XCom carries counts and the model URI."""
        from fraud.pipeline import score_batch as score

        return score(data_interval_start, data_interval_end, run_id)

    wait_for_ingest >> score_batch()


fraud_score()
