"""
### fraud_retrain

Trains a LightGBM challenger on point-in-time features, using only the labels (chargebacks)
reported before the run's cut-off, logs parameters, metrics (beside a logistic-regression and an
amount-rule baseline), plots, the drift reference and the model with its signature to MLflow, and
registers a version. `decide_promotion` moves the `champion` alias only if the challenger beats the
champion on the same held-out window under the promotion gate; every decision is stored in
`monitoring.model_decisions` and as MLflow tags. With no champion yet, the first version becomes it.

Runs weekly (`FRAUD_RETRAIN_CRON`) and whenever `fraud_drift` updates the
`fraud_retraining_requests` Asset. Trigger it by hand with `as_of` (a UTC day) to retrain as of
that date: only the labels reported before it are used.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from fraud import dag_ids
from fraud.assets import RETRAINING_REQUESTS
from fraud.config import load_settings
from fraud.results import ChallengerResult, PromotionResult
from fraud_airflow.assets import asset
from fraud_airflow.defaults import task_defaults
from fraud_airflow.links import MlflowRunLink, link_mlflow_run, with_links

SETTINGS = load_settings()


@dag(
    dag_id=dag_ids.RETRAIN,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(SETTINGS.retrain_cron, timezone="UTC"),
        assets=asset(RETRAINING_REQUESTS),
    ),
    # No start date: the weekly schedule begins at the next tick after deployment instead of
    # replaying the latest missed one; drift and manual triggers run at any time.
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retries=1),
    dagrun_timeout=timedelta(hours=4),
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Retrain as of",
            description="A UTC day: only labels reported before it are used; empty: the run's date.",
        )
    },
    tags=["fraud", "training", "mlflow"],
    doc_md=__doc__,
)
def fraud_retrain():
    @task
    def train_challenger(
        params=None, triggering_asset_events=None, logical_date=None, dag_run=None
    ) -> ChallengerResult:
        """Train and register a challenger with the labels known at the cut-off."""
        from fraud.tasks import requested_drift_dates, retrain_cutoff, retrain_trigger
        from fraud.tasks import train_challenger as train

        events = [
            event.extra for events in (triggering_asset_events or {}).values() for event in events
        ]
        drift_dates = requested_drift_dates(events)
        cutoff = retrain_cutoff(params.get("as_of"), drift_dates, logical_date, dag_run.run_after)
        challenger = train(cutoff, retrain_trigger(events, dag_run.run_type))
        link_mlflow_run(SETTINGS, challenger["experiment_id"], challenger["run_id"])
        return challenger

    @task
    def decide_promotion(challenger: ChallengerResult, run_id=None) -> PromotionResult:
        """Promote only a challenger that passes the gate against the champion."""
        from fraud.tasks import decide_promotion as decide

        return decide(challenger, run_id)

    decide_promotion(with_links(train_challenger(), MlflowRunLink()))  # type: ignore[arg-type]  # XComArg in the flow, dict in the task


fraud_retrain()
