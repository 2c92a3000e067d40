"""Rescoring a chosen day with a chosen model version, from ``fraud_score``'s Trigger-form params,
under ``dag.test()``: real PostgreSQL, a real MLflow registry, real Airflow.

The nightly run takes the warehouse from ``FRAUD_DATABASE_URL`` (no Connection defined) and scores
with the champion; the manual run takes it from the ``fraud_warehouse`` Connection while
``FRAUD_DATABASE_URL`` names a server that does not exist, and scores the chosen day with a
version that is not the champion.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import lightgbm as lgb
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraud.config import load_settings
from fraud.dates import day_interval
from fraud.db import warehouse_engine as _engine
from fraud.features.columns import FEATURE_COLUMNS
from fraud.features.frames import History
from fraud.local.environment import postgres_connection
from fraud.model.registry import CHAMPION, champion_version, set_alias
from fraud.model.train import labelled_features
from fraud.tasks import build_features, validate_batch
from tests.support.bank import simulated_bank
from tests.support.champion import register_champion
from tests.support.dag_test import without_deadlines
from tests.support.logins import member_login

pytestmark = pytest.mark.integration

FIRST_DAY = date(2032, 3, 1)
DAYS = 10
RESCORED_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
# A server nothing listens on: a task that read FRAUD_DATABASE_URL would fail.
UNREACHABLE = "postgresql://fraud_pipeline_login:unused@127.0.0.1:9/nowhere?connect_timeout=2"


@pytest.fixture(scope="module")
def versions(engine: Engine) -> tuple[int, int]:
    """A warehouse whose last day has features, and two versions: the champion and another."""
    simulation = simulated_bank(engine, seed=31, customers=200, first_day=FIRST_DAY, days=DAYS)
    for offset in range(DAYS):
        start, end = day_interval(FIRST_DAY + timedelta(days=offset))
        validate_batch(start, end, f"rescoring__{offset}")
    start, end = day_interval(RESCORED_DAY)
    build_features(start, end, "rescoring__features")
    history = History(simulation.transactions, simulation.labels)
    training = labelled_features(history, start - timedelta(days=6), start - timedelta(days=2), 2)
    names = list(FEATURE_COLUMNS)
    settings = load_settings()
    registered = []
    for seed in (1, 2):
        params = {"objective": "binary", "verbosity": -1, "seed": seed, "num_threads": 1}
        booster = lgb.train(params, lgb.Dataset(training[names], training["is_fraud"]), 10 * seed)
        registered.append(register_champion(settings, booster))
    champion, other = registered
    set_alias(settings, CHAMPION, champion)
    assert champion_version(settings) == champion != other
    return champion, other


@pytest.fixture(scope="module")
def fraud_score(airflow_db):
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[3] / "dags"))
    assert bag.import_errors == {}
    return without_deadlines(bag.dags)["fraud_score"]


def _scored(engine: Engine, day: date) -> set[tuple[int, str]]:
    """The (model version, run id) of every stored score of the day."""
    start, end = day_interval(day)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select distinct model_version, run_id from scoring.transaction_scores"
                " where tx_datetime >= :start and tx_datetime < :end"
            ),
            {"start": start, "end": end},
        )
        return {(row.model_version, row.run_id) for row in rows}


def test_a_manual_run_rescores_the_chosen_day_with_the_chosen_version_through_the_connection(
    engine: Engine,
    warehouse_url: str,
    versions: tuple[int, int],
    fraud_score,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    champion, other = versions
    with member_login(warehouse_url, "fraud_pipeline") as pipeline:
        # The nightly run: no Connection, the environment's URL, the champion.
        monkeypatch.delenv("AIRFLOW_CONN_FRAUD_WAREHOUSE", raising=False)
        monkeypatch.setenv("FRAUD_DATABASE_URL", pipeline)
        _engine.cache_clear()
        after = datetime.combine(RESCORED_DAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        nightly = fraud_score.test(logical_date=after, mark_success_pattern="wait_for_ingest")
        assert str(nightly.state) == "success"
        assert _scored(engine, RESCORED_DAY) == {(champion, nightly.run_id)}

        # The manual run: the Connection, a chosen day far from its logical date, another version.
        monkeypatch.setenv("AIRFLOW_CONN_FRAUD_WAREHOUSE", postgres_connection(pipeline))
        monkeypatch.setenv("FRAUD_DATABASE_URL", UNREACHABLE)
        _engine.cache_clear()
        manual = fraud_score.test(
            logical_date=after + timedelta(days=30),
            run_conf={"date": RESCORED_DAY.isoformat(), "model_version": other},
        )
        _engine.cache_clear()
    states = {ti.task_id: str(ti.state) for ti in manual.get_task_instances()}
    assert str(manual.state) == "success", states
    assert states["wait_for_ingest"] == "skipped"
    assert _scored(engine, RESCORED_DAY) == {(other, manual.run_id)}


def test_an_unregistered_version_fails_the_run_in_one_line(
    warehouse_url: str, versions: tuple[int, int], fraud_score, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fraud.model.registry import RegistryError
    from fraud.tasks import resolve_champion

    monkeypatch.setenv("FRAUD_DATABASE_URL", warehouse_url)
    missing = max(versions) + 10
    with pytest.raises(RegistryError) as raised:
        resolve_champion(missing)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("MLflow registry at ") and f"version={missing}" in message
