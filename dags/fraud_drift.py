"""
### fraud_drift

Nightly, once `fraud_score` has finished the same day: computes the PSI of every model feature
and of the score against the scoring model version's training reference (fixed bins stored with
the model in MLflow), writes one row per column to `monitoring.feature_drift`, and saves an
Evidently data-drift HTML report under `FRAUD_ARTIFACT_DIR/drift/`, which the task's "Drift report"
button opens on the monitoring page. A night on which the score or a
top-importance feature is in the alert band raises a drift warning (`monitoring.alerts`, email,
Slack).

`compute_performance` measures again the days whose labels are `FRAUD_PERFORMANCE_MATURITY_DAYS`
old (7, 14 and 30 by default) into `monitoring.model_performance`: average precision, Card
Precision@100, recall in the top decile and alert precision per day and model version.

With `FRAUD_RETENTION_DAYS` set, `drop_expired_partitions` drops the day partitions of the staged
transactions, features and scores older than that many days (never `raw.*`); unset keeps them.

When the score or a top-importance feature stays in the alert band for
`FRAUD_DRIFT_CONSECUTIVE_NIGHTS` nights, or the scoring version's average precision at the oldest
maturity falls below `FRAUD_PERFORMANCE_FLOOR_AP`, and no retraining is pending,
`request_retraining` opens a request and updates the `fraud_retraining_requests` Asset, which
schedules `fraud_retrain` with the reason.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from fraud import dag_ids
from fraud.assets import FEATURE_DRIFT, RETRAINING_REQUESTS
from fraud.config import load_settings
from fraud.results import (
    DriftReportResult,
    DriftResult,
    PerformanceResult,
    RetentionResult,
    RetrainingRequestResult,
)
from fraud_airflow.assets import asset
from fraud_airflow.defaults import same_day_sensor, task_defaults
from fraud_airflow.links import DriftReportLink, link_drift_report, with_links
from fraud_airflow.notifier import notify_drift

SETTINGS = load_settings()


@dag(
    dag_id=dag_ids.DRIFT,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=SETTINGS.schedule_start_datetime,
    catchup=True,
    max_active_runs=3,
    default_args=task_defaults(),
    dagrun_timeout=timedelta(hours=6),
    tags=["fraud", "monitoring", "drift"],
    doc_md=__doc__,
)
def fraud_drift():
    wait_for_scores = same_day_sensor("wait_for_scores", dag_ids.SCORE)

    # Nights may overlap, but the steps that feed the K-night debounce run in date order.
    @task(outlets=[asset(FEATURE_DRIFT)], depends_on_past=True)
    def compute_drift(data_interval_start=None, data_interval_end=None, run_id=None) -> DriftResult:
        """PSI per monitored column against the scoring model version's reference."""
        from fraud.tasks import compute_drift as compute

        outcome = compute(data_interval_start, data_interval_end, run_id)
        notify_drift(outcome, get_current_context())
        return outcome

    @task
    def write_drift_report(data_interval_start=None, data_interval_end=None) -> DriftReportResult:
        """The Evidently data-drift HTML report of the night (no decision waits for it)."""
        from fraud.tasks import write_drift_report as write

        report = write(data_interval_start, data_interval_end)
        link_drift_report(SETTINGS, report["drift_date"])
        return report

    @task
    def compute_performance(
        data_interval_start=None, data_interval_end=None, run_id=None
    ) -> PerformanceResult:
        """Metrics of the days whose labels have matured, as known at the interval's end."""
        from fraud.tasks import compute_performance as compute

        return compute(data_interval_start, data_interval_end, run_id)

    @task(outlets=[asset(RETRAINING_REQUESTS)], depends_on_past=True)
    def request_retraining(
        drift: DriftResult, performance: PerformanceResult, *, outlet_events=None
    ) -> RetrainingRequestResult:
        """Update the retraining Asset for persistent drift or a performance drop, once."""
        from airflow.sdk.exceptions import AirflowSkipException

        from fraud.tasks import request_retraining as request

        opened = request(drift, performance)
        if opened is None:
            raise AirflowSkipException("no retraining reason, or a retraining is already pending")
        outlet_events[asset(RETRAINING_REQUESTS)].extra = opened
        return opened

    @task
    def drop_expired_partitions(data_interval_start=None) -> RetentionResult:
        """Drop derived day partitions older than FRAUD_RETENTION_DAYS; unset keeps all."""
        from fraud.tasks import drop_expired_partitions as drop

        return drop(data_interval_start)

    drift, performance = compute_drift(), compute_performance()
    report = with_links(write_drift_report(), DriftReportLink())
    wait_for_scores >> [drift, performance, report, drop_expired_partitions()]
    request_retraining(drift, performance)  # type: ignore[arg-type]  # XComArg in the flow, dict in the task


fraud_drift()
