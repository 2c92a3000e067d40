"""
### fraud_score

Nightly, once `fraud_ingest` has finished the same day: resolves the registry's champion
(`models:/<FRAUD_MODEL_NAME>@champion`) once, then scores every validated transaction of the day
into `scoring.transaction_scores` with that version on each row. The night's cards are split by
a hash of `customer_id` into `FRAUD_SCORE_SHARES` shares, scored by parallel mapped tasks
(`score_partition`, a name kept from before: each scores one share) that any worker may run; each share streams through in chunks of `FRAUD_SCORE_CHUNK_ROWS` rows, is
predicted by the model compiled to native code (cached per version under
`FRAUD_ARTIFACT_DIR/compiled`; `FRAUD_SCORE_COMPILED=false` uses LightGBM's predict) and is
replaced in one transaction. Once every share is in, `mark_top_k` chooses the night's alerted
cards within `FRAUD_REVIEW_CAPACITY` by `FRAUD_ALERT_RANKING` (and beyond it, the cards over
`FRAUD_ALERT_THRESHOLD` when set; docs/alerts.md) and publishes the night's generation: until
then the analytics views show the night's previous complete generation, or nothing. Every
payment of an alerted card is an alert, with the card's rule and rank and its three strongest
reason codes.

Deadline: the day's scores are published `FRAUD_SCORES_DEADLINE_HOURS` (default 6) after the day
ends, by 06:00 UTC the next morning by default; a miss raises a `deadline_missed` alert (alerts
table, email, Slack, the monitoring page). A run created after its day's deadline (a catch-up, a
backfill, a late manual run) or rescoring a chosen day carries none
(`include/fraud_airflow/deadlines.py`).

Trigger it by hand to rescore one day with a chosen model version: `date` (a UTC day whose
features were built) replaces the run's data interval and skips the wait for `fraud_ingest`;
`model_version` (a registered version of `FRAUD_MODEL_NAME`) replaces the champion. Either may be
left empty.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from fraud import dag_ids
from fraud.assets import TRANSACTION_SCORES
from fraud.config import load_settings
from fraud.results import ScoreResult, TopKResult, VersionResult
from fraud_airflow.assets import asset
from fraud_airflow.deadlines import scores_deadline
from fraud_airflow.defaults import same_day_sensor, task_defaults

SETTINGS = load_settings()
SHARES = list(range(SETTINGS.score_shares))


@dag(
    dag_id=dag_ids.SCORE,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=SETTINGS.schedule_start_datetime,
    catchup=True,
    max_active_runs=2,
    default_args=task_defaults(),
    dagrun_timeout=timedelta(hours=6),
    deadline=scores_deadline(SETTINGS),
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day to rescore",
            description="A UTC day whose features were built; empty: the run's data interval.",
        ),
        "model_version": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Model version",
            description="A registered version of the model; empty: the champion.",
        ),
    },
    tags=["fraud", "scoring"],
    doc_md=__doc__,
)
def fraud_score():
    wait_for_ingest = same_day_sensor("wait_for_ingest", dag_ids.INGEST, skip_for_chosen_day=True)

    @task(trigger_rule="none_failed")
    def resolve_champion(params=None) -> VersionResult:
        """The chosen version, else the champion's, fixed for every share of this run."""
        from fraud.tasks import resolve_champion as resolve

        return resolve(params["model_version"])

    @task(map_index_template="{{ task.op_kwargs['share'] }}")
    def score_partition(
        share: int,
        champion: VersionResult,
        params=None,
        data_interval_start=None,
        data_interval_end=None,
        run_id=None,
    ) -> ScoreResult:
        """Score one share of the night's cards (the task id is historical); XCom carries its
        counts."""
        from fraud.tasks import score_partition as score
        from fraud.tasks import scoring_interval

        start, end = scoring_interval(params["date"], data_interval_start, data_interval_end)
        return score(start, end, run_id, share, len(SHARES), champion["model_version"])

    @task(outlets=[asset(TRANSACTION_SCORES)])
    def mark_top_k(
        champion: VersionResult, params=None, data_interval_start=None, data_interval_end=None
    ) -> TopKResult:
        """Choose the night's alerted cards once every share is scored; publish its generation."""
        from fraud.tasks import mark_top_k as mark
        from fraud.tasks import scoring_interval

        start, end = scoring_interval(params["date"], data_interval_start, data_interval_end)
        return mark(start, end, champion["model_version"])

    champion = resolve_champion()
    scored = score_partition.partial(champion=champion).expand(share=SHARES)
    wait_for_ingest >> champion >> scored >> mark_top_k(champion)  # type: ignore[arg-type]  # XComArg


fraud_score()
