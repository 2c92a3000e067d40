"""
### fraud_score

Nightly, once `fraud_ingest` has finished the same day: resolves the registry's champion
(`models:/<FRAUD_MODEL_NAME>@champion`) once, then scores every validated transaction of the day
into `scoring.transaction_scores` with that version on each row. The day is split by a hash of
the customer into `FRAUD_SCORE_PARTITIONS` shares, scored by parallel mapped tasks that any
worker may run; each share streams through in chunks of `FRAUD_SCORE_CHUNK_ROWS` rows, is
predicted by the model compiled to native code (cached per version under
`FRAUD_ARTIFACT_DIR/compiled`; `FRAUD_SCORE_COMPILED=false` uses LightGBM's predict) and is
replaced in one transaction. Rows scoring above `FRAUD_ALERT_THRESHOLD` are alerts; once every
share is in, `mark_top_k` adds the day's top `FRAUD_ALERT_TOP_K` and publishes the day: until
then the analytics views show the day's previous complete run, or nothing. Alerts carry their
three strongest reason codes.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, task

from fraud import dag_ids
from fraud.assets import TRANSACTION_SCORES
from fraud.config import load_settings
from fraud_airflow.assets import asset
from fraud_airflow.defaults import same_day_sensor, task_defaults

SETTINGS = load_settings()
PARTITIONS = list(range(SETTINGS.score_partitions))


@dag(
    dag_id=dag_ids.SCORE,
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
    wait_for_ingest = same_day_sensor("wait_for_ingest", dag_ids.INGEST)

    @task
    def resolve_champion() -> dict:
        """The champion's version, fixed for every partition of this run."""
        from fraud.tasks import resolve_champion as resolve

        return resolve()

    @task(map_index_template="{{ task.op_kwargs['partition'] }}")
    def score_partition(
        partition: int,
        champion: dict,
        data_interval_start=None,
        data_interval_end=None,
        run_id=None,
    ) -> dict:
        """Score one share of the day's customers; XCom carries its counts."""
        from fraud.tasks import score_partition as score

        return score(
            data_interval_start,
            data_interval_end,
            run_id,
            partition,
            len(PARTITIONS),
            champion["model_version"],
        )

    @task(outlets=[asset(TRANSACTION_SCORES)])
    def mark_top_k(champion: dict, data_interval_start=None, data_interval_end=None) -> dict:
        """Add the day's top-k alerts once every share is scored."""
        from fraud.tasks import mark_top_k as mark

        return mark(data_interval_start, data_interval_end, champion["model_version"])

    champion = resolve_champion()
    scored = score_partition.partial(champion=champion).expand(partition=PARTITIONS)
    wait_for_ingest >> champion >> scored >> mark_top_k(champion)  # type: ignore[arg-type]  # XComArg


fraud_score()
