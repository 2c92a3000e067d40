"""
### fraud_ingest

Nightly, for the day in its data interval: reads that day's card transactions from
`raw.transactions`, checks them with the Great Expectations suites in `expectations/`, moves
passing rows to `staging.transactions` and failing rows to `quality.quarantine` (with the names of
the expectations they failed), records the counts in `quality.validation_run`, then builds the
point-in-time features of the validated rows into `staging.transaction_features`: `build_features`
is mapped over `FRAUD_FEATURE_SHARES` shares of the night's cards, which any worker may take,
and each share goes through in chunks of `FRAUD_FEATURE_CHUNK_ROWS` payments with only the history
their cards and terminals need.

A batch-level failure (schema, volume, too many bad rows) fails `validate_batch` without retries,
writes nothing downstream for the day and raises an alert. Re-running a day replaces its rows.
The task log and the task's "Data Docs" button link the Great Expectations Data Docs.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from fraud import dag_ids
from fraud.assets import TRANSACTION_FEATURES, VALIDATED_TRANSACTIONS
from fraud.config import load_settings
from fraud.results import FeatureResult, ValidationResult
from fraud_airflow.assets import asset
from fraud_airflow.defaults import task_defaults
from fraud_airflow.links import DataDocsLink, link_data_docs, with_links

SETTINGS = load_settings()
SHARES = list(range(SETTINGS.feature_shares))


@dag(
    dag_id=dag_ids.INGEST,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=SETTINGS.schedule_start_datetime,
    catchup=True,
    # One night at a time: nights share the Great Expectations project and its Data Docs site.
    max_active_runs=1,
    default_args=task_defaults(),
    dagrun_timeout=timedelta(hours=6),
    tags=["fraud", "ingestion", "data-quality"],
    doc_md=__doc__,
)
def fraud_ingest():
    @task(outlets=[asset(VALIDATED_TRANSACTIONS)])
    def validate_batch(
        data_interval_start=None, data_interval_end=None, run_id=None
    ) -> ValidationResult:
        """Quality gate for the day; a failed batch is final, so it is not retried."""
        from airflow.sdk.exceptions import AirflowFailException

        from fraud.tasks import FailedBatch
        from fraud.tasks import validate_batch as validate

        try:
            outcome = validate(data_interval_start, data_interval_end, run_id)
        except FailedBatch as error:
            link_data_docs(SETTINGS)
            raise AirflowFailException(str(error)) from error
        link_data_docs(SETTINGS)
        return outcome

    @task(
        outlets=[asset(TRANSACTION_FEATURES)],
        map_index_template="{{ task.op_kwargs['share'] }}",
    )
    def build_features(
        share: int, data_interval_start=None, data_interval_end=None, run_id=None
    ) -> FeatureResult:
        """Point-in-time features of one share of the day's validated rows."""
        from fraud.tasks import build_features as build

        return build(data_interval_start, data_interval_end, run_id, share, len(SHARES))

    with_links(validate_batch(), DataDocsLink()) >> build_features.expand(share=SHARES)


fraud_ingest()
