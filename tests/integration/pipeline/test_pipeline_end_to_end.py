"""Every DAG end to end with ``dag.test()``: real PostgreSQL, a real MLflow store, real Airflow.

The scenario follows one small simulated bank: 60 days of history with drift injected from
2026-02-25. The retraining DAG bootstraps a champion, a normal night is ingested, scored and
monitored, a re-run replaces that night, drifted nights open one retraining request (and only
one), the Asset event reaches the retraining DAG's queue, and retraining registers a new version.

Every task runs as a login that is a member of ``fraud_pipeline`` only, as in a deployment: a
privilege the code needs and the declared table (``fraud.privileges``) lacks fails a DAG here.
The test's own seeding and checks use the owner's connection.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration

NORMAL_NIGHT = date(2026, 2, 21)
DRIFT_START = date(2026, 2, 25)
DRIFTED_NIGHTS = (date(2026, 2, 27), date(2026, 2, 28))
EMPTY_NIGHT = date(2026, 3, 10)
RETRAINING_ASSET_URI = "postgres://warehouse:5432/fraud/monitoring/retraining_requests"


@pytest.fixture(scope="module", autouse=True)
def tasks_log_in_as_the_pipeline(warehouse_url: str):
    """Point the tasks' FRAUD_DATABASE_URL at a member of fraud_pipeline for this module."""
    import os

    from fraud.db import warehouse_engine as _engine
    from tests.support.logins import member_login

    with member_login(warehouse_url, "fraud_pipeline") as url:
        os.environ["FRAUD_DATABASE_URL"] = url
        _engine.cache_clear()
        yield url
        _engine.cache_clear()
        os.environ["FRAUD_DATABASE_URL"] = warehouse_url


def test_tasks_connect_as_a_member_of_fraud_pipeline_only(tasks_log_in_as_the_pipeline) -> None:
    from fraud.status import connects_as

    assert connects_as(tasks_log_in_as_the_pipeline).endswith("(member of fraud_pipeline)")


@pytest.fixture(scope="module")
def airflow_engine(airflow_db):
    import os

    from fraud.db import create_warehouse_engine

    engine = create_warehouse_engine(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def dags(airflow_db):
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    from tests.support.dag_test import without_deadlines

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[3] / "dags"))
    assert bag.import_errors == {}
    return without_deadlines(bag.dags)


@pytest.fixture(scope="module")
def seeded(engine) -> None:
    from fraud.simulation.generate import simulate
    from fraud.simulation.params import SimulationParams
    from fraud.simulation.warehouse import write_simulation

    params = SimulationParams(
        seed=11,
        n_customers=300,
        n_terminals=600,
        start_date=date(2026, 1, 1),
        n_days=60,
        drift_start=DRIFT_START,
        drift_strength=1.0,
    )
    with engine.begin() as connection:
        write_simulation(connection, simulate(params))


def run_night(dags, dag_id: str, night: date):
    """Run a nightly DAG for the data interval [night, night + 1 day)."""
    after = datetime.combine(night + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return dags[dag_id].test(logical_date=after)


def run_pipeline(dags, night: date) -> dict[str, str]:
    """Ingest, score and monitor one night; return each DAG run's final state."""
    return {
        dag_id: str(run_night(dags, dag_id, night).state)
        for dag_id in ("fraud_ingest", "fraud_score", "fraud_drift")
    }


def scalar(engine, query: str, **params):
    with engine.connect() as connection:
        return connection.execute(sa.text(query), params).scalar()


@pytest.fixture(scope="module")
def champion(dags, seeded) -> int:
    from fraud.config import load_settings
    from fraud.model.registry import champion_version

    run = dags["fraud_retrain"].test(run_conf={"as_of": "2026-02-20"})
    assert str(run.state) == "success"
    version = champion_version(load_settings())
    assert version is not None
    return version


@pytest.fixture(scope="module")
def normal_night(dags, champion) -> dict[str, str]:
    return run_pipeline(dags, NORMAL_NIGHT)


def test_retraining_bootstraps_a_registered_champion(engine, champion: int) -> None:
    decision = scalar(
        engine,
        "select decision from monitoring.model_decisions where challenger_version = :version",
        version=champion,
    )
    assert decision == "bootstrapped"


def test_champion_run_logs_metrics_baselines_and_artifacts(champion: int) -> None:
    from fraud.config import load_settings
    from fraud.model.artifacts import PLOTS
    from fraud.model.money import FIGURES
    from fraud.model.registry import client

    settings = load_settings()
    mlflow_client = client(settings)
    version = mlflow_client.get_model_version(settings.model_name, str(champion))
    run = mlflow_client.get_run(version.run_id)
    for metric in ("auc_roc", "average_precision", "card_precision_at_100", "brier_score"):
        assert 0.0 <= run.data.metrics[metric] <= 1.0
        assert f"baseline_logistic_regression_{metric}" in run.data.metrics
        assert f"baseline_amount_rule_{metric}" in run.data.metrics
    metrics = run.data.metrics
    for prefix in ("", "baseline_logistic_regression_", "baseline_amount_rule_"):
        money = {name: metrics[f"{prefix}{name}_within_capacity"] for name in FIGURES}
        assert money["detected_amount"] + money["missed_amount"] == pytest.approx(
            metrics[f"{prefix}fraud_amount_within_capacity"]
        )
        assert money["alerted_cards_fraud"] <= money["alerted_cards"]
        assert min(money.values()) >= 0.0
    assert metrics["fraud_cards"] > 0
    assert "training_fingerprint" in run.data.params
    artifacts = {item.path for item in mlflow_client.list_artifacts(version.run_id, "evaluation")}
    assert {f"evaluation/{name}" for name in PLOTS} <= artifacts
    assert version.aliases == ["champion"]


def test_champion_run_logs_its_windows_as_dataset_inputs(champion: int) -> None:
    from fraud.config import load_settings
    from fraud.dates import day_span, parse_moment
    from fraud.model.registry import client

    settings = load_settings()
    mlflow_client = client(settings)
    run = mlflow_client.get_run(
        mlflow_client.get_model_version(settings.model_name, str(champion)).run_id
    )
    params = run.data.params
    inputs = {
        {tag.key: tag.value for tag in item.tags}["mlflow.data.context"]: item.dataset
        for item in run.inputs.dataset_inputs
    }
    assert set(inputs) == {"training", "validation"}
    for context, prefix, rows in (
        ("training", "train", params["training_rows"]),
        ("validation", "validation", params["validation_rows"]),
    ):
        days = day_span(
            parse_moment(params[f"{prefix}_start"]), parse_moment(params[f"{prefix}_end"])
        )
        assert inputs[context].name.startswith(f"{context} {days}, labels before")
        source = json.loads(inputs[context].source)["tags"]
        assert (source["start"], source["end"], source["label_cutoff"]) == (
            params[f"{prefix}_start"],
            params[f"{prefix}_end"],
            params["label_cutoff"],
        )
        assert source["rows"] == rows and int(source["frauds"]) > 0
        assert json.loads(inputs[context].profile)["num_rows"] == int(rows)


def test_champion_run_has_one_child_run_per_search_candidate(champion: int) -> None:
    from fraud.config import load_settings
    from fraud.model.registry import client, download_run_file

    settings = load_settings()
    mlflow_client = client(settings)
    run = mlflow_client.get_run(
        mlflow_client.get_model_version(settings.model_name, str(champion)).run_id
    )
    search_log = json.loads(
        download_run_file(settings, run.info.run_id, "evaluation/search_log.json").read_text()
    )
    children = mlflow_client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert len(children) == len(search_log) >= 1
    by_name = {child.info.run_name: child for child in children}
    for number, candidate in enumerate(search_log, start=1):
        child = by_name[f"candidate-{number}"]
        for key in ("num_leaves", "min_child_samples", "learning_rate", "scale_pos_weight"):
            assert float(child.data.params[key]) == candidate[key]
        assert child.data.metrics["rounds"] == candidate["rounds"]
    chosen = [child for child in children if child.data.tags["chosen"] == "true"]
    assert len(chosen) == 1
    assert chosen[0].data.params["num_leaves"] == run.data.params["lgbm_num_leaves"]


def test_champion_version_describes_its_windows_metrics_and_decision(champion: int) -> None:
    from fraud.config import load_settings
    from fraud.dates import day_span, parse_moment
    from fraud.model.registry import client

    settings = load_settings()
    mlflow_client = client(settings)
    version = mlflow_client.get_model_version(settings.model_name, str(champion))
    params = mlflow_client.get_run(version.run_id).data.params
    metrics = mlflow_client.get_run(version.run_id).data.metrics
    for prefix in ("train", "validation"):
        days = day_span(
            parse_moment(params[f"{prefix}_start"]), parse_moment(params[f"{prefix}_end"])
        )
        assert days in version.description
    assert f"AUC {metrics['auc_roc']:.3f}" in version.description
    assert (
        f"AP {metrics['baseline_logistic_regression_average_precision']:.3f}" in version.description
    )
    assert "Gate decision: bootstrapped (no champion existed" in version.description


def test_nightly_dags_succeed(normal_night: dict[str, str]) -> None:
    assert normal_night == {
        "fraud_ingest": "success",
        "fraud_score": "success",
        "fraud_drift": "success",
    }


def test_every_validated_transaction_is_scored_by_the_champion(
    engine, champion: int, normal_night
) -> None:
    day = {"start": NORMAL_NIGHT, "end": NORMAL_NIGHT + timedelta(days=1)}
    raw = scalar(
        engine,
        "select count(*) from raw.transactions where tx_datetime >= :start and tx_datetime < :end",
        **day,
    )
    counts = sa.text(
        "select count(*), count(distinct model_version), min(model_version),"
        " count(*) filter (where is_alert), count(*) filter (where is_alert and reason_1 is null)"
        " from scoring.transaction_scores where tx_datetime >= :start and tx_datetime < :end"
    )
    with engine.connect() as connection:
        scored, versions, version, alerts, unexplained = connection.execute(counts, day).one()
    assert raw > 0
    assert scored == raw
    assert (versions, version) == (1, champion)
    assert alerts >= 1
    assert unexplained == 0


def test_ledger_accounts_for_every_row(engine, normal_night) -> None:
    with engine.connect() as connection:
        extracted, validated, quarantined = connection.execute(
            sa.text(
                "select extracted_count, validated_count, quarantined_count"
                " from quality.validation_run where data_interval_start = :start"
                " order by checked_at desc limit 1"
            ),
            {"start": NORMAL_NIGHT},
        ).one()
    assert extracted == validated + quarantined
    assert extracted > 0


def test_drift_rows_cover_every_monitored_column(engine, normal_night) -> None:
    from fraud.model.reference import DRIFT_COLUMNS

    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "select feature, band, rows_compared, report_path from monitoring.feature_drift"
                " where drift_date = :night"
            ),
            {"night": NORMAL_NIGHT},
        ).all()
    assert {row.feature for row in rows} == set(DRIFT_COLUMNS)
    assert all(row.rows_compared > 0 for row in rows)
    from pathlib import Path

    report = Path(rows[0].report_path)
    assert report.exists() and "<html" in report.read_text()[:2000].lower()


def test_rerunning_a_night_replaces_its_rows(engine, dags, normal_night) -> None:
    query = (
        "select count(*), count(distinct transaction_id) from scoring.transaction_scores"
        " where tx_datetime >= :start and tx_datetime < :end"
    )
    day = {"start": NORMAL_NIGHT, "end": NORMAL_NIGHT + timedelta(days=1)}
    with engine.connect() as connection:
        before = connection.execute(sa.text(query), day).one()
    assert str(run_night(dags, "fraud_ingest", NORMAL_NIGHT).state) == "success"
    assert str(run_night(dags, "fraud_score", NORMAL_NIGHT).state) == "success"
    with engine.connect() as connection:
        after = connection.execute(sa.text(query), day).one()
    assert after == before
    assert after[0] == after[1]


@pytest.fixture(scope="module")
def drifted(dags, normal_night) -> list[dict[str, str]]:
    return [run_pipeline(dags, night) for night in DRIFTED_NIGHTS]


def test_drifted_nights_reach_the_alert_band(engine, drifted) -> None:
    assert all(states["fraud_drift"] == "success" for states in drifted)
    alerts = scalar(
        engine,
        "select count(*) from monitoring.feature_drift where drift_date = :night and band = 'alert'",
        night=DRIFTED_NIGHTS[0],
    )
    assert alerts >= 1


def test_drift_opens_exactly_one_pending_request(engine, drifted) -> None:
    with engine.connect() as connection:
        requests = connection.execute(
            sa.text("select drift_date, status from monitoring.retraining_requests")
        ).all()
    assert [(row.drift_date, row.status) for row in requests] == [(DRIFTED_NIGHTS[0], "pending")]


def test_asset_event_queues_the_retraining_dag(airflow_engine, drifted) -> None:
    with airflow_engine.connect() as connection:
        events = connection.execute(
            sa.text(
                "select e.extra from asset_event as e join asset as a on a.id = e.asset_id"
                " where a.uri = :uri"
            ),
            {"uri": RETRAINING_ASSET_URI},
        ).all()
        queued = connection.execute(
            sa.text(
                "select count(*) from asset_dag_run_queue as q join asset as a"
                " on a.id = q.asset_id where a.uri = :uri and q.target_dag_id = 'fraud_retrain'"
            ),
            {"uri": RETRAINING_ASSET_URI},
        ).scalar()
    assert len(events) == 1
    assert events[0].extra["drift_date"] == DRIFTED_NIGHTS[0].isoformat()
    assert queued == 1


def test_retraining_after_drift_registers_a_new_version(engine, dags, champion, drifted) -> None:
    from fraud.config import load_settings
    from fraud.model.registry import client

    run = dags["fraud_retrain"].test()
    assert str(run.state) == "success"
    settings = load_settings()
    versions = client(settings).search_model_versions(f"name = '{settings.model_name}'")
    assert max(int(version.version) for version in versions) > champion
    with engine.connect() as connection:
        status = connection.execute(
            sa.text("select status, completed_by_run_id from monitoring.retraining_requests")
        ).one()
        decision = connection.execute(
            sa.text(
                "select decision, reason from monitoring.model_decisions"
                " order by decided_at desc limit 1"
            )
        ).one()
    assert status.status == "done" and status.completed_by_run_id == run.run_id
    assert decision.decision in {"promoted", "rejected"}
    assert "average_precision" in decision.reason


def test_failed_batch_fails_the_run_and_raises_an_alert(engine, dags, champion) -> None:
    run = run_night(dags, "fraud_ingest", EMPTY_NIGHT)
    assert str(run.state) == "failed"
    with engine.connect() as connection:
        ledger = connection.execute(
            sa.text(
                "select status, failures::text from quality.validation_run"
                " where data_interval_start = :night"
            ),
            {"night": EMPTY_NIGHT},
        ).one()
        alert = connection.execute(
            sa.text(
                "select kind, severity, message from monitoring.alerts"
                " where dag_id = 'fraud_ingest' and task_id = 'validate_batch'"
            )
        ).one()
        staged = scalar(
            engine,
            "select count(*) from staging.transactions where tx_datetime >= :night",
            night=EMPTY_NIGHT,
        )
    assert ledger.status == "failed"
    assert "expect_table_row_count_to_be_between" in ledger.failures
    assert alert.severity == "critical"
    assert "expect_table_row_count_to_be_between" in alert.message
    assert staged == 0
