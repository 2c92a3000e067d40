"""The tasks' buttons in the Airflow UI: "Data Docs", "Drift report" and "MLflow run".

The real DAG files are parsed and serialized as the dag-processor does: each link sits on the
task that produces it and on no other. A DAG of one task then runs under ``dag.test()`` against
the real Airflow metadata database: the task records its link, Airflow stores what ``get_link``
answers when the task ends, and the serialized task, as the api-server loads it, returns that URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DAGS = Path(__file__).resolve().parents[3] / "dags"
EXPECTED = {
    ("fraud_ingest", "validate_batch"): {"Data Docs"},
    ("fraud_drift", "write_drift_report"): {"Drift report"},
    ("fraud_retrain", "train_challenger"): {"MLflow run"},
}


@pytest.fixture(scope="module")
def serialized(airflow_db: None) -> dict[tuple[str, str], set[str]]:
    """Every task of the fraud DAGs with the names of the links its serialized form declares."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    links = {}
    for dag_id, dag in bag.dags.items():
        for task in DagSerialization.to_dict(dag)["dag"]["tasks"]:
            encoded = task["__var"]
            links[(dag_id, encoded["task_id"])] = set(encoded.get("_operator_extra_links", {}))
    return links


@pytest.mark.parametrize(("task", "names"), sorted(EXPECTED.items()))
def test_a_task_that_produces_a_link_declares_its_button(
    serialized: dict[tuple[str, str], set[str]], task: tuple[str, str], names: set[str]
) -> None:
    assert serialized[task] == names


def test_no_other_task_has_a_button(serialized: dict[tuple[str, str], set[str]]) -> None:
    ours = set().union(*EXPECTED.values())
    assert {task for task, names in serialized.items() if names & ours} == set(EXPECTED)


def _register(built) -> None:
    """Write a DAG defined here to the metadata database, as the dag-processor writes a file's."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.commit()
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(built)], {}, None, set(), session
        )


def test_the_button_opens_the_link_the_task_recorded(
    airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.sdk import dag, task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session

    from fraud.config import load_settings
    from fraud_airflow.links import DriftReportLink, link_drift_report, with_links

    monkeypatch.setenv("FRAUD_BASE_URL", "https://airflow.example.org/ops")
    expected = "https://airflow.example.org/ops/fraud-monitoring/reports/2026-03-01.html"

    @dag(dag_id="fraud_links_test", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC))
    def links_test():
        @task
        def write_report() -> str:
            return link_drift_report(load_settings(), "2026-03-01")

        @task
        def without_link() -> None:
            return None

        with_links(write_report(), DriftReportLink()) >> without_link()

    built = links_test()
    _register(built)
    run = built.test()
    assert str(run.state) == "success"

    loaded = DagSerialization.from_dict(DagSerialization.to_dict(built))
    with create_session() as session:
        instances = {
            ti.task_id: ti for ti in session.get(DagRun, run.id).get_task_instances(session=session)
        }
    report = loaded.get_task("write_report")
    assert report.extra_links == ["Drift report"]
    assert report.get_extra_links(instances["write_report"], "Drift report") == expected
    assert loaded.get_task("without_link").extra_links == []
