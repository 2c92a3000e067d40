"""``fraud up``: bring up the local stack, seed history, bootstrap a champion, run the nightly DAGs.

Safe to run twice: running services are left alone, history is seeded only into an empty
warehouse, the champion is bootstrapped only when none exists, and finished nights are not rerun.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from fraud import dag_ids
from fraud.config import Settings, load_settings
from fraud.db import create_warehouse_engine
from fraud.links import URL_PREFIX
from fraud.local.airflow_api import AirflowApi
from fraud.local.environment import admin_login, child_environment, read_env_file
from fraud.local.nights import PipelineRunError, wait_for_dags, wait_for_nights, wait_for_run
from fraud.local.paths import AIRFLOW_URL, StackPaths
from fraud.local.stack import up
from fraud.masking import mask_passwords
from fraud.model.registry import champion_version

_HAS_HISTORY_SQL = "select exists (select 1 from raw.transactions)"
_LAST_PASSED_NIGHT_SQL = """
select data_interval_start::date, extracted_count, validated_count, quarantined_count
from quality.validation_run
where status = 'passed'
order by data_interval_start desc, checked_at desc
limit 1
"""
_SCORED_ON_DAY_SQL = """
select count(*), count(*) filter (where is_alert)
from scoring.transaction_scores
where tx_datetime >= :day and tx_datetime < :day + interval '1 day'
"""


@dataclass(frozen=True)
class DemoPlan:
    """Which days are seeded and which nights the scheduler runs."""

    history_start: date
    schedule_start: date
    nights: int
    days: int


def plan_demo(today: date, days: int, nights: int, existing_schedule_start: str | None) -> DemoPlan:
    """History ends yesterday; the scheduler runs the last ``nights`` of it.

    A schedule start already written by an earlier ``fraud up`` is kept, so re-running never
    moves the DAGs' start date.
    """
    if existing_schedule_start:
        schedule_start = date.fromisoformat(existing_schedule_start)
    else:
        schedule_start = today - timedelta(days=nights)
    return DemoPlan(
        history_start=schedule_start + timedelta(days=nights) - timedelta(days=days),
        schedule_start=schedule_start,
        nights=nights,
        days=days,
    )


def _say(message: str) -> None:
    print(f"[fraud up] {message}", flush=True)


def _airflow(env: Mapping[str, str], *arguments: str) -> str:
    """Run one ``airflow`` CLI command with the stack's environment; return its stdout."""
    executable = Path(sys.executable).with_name("airflow")
    result = subprocess.run(
        [str(executable), *arguments], env=dict(env), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PipelineRunError(f"airflow {' '.join(arguments)} failed: {last}")
    return result.stdout


def bring_up(days: int, nights: int, timeout_seconds: float = 900.0) -> int:
    """Start everything, seed, bootstrap the champion and run the last ``nights`` nights."""
    started = time.monotonic()
    paths = StackPaths.at()
    previous = read_env_file(paths) if paths.env_file.exists() else {}
    plan = plan_demo(datetime.now(UTC).date(), days, nights, previous.get("FRAUD_SCHEDULE_START"))
    environ = {**os.environ, "FRAUD_SCHEDULE_START": plan.schedule_start.isoformat()}
    _say("starting PostgreSQL, Airflow and MLflow (first start takes about a minute)")
    env, owner_url, applied = up(environ=environ)
    child_env = child_environment(env, environ)
    os.environ.update(env)
    settings = load_settings(child_env)
    _say(
        f"warehouse migrated as its owner ({len(applied)} new migration(s)); the tasks log in as"
        " fraud_pipeline_login, the page as fraud_analyst_login"
    )

    # The owner plays the payments system here: it writes raw.*, which the pipeline only reads.
    warehouse = create_warehouse_engine(owner_url)
    _seed_if_empty(warehouse, plan)

    # Airflow is read through its REST API only, as the stack's admin, never through its tables.
    api = AirflowApi(AIRFLOW_URL, *admin_login(paths))
    _say("waiting for the DAG processor to parse the DAGs")
    wait_for_dags(api, dag_ids.ALL, 300)
    _bootstrap_champion(child_env, api, plan, settings)

    _airflow(child_env, "dags", "unpause", "-y", "--treat-dag-id-as-regex", "^fraud_")
    _say(f"running the nightly pipeline for {plan.nights} night(s) from {plan.schedule_start}")
    remaining = max(timeout_seconds - (time.monotonic() - started), 60.0)
    wait_for_nights(api, dag_ids.NIGHTLY, plan.nights, remaining, _say)
    _play_investigators(warehouse, plan, settings.review_capacity)
    _say(f"done in {time.monotonic() - started:.0f}s")
    print_summary(paths, settings, warehouse)
    warehouse.dispose()
    return 0


def _seed_if_empty(warehouse: sa.Engine, plan: DemoPlan) -> None:
    from fraud.simulation.generate import simulate
    from fraud.simulation.params import SimulationParams
    from fraud.simulation.warehouse import write_simulation

    with warehouse.begin() as connection:
        if connection.execute(sa.text(_HAS_HISTORY_SQL)).scalar():
            _say("raw.transactions already holds data: not seeding")
            return
        _say(f"seeding {plan.days} days of simulated history from {plan.history_start}")
        params = SimulationParams(start_date=plan.history_start, n_days=plan.days)
        simulation = simulate(params, progress=_say)
        transactions, labels = write_simulation(connection, simulation, progress=_say)
    _say(f"seeded {transactions} transactions and {labels} labels")


def _play_investigators(warehouse: sa.Engine, plan: DemoPlan, capacity: int) -> None:
    """The simulated investigators' mornings after the nights, in simulated time, as the owner.

    The scheduler runs the nights back to back, so the mornings are played once they are all
    scored: each verdict is decided and recorded the morning after its night, and a morning
    already played records nothing new. The page then shows the alert precision by verdict.
    """
    from fraud.simulation.investigators import InvestigatorParams, review_morning

    params = InvestigatorParams(capacity=capacity)
    reviewed = recorded = 0
    for offset in range(plan.nights):
        with warehouse.begin() as connection:
            morning = review_morning(
                connection, plan.schedule_start + timedelta(days=offset), params
            )
        reviewed += morning.cards_reviewed
        recorded += morning.verdicts_recorded
    _say(
        f"simulated investigators: {reviewed} cards reviewed over {plan.nights} mornings"
        f" (up to FRAUD_REVIEW_CAPACITY={capacity} a morning), {recorded} new verdicts"
    )


def _bootstrap_champion(
    env: Mapping[str, str], api: AirflowApi, plan: DemoPlan, settings: Settings
) -> None:
    """Train the first champion through the retraining DAG when the registry has none."""
    if champion_version(settings) is not None:
        _say("a champion model is registered: not bootstrapping")
        return
    _say(f"training the first champion with labels reported before {plan.schedule_start}")
    _airflow(env, "dags", "unpause", dag_ids.RETRAIN)
    run_id = f"bootstrap__{plan.schedule_start.isoformat()}__{int(time.time())}"
    conf = json.dumps({"as_of": plan.schedule_start.isoformat()})
    _airflow(env, "dags", "trigger", dag_ids.RETRAIN, "--run-id", run_id, "--conf", conf)
    wait_for_run(api, dag_ids.RETRAIN, run_id, 900, _say)


@dataclass(frozen=True)
class LastNight:
    """The latest night that passed the quality gate, and what scoring made of it."""

    day: date
    extracted: int
    validated: int
    quarantined: int
    scored: int
    alerts: int


def last_night(warehouse: sa.Engine) -> LastNight | None:
    """Counts of the latest validated night, None before the first one."""
    with warehouse.connect() as connection:
        last = connection.execute(sa.text(_LAST_PASSED_NIGHT_SQL)).first()
        if last is None:
            return None
        scored = connection.execute(
            sa.text(_SCORED_ON_DAY_SQL),
            {"day": last[0]},
        ).one()
    return LastNight(
        last[0], int(last[1]), int(last[2]), int(last[3]), int(scored[0]), int(scored[1])
    )


def summary_text(
    *,
    login: tuple[str, str],
    mlflow_url: str,
    model_name: str,
    champion: int | None,
    night: LastNight | None,
    env_file: Path,
) -> str:
    """What ``fraud up`` prints last: where everything is, the champion, the last night."""
    user, password = login
    champion_line = (
        f"models:/{model_name}/{champion}"
        if champion is not None
        else "none yet (run fraud_retrain)"
    )
    night_line = (
        f"{night.day}: {night.extracted} extracted, {night.validated} validated,"
        f" {night.quarantined} quarantined, {night.scored} scored, {night.alerts} alerts"
        if night
        else "none validated yet"
    )
    lines = [
        f"  Airflow UI   {AIRFLOW_URL}   login {user} / {password}",
        f"  MLflow UI    {mlflow_url}",
        f"  Monitoring   {AIRFLOW_URL}{URL_PREFIX}/   (in the Airflow UI: Browse > Fraud monitoring)",
        f"  Champion     {champion_line}",
        f"  Last night   {night_line}",
        f"  Shell setup  set -a; . {env_file}; set +a   # then: fraud status",
        '  Analysts     psql "$FRAUD_ANALYST_DATABASE_URL" -c "select * from analytics.daily_alerts"',
    ]
    return "\n".join(["", *lines, ""])


def print_summary(paths: StackPaths, settings: Settings, warehouse: sa.Engine) -> None:
    """URLs, login, champion and the last night's counts."""
    text = summary_text(
        login=admin_login(paths),
        mlflow_url=mask_passwords(settings.mlflow_browser_url or settings.mlflow_tracking_uri),
        model_name=settings.model_name,
        champion=champion_version(settings),
        night=last_night(warehouse),
        env_file=paths.env_file,
    )
    print(text, flush=True)
